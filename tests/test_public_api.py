"""The public API: every package lists its exports in ``__all__`` and every one resolves.

Packages that must import without torch (``rnnlab``, ``rnnlab.experiments``, and
``rnnlab.models`` for the pure ``arrangements``) load their names lazily from a table,
``_EXPORTS``, and repeat them as explicit imports in an ``if TYPE_CHECKING:`` block for IDEs
and type checkers. The two lists are parsed and compared here, so they cannot drift apart.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
import textwrap

import pytest

PACKAGES = (
    "rnnlab",
    "rnnlab.data",
    "rnnlab.models",
    "rnnlab.train",
    "rnnlab.experiments",
    "rnnlab.diagnostics",
    "rnnlab.bench",
    "rnnlab.cli",
)


def package_tree(package: str) -> ast.Module:
    return ast.parse(inspect.getsource(importlib.import_module(package)))


def is_lazy(package: str) -> bool:
    """Whether the package's ``__init__`` builds its exports with ``rnnlab._lazy.attach``."""
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "attach"
        for node in ast.walk(package_tree(package))
    )


LAZY_PACKAGES = tuple(package for package in PACKAGES if is_lazy(package))


def type_checking_imports(tree: ast.Module) -> list[ast.ImportFrom]:
    """The ``from ... import ...`` statements of the module's top-level TYPE_CHECKING blocks."""
    imports = []
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) in (
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        ):
            imports += [statement for statement in node.body
                        if isinstance(statement, ast.ImportFrom)]
    return imports


def lazy_params():
    return list(LAZY_PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_lists_its_exports_once(package):
    exports = importlib.import_module(package).__all__
    assert exports, f"{package}.__all__ is empty"
    duplicates = sorted({name for name in exports if exports.count(name) > 1})
    assert not duplicates, f"{package}.__all__ lists {duplicates} more than once"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_resolves(package):
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names {missing}, which do not resolve"


def test_the_lazy_packages_are_the_ones_that_must_stay_torch_free():
    assert set(LAZY_PACKAGES) == {"rnnlab", "rnnlab.experiments", "rnnlab.models"}


@pytest.mark.parametrize("package", lazy_params())
def test_type_checking_block_lists_exactly_the_lazy_names(package):
    module = importlib.import_module(package)
    imports = type_checking_imports(package_tree(package))
    assert imports, f"{package}/__init__.py has no `if TYPE_CHECKING:` imports"
    seen: dict[str, str] = {}
    for statement in imports:
        for alias in statement.names:
            # `from m import X as X` is the re-export form every type checker honours.
            assert alias.asname == alias.name, (
                f"{package}: write `from {statement.module} import {alias.name} as "
                f"{alias.name}` so type checkers treat it as a re-export"
            )
            seen[alias.name] = statement.module
    lazy = dict(module._EXPORTS)
    assert sorted(seen) == sorted(lazy), (
        f"{package}: only in the TYPE_CHECKING block {sorted(set(seen) - set(lazy))}, "
        f"only in _EXPORTS {sorted(set(lazy) - set(seen))}"
    )
    moved = {name: (seen[name], lazy[name]) for name in lazy if seen[name] != lazy[name]}
    assert not moved, f"{package}: TYPE_CHECKING vs _EXPORTS modules differ: {moved}"


def test_lazy_packages_import_and_list_their_names_without_torch():
    # A fresh interpreter: the result store and the report rely on this (STYLE.md).
    code = textwrap.dedent(
        f"""
        import importlib, sys
        for package in {list(LAZY_PACKAGES)!r}:
            dir(importlib.import_module(package))
        print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
