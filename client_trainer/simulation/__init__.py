"""The simulation: the local demo orchestrator and the commands every deployment runs."""
