"""Issue 14, "errors in CLI terms": every refusal names the option a user typed and the fix.

Each test invokes the CLI as a user would (``rnnlab.cli.main`` or a subprocess) and asserts the
exit code and the message. No test touches the network: ``--download`` is served from a local
``file://`` URL through the real download path (urllib, sha256 check, cache directory).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import rnnlab.data.imdb as imdb_module
from rnnlab.cli import main

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("RNNLAB_DATA_DIR") or REPO.parent / "shared" / "data")
SHARED_IMDB = SHARED_DATA / "imdb" / "aclImdb_labeled.tar.gz"
TINY = ["--vocab-size", "50", "--maxlen", "8", "--embedding", "3", "--hidden", "4",
        "--dense", "0", "--epochs", "1", "--no-progress", "--threads", "1"]


@pytest.fixture
def no_data_anywhere(monkeypatch, tmp_path) -> Path:
    """An empty cache and no data folder (RNNLAB_DATA_DIR="" turns off the checkout's)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RNNLAB_CACHE", str(cache))
    monkeypatch.setenv("RNNLAB_DATA_DIR", "")
    return cache


def _error(capsys) -> str:
    return capsys.readouterr().err


# -- --vocab-size 1 says --vocab-size ------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["train", "--vocab-size", "1", "--out", "OUT"],
    ["lm", "nextword", "--vocab-size", "1"],
])
def test_a_too_small_vocab_size_names_the_option_not_max_size(argv, tmp_path, capsys):
    argv = [str(tmp_path / "run") if part == "OUT" else part for part in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    message = _error(capsys)
    assert "argument --vocab-size: must be an integer >=" in message
    assert "'1'" in message and "max_size" not in message
    assert not (tmp_path / "run").exists()


# -- one-class data names the file and the label column ------------------------------------------
def test_one_class_data_names_the_file_and_the_label_column(tmp_path, capsys):
    data = tmp_path / "reviews.csv"
    data.write_text("review,stars\n" + "".join(f"text {i},5\n" for i in range(6)))
    code = main(["train", "--data", str(data), "--text-field", "review", "--label-field",
                 "stars", "--out", str(tmp_path / "run"), *TINY])
    assert code == 2
    message = _error(capsys)
    assert str(data) in message and "label field 'stars'" in message
    assert "one class, '5'" in message and "--label-field" in message
    assert "num_classes" not in message and not (tmp_path / "run").exists()


# -- a missing IMDB: --download, or point at a copy -----------------------------------------------
def test_missing_imdb_says_how_to_download_it_or_point_at_a_copy(no_data_anywhere, tmp_path,
                                                                 capsys):
    code = main(["train", "--data", "imdb", "--out", str(tmp_path / "run"), *TINY])
    assert code == 2
    message = _error(capsys)
    assert "--data imdb) was not found" in message
    assert "--download" in message and "--data PATH/aclImdb_v1.tar.gz" in message
    assert "RNNLAB_DATA_DIR" in message and str(no_data_anywhere) in message
    assert not (tmp_path / "run").exists()


def test_compare_refuses_a_missing_imdb_before_writing_a_store(no_data_anywhere, tmp_path,
                                                               capsys):
    code = main(["compare", "--profile", "quick", "--data", "imdb", "--out",
                 str(tmp_path / "study"), "--no-progress", "--jobs", "1"])
    assert code == 2
    assert "--download" in _error(capsys)
    assert not (tmp_path / "study").exists()


def _tiny_imdb_archive(path: Path) -> Path:
    """An aclImdb_v1.tar.gz in the official layout, 8 reviews per split and label."""
    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "test"):
            for label, words in (("neg", "awful dull boring"), ("pos", "great fine moving")):
                for index in range(8):
                    data = f"{words} film number {index}".encode()
                    info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{index}_{index % 10}.txt")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return path


