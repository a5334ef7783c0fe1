"""The two floors (kernel below models below the web shell) hold: no import points upward, none hides in a function."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package -> the first-party packages it may import (besides itself)
MAY_IMPORT = {
    "kernel": set(),
    "models": {"kernel"},
    "app.admin": {"kernel", "models"},
    "admin_views": {"kernel", "models", "app.admin"},
    "seeds": {"kernel", "models"},
    "app": {"kernel", "models", "admin_views", "seeds", "app.admin"},
}
FIRST_PARTY = ("kernel", "models", "app", "admin_views", "seeds")


def _package_of(module: str) -> str:
    return "app.admin" if module.startswith("app.admin") else module.split(".")[0]


def _modules():
    for pkg in FIRST_PARTY:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            yield ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"), path


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield node, [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node, [node.module]


@pytest.mark.parametrize("module,path", list(_modules()), ids=lambda v: v if isinstance(v, str) else "")
def test_no_import_points_upward(module, path):
    mine = _package_of(module)
    allowed = MAY_IMPORT[mine] | {mine}
    for _, names in _imports(ast.parse(path.read_text())):
        for name in names:
            if name.split(".")[0] in FIRST_PARTY:
                target = _package_of(name)
                assert target in allowed, \
                    f"{module} imports {name}: {mine} may import only {sorted(allowed)}"


def test_no_import_hides_in_a_function():
    """Function-local imports existed to dodge cycles; the layers make them unnecessary."""
    hidden = []
    for module, path in _modules():
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        hidden.append(f"{module}:{node.lineno}")
    assert hidden == [], hidden
