import ast
from pathlib import Path

import pytest

import rnnlab.data
from rnnlab.data import DataError, TextDataset, dataset_names, load_dataset, register_dataset


def test_every_public_name_is_exported():
    for name in rnnlab.data.__all__:
        assert hasattr(rnnlab.data, name), name
    assert sorted(rnnlab.data.__all__) == sorted(set(rnnlab.data.__all__))


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:  # top level only: lazy imports inside functions are allowed
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


# Modules whose job is to produce batch tensors may import torch at the top.
TENSOR_MODULES = {"tbptt.py"}


def test_data_layer_imports_no_other_rnnlab_package_and_torch_only_for_tensors():
    package = Path(rnnlab.data.__file__).parent
    for module in package.glob("*.py"):
        for name in _module_level_imports(module):
            top = name.split(".")[0]
            if module.name not in TENSOR_MODULES:
                assert top not in ("torch", "keras"), f"{module.name} imports {name}"
            if top == "rnnlab":
                # rnnlab._config is a leaf (it imports nothing of rnnlab) below every layer
                assert name.startswith("rnnlab.data") or name == "rnnlab._config", (
                    f"{module.name} imports {name}")


def test_error_types_are_value_and_file_not_found_errors():
    assert issubclass(rnnlab.data.DataError, ValueError)
    assert issubclass(rnnlab.data.DataNotFoundError, FileNotFoundError)
    assert issubclass(rnnlab.data.DataNotFoundError, DataError)


def test_registry_lists_builtin_names_and_accepts_new_ones(monkeypatch):
    import rnnlab.data.datasets as registry

    assert {"imdb", "imdb-short", "brown-genre"} <= set(dataset_names())
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    sentinel = object.__new__(TextDataset)
    register_dataset("mine", lambda **kwargs: sentinel)
    assert load_dataset("mine") is sentinel
    with pytest.raises(DataError, match="already registered"):
        register_dataset("mine", lambda **kwargs: sentinel)


def test_load_dataset_drops_none_options_and_rejects_ones_the_source_lacks():
    data = load_dataset("imdb-short", valid=None, text_field=None, seed=0)
    assert data.name == "imdb-short"
    with pytest.raises(DataError, match=r"'imdb-short' does not take \['text_field'\]"):
        load_dataset("imdb-short", text_field="body")