def _serve_from(monkeypatch, archive: Path, sha256: str | None = None) -> None:
    """Point the real IMDB download at a local file (urllib reads file:// URLs)."""
    digest = sha256 or hashlib.sha256(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(imdb_module, "IMDB_URL", archive.resolve().as_uri())
    monkeypatch.setattr(imdb_module, "IMDB_SHA256", digest)


def test_download_flag_fetches_imdb_into_the_cache_then_trains(no_data_anywhere, tmp_path,
                                                              monkeypatch, capsys):
    _serve_from(monkeypatch, _tiny_imdb_archive(tmp_path / "served.tar.gz"))
    code = main(["train", "--data", "imdb", "--download", "--out", str(tmp_path / "run"),
                 *TINY])
    assert code == 0, _error(capsys)
    assert (no_data_anywhere / "aclImdb_v1.tar.gz").is_file()
    assert "imdb: 2 classes" in capsys.readouterr().out
    # the copy in the cache is found next time without --download
    assert main(["train", "--data", "imdb", "--out", str(tmp_path / "run2"), *TINY]) == 0


def test_a_download_with_the_wrong_checksum_leaves_nothing_behind(no_data_anywhere, tmp_path,
                                                                 monkeypatch, capsys):
    _serve_from(monkeypatch, _tiny_imdb_archive(tmp_path / "served.tar.gz"), sha256="0" * 64)
    code = main(["train", "--data", "imdb", "--download", "--out", str(tmp_path / "run"),
                 *TINY])
    assert code == 2
    assert "sha256 of the download" in _error(capsys)
    assert not list(no_data_anywhere.glob("aclImdb*")) and not (tmp_path / "run").exists()


@pytest.mark.skipif(not SHARED_IMDB.is_file(), reason=f"needs {SHARED_IMDB}")
def test_download_of_the_shared_imdb_copy_is_checked_and_cached(no_data_anywhere, monkeypatch):
    from rnnlab.data.datasets import download_dataset

    # the checksum published in ../shared/data/README.md, not one computed here
    _serve_from(monkeypatch, SHARED_IMDB,
                "4d287d9158d23bf982a1b4724b257c3aeb6938e85108771c63405ca60174e2c4")
    location = download_dataset("imdb", progress=False)
    assert location == no_data_anywhere / "aclImdb_v1.tar.gz"
    assert location.stat().st_size == SHARED_IMDB.stat().st_size
    assert imdb_module.find_imdb() == location


@pytest.mark.parametrize("data, message", [
    ("imdb-short", "cannot be downloaded (it is bundled with rnnlab)"),
    ("PATH", "--download fetches a named dataset ['imdb']"),
])
def test_download_of_something_without_a_download_is_refused(data, message, tmp_path, capsys):
    if data == "PATH":
        data = str(tmp_path / "mine.csv")
        Path(data).write_text("text,label\na,x\nb,y\n")
    code = main(["train", "--data", data, "--download", "--out", str(tmp_path / "run"), *TINY])
    assert code == 2
    assert message in _error(capsys)


# -- RNNLAB_DATA_DIR: documented, and the checkout's ../shared/data found without make ----------
@pytest.mark.parametrize("command", [["train"], ["evaluate"], ["compare"], ["lm", "nextword"]])
def test_help_of_commands_that_choose_data_documents_the_data_locations(command, capsys):
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "$RNNLAB_DATA_DIR" in text and "../shared/data" in text and "--download" in text


def test_rnnlab_help_lists_the_environment_variables(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "RNNLAB_DATA_DIR, a folder holding imdb/aclImdb*.tar.gz" in text
    assert "RNNLAB_CACHE" in text


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"needs {SHARED_DATA}")
def test_the_checkouts_shared_data_is_found_without_the_environment_variable(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "RNNLAB_DATA_DIR"}
    env["RNNLAB_CACHE"] = str(tmp_path / "empty-cache")
    env["HOME"] = str(tmp_path)  # no ~/nltk_data either
    code = ("from rnnlab.data.locations import data_dir; from rnnlab.data.brown import "
            "find_brown; print(data_dir()); print(find_brown())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120, check=True)
    found_dir, brown = result.stdout.splitlines()
    assert Path(found_dir).resolve() == (REPO.parent / "shared" / "data").resolve()
    assert Path(brown) == Path(found_dir) / "brown" / "brown.tar.gz"


def test_readme_documents_the_data_folder_variable():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "RNNLAB_DATA_DIR" in readme and "without `make`" in readme


# -- YAML studies after `pip install rnnlab` -----------------------------------------------------
def test_a_yaml_study_without_pyyaml_names_the_extra_to_install(tmp_path, monkeypatch, capsys):
    study = tmp_path / "study.yaml"
    study.write_text("name: y\nruns: 1\nepochs: 1\n")
    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` raises ImportError
    code = main(["compare", "--study", str(study), "--out", str(tmp_path / "s"),
                 "--no-progress"])
    assert code == 2
    message = _error(capsys)
    assert str(study) in message and "pip install 'rnnlab[yaml]'" in message
    assert not (tmp_path / "s").exists()


def test_the_yaml_extra_is_declared_in_pyproject():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert any(spec.lower().startswith("pyyaml")
               for spec in project["optional-dependencies"]["yaml"])
