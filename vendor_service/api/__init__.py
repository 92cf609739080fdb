"""HTTP layer: routes, dependencies, the one error handler, ASGI middleware."""
