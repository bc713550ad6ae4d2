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
    (["quotes", "--lr-decay", "1.5"], "lr_decay must be a factor in (0, 1]"),
    (["quotes", "--lr-decay", "0.5", "--lr-decay-start", "-5"], "lr_decay_start must be a step"),
    (["quotes", "--layers", "101"], "layers must be an int in [1, 100]"),
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


def test_layer_and_schedule_options_reach_the_study_and_name_it_apart():
    import argparse

    from rnnlab.cli.toys import study_from_args

    def parsed(*extra: str) -> argparse.Namespace:
        parser = argparse.ArgumentParser()
        from rnnlab.cli import toys

        toys.register(parser.add_subparsers())
        return parser.parse_args(["toys", "quotes", *extra])

    plain = study_from_args(parsed())
    study = study_from_args(parsed("--layers", "2", "--lr", "0.002", "--lr-decay", "0.9",
                                   "--lr-decay-every", "500", "--lr-decay-start", "4000"))
    model = study.model_config("lstm", classes=50)
    training = study.train_config()
    assert model.layers == 2
    assert (training.lr, training.lr_decay, training.lr_decay_every, training.lr_decay_start) == (
        0.002, 0.9, 500, 4000)
    assert training.lr_at(4499) == 0.002 and training.lr_at(4500) == pytest.approx(0.0018)
    assert training.steps == plain.train_config().steps  # options not given stay the profile's
    assert study.name != plain.name and study.name.startswith(plain.name)


def test_cells_lengths_and_runs_keep_the_default_name_so_the_study_grows_in_place():
    import argparse

    from rnnlab.cli import toys
    from rnnlab.cli.toys import study_from_args

    def named(*extra: str) -> str:
        parser = argparse.ArgumentParser()
        toys.register(parser.add_subparsers())
        return study_from_args(parser.parse_args(["toys", "adding", *extra])).name

    plain = named()
    assert named("--T", "400") == named("--runs", "5", "--cells", "gru") == plain
    assert named("--T", "400", "--steps", "200") == named("--steps", "200") != plain


def test_the_help_table_of_profiles_is_the_bundled_profiles_row_by_row():
    """`rnnlab toys --help` writes the profiles out (importing them would import torch); a
    profile changed in toy_profiles.py without its row here fails this test."""
    from rnnlab.cli.toys import PROFILES_HELP
    from rnnlab.experiments.toy_profiles import TOY_PROFILES

    rows = {}
    for line in PROFILES_HELP.splitlines()[2:8]:
        task, profile, cells, lengths, runs, steps, hidden = line.split()
        rows[task if profile == "default" else f"{task}-quick"] = (
            tuple(cells.split(",")), () if lengths == "-" else tuple(map(int, lengths.split(","))),
            int(runs), int(steps), int(hidden))
    bundled = {name.removeprefix("toys-"): (config.cells, config.lengths, config.runs,
                                            config.training["steps"],
                                            config.model["hidden_size"])
               for name, config in TOY_PROFILES.items()}
    assert rows == bundled
    for config in TOY_PROFILES.values():  # the sentence under the table
        assert config.model.get("layers", 1) == 1
        assert (config.training["batch_size"], config.training["lr"]) == (32, 3e-3)


def test_help_names_what_each_left_out_option_takes(capsys):
    with pytest.raises(SystemExit):
        main(["toys", "--help"])
    out = capsys.readouterr().out
    assert "not set" not in out
    assert "adding  default  rnn_tanh,gru,lstm  50,100,200,400" in out  # kept as a table
