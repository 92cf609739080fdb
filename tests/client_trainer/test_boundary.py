"""client_trainer never imports vendor_service: at run time and in its source."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import client_trainer

PACKAGE_DIR = Path(client_trainer.__file__).parent


def _all_modules() -> list[str]:
    return [
        m.name
        for m in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="client_trainer.")
        if m.name != "client_trainer.__main__"
    ]


def test_importing_every_client_module_loads_no_vendor_module() -> None:
    modules = _all_modules()
    assert len(modules) > 20  # the walk really found the package
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'vendor_service')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def _imported_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            names.update(str(a.value) for a in node.args if isinstance(a, ast.Constant))
    return names


def test_no_client_source_file_imports_vendor_service() -> None:
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert files
    offenders = {
        str(path.relative_to(PACKAGE_DIR)): sorted(imported)
        for path in files
        if (
            imported := {
                n
                for n in _imported_names(ast.parse(path.read_text()))
                if n.split(".")[0] == "vendor_service"
            }
        )
    }
    assert offenders == {}
