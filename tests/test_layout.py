"""The library never imports the orchestration or tracking stack, so every stage runs without a server."""

import ast
import sys
from pathlib import Path

import pytest

import radimpress

FORBIDDEN = ("prefect", "mlflow")
LIBRARY = Path(radimpress.__file__).parent
MODULES = sorted(LIBRARY.rglob("*.py"))


def imported_modules(source: str) -> set[str]:
    """Top-level names of every module `source` imports: import, from-import, importlib and __import__ calls."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                names.add(node.args[0].value)
    return {name.split(".")[0] for name in names}


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def test_the_import_finder_sees_every_form():
    source = """
import prefect
import mlflow.tracking as tracking
from prefect.tasks import task
from . import sibling
def later():
    import importlib
    importlib.import_module("mlflow.pyfunc")
    __import__("prefect_aws")
"""
    assert imported_modules(source) == {"prefect", "mlflow", "importlib", "prefect_aws"}


def test_library_modules_are_found():
    names = {path.relative_to(LIBRARY).as_posix() for path in MODULES}
    assert {"config/schema.py", "modeling/train.py", "stages/store.py", "cli.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(LIBRARY)))
def test_library_module_imports_neither_prefect_nor_mlflow(path):
    forbidden = [m for m in imported_modules(path.read_text()) if m in FORBIDDEN or m.startswith(_PLUGIN_PREFIXES)]
    assert forbidden == []


_PLUGIN_PREFIXES = tuple(f"{name}_" for name in FORBIDDEN)  # prefect_aws, mlflow_export_import, ...


@pytest.mark.parametrize("folder", ["bench", "scripts", "flows", "tasks", "deployments"])
def test_no_script_shadows_a_standard_library_module(folder):
    """Python puts a script's folder first on sys.path: bench/tokenize.py once broke `import torch` there."""
    root = LIBRARY.parent / folder
    shadowing = [path.name for path in root.glob("*.py") if path.stem in sys.stdlib_module_names]
    assert shadowing == []
