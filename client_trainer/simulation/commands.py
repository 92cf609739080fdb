"""The command lines of the simulation's processes, written down once.

The local demo orchestrator spawns these, and every container in `docker-compose.yml` runs
exactly these (tests compare the two), so `make demo` and `docker compose up` run the same
programs. Strings only: this module must not import the vendor's code.

argv[0] is the interpreter as it is named inside the images; a local spawner replaces it with
its own interpreter (`sys.executable`), since a virtualenv's `python` need not be on PATH.
"""

from __future__ import annotations

PYTHON = "python"

# The vendor's REST service; --host/--port are appended (see `vendor_serve`).
VENDOR_SERVE = [PYTHON, "-m", "vendor_service", "serve"]
# One-shot: trains the offline world's CLIP teacher into ARTIFACTS_DIR (cached by config hash).
VENDOR_TRAIN = [PYTHON, "-m", "vendor_service", "train-vlm"]
# The client's whole demo: buys embeddings (VENDOR_URL) or starts everything locally.
CLIENT_DEMO = [PYTHON, "-m", "client_trainer", "demo"]

# Where the vendor listens inside a container (all interfaces of the container's own network).
CONTAINER_HOST = "0.0.0.0"
CONTAINER_PORT = 8000


def vendor_serve(host: str, port: int) -> list[str]:
    """The vendor's serve command on `host:port`."""
    return [*VENDOR_SERVE, "--host", host, "--port", str(port)]


def with_interpreter(command: list[str], executable: str) -> list[str]:
    """`command` run by `executable` instead of the image's `python`."""
    return [executable, *command[1:]]
