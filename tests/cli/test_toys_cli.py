"""`rnnlab toys` on bad input: one clear line naming the option and the fix, nothing written."""

from __future__ import annotations

import pytest

from rnnlab.cli import main


@pytest.mark.parametrize(("argv", "message"), [
    (["adding", "--T", "1"], "T must be an int in [2, "),
    (["copy", "--T", "0"], "copy memory waits T - 1 blanks"),
    (["adding", "--T", "two"], "--T must be comma-separated integers"),
    (["quotes", "--T", "100"], "--T is for adding and copy"),
    (["adding", "--cells", "lstm,transformer"], "cell must be one of"),
    (["adding", "--data", "book.txt"], "--data is for quotes"),
    (["adding", "--steps", "150"], "steps (150) must be a multiple of eval_every (100)"),
    (["quotes", "--data", "no/such/book.txt"], "neither 'brown' nor a text file"),
])
def test_bad_toy_options_exit_2_with_one_line_and_write_nothing(argv, message, tmp_path,
                                                                  capsys):
    out = tmp_path / "study"
    assert main(["toys", *argv, "--out", str(out), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("rnnlab toys: error: ") and message in error
    assert len(error.strip().splitlines()) == 1
    assert not out.exists()


def test_an_unknown_task_is_a_usage_error_listing_the_tasks(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["toys", "parity"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'parity'" in error
    assert all(task in error.splitlines()[-1] for task in ("adding", "copy", "quotes"))


def test_compare_names_the_bundled_studies_when_a_study_file_is_missing(capsys):
    assert main(["compare", "--study", "toys-adding-typo", "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "study file not found: toys-adding-typo" in error and "toys-adding-quick" in error
