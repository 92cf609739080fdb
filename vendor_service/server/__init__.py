"""The running service: the app factory and its lifespan, worker processes, process set-up."""
