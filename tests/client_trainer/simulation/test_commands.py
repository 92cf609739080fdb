"""client_trainer.simulation.commands: command strings only, importable anywhere."""

from __future__ import annotations

import ast
import inspect

from client_trainer.simulation import commands


def test_imports_nothing_but_future_annotations() -> None:
    tree = ast.parse(inspect.getsource(commands))
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    assert all(isinstance(node, ast.ImportFrom) and node.module == "__future__" for node in imports)


def test_commands_are_python_module_invocations() -> None:
    for command in (commands.VENDOR_SERVE, commands.VENDOR_TRAIN, commands.CLIENT_DEMO):
        assert command[:2] == [commands.PYTHON, "-m"]
        assert all(isinstance(part, str) and part for part in command)


def test_vendor_serve_appends_host_and_port() -> None:
    assert commands.vendor_serve("127.0.0.1", 8123) == [
        *commands.VENDOR_SERVE,
        "--host",
        "127.0.0.1",
        "--port",
        "8123",
    ]


def test_with_interpreter_swaps_only_argv0() -> None:
    local = commands.with_interpreter(commands.CLIENT_DEMO, "/venv/bin/python")
    assert local == ["/venv/bin/python", *commands.CLIENT_DEMO[1:]]
    assert commands.CLIENT_DEMO[0] == commands.PYTHON, "the constant must not be mutated"
