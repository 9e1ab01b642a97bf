"""Dependencies point one way (DESIGN.md): accounts never imports invoices, payments or disputes."""

import ast
import pathlib

import accounts

FORBIDDEN = {"invoices", "payments", "disputes"}


def _imported_top_level_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_accounts_app_imports_no_app_that_depends_on_it():
    root = pathlib.Path(accounts.__file__).parent
    offenders = {
        str(path.relative_to(root)): sorted(_imported_top_level_modules(path) & FORBIDDEN)
        for path in root.rglob("*.py")
        if _imported_top_level_modules(path) & FORBIDDEN
    }
    assert offenders == {}
