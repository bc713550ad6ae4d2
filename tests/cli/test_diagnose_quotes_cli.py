"""``rnnlab diagnose quotes`` as a user runs it on a trained quotes run: the same search the
training ended with (checked in-process against find_quote_units), on the held-out text or
the user's file, and bad input named with nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.data.toys import ToyTaskConfig
from rnnlab.diagnostics.quote_units import find_quote_units
from rnnlab.models.toys import ToyModelConfig
from rnnlab.train.checkpoint import save_checkpoint
from rnnlab.train.toy_run import ToyTrainConfig, load_toy_run, train_toy
from rnnlab.train.toy_tasks import build_toy_data
from tests.cli.helpers import expect_usage_error

WORDS = ["he", "said", "then", "left", "yes", "no", "way", "fine", "the", "door"]


def _book(path, paragraphs: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(paragraphs):
        narration = " ".join(rng.choice(WORDS, size=rng.integers(10, 20)))
        speech = " ".join(rng.choice(WORDS, size=rng.integers(3, 8)))
        parts.append(f'{narration} "{speech}" {narration}.')
    path.write_text("\n\n".join(parts), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def quotes_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quotes")
    task = ToyTaskConfig("quotes", source=str(_book(folder / "book.txt")), window=20)
    data = build_toy_data(task)
    model = ToyModelConfig("quotes", cell="lstm", hidden_size=8, classes=data.classes,
                           embedding_size=4)
    run = folder / "runs" / "quotes" / "lstm" / "run0"
    train_toy(model, data, ToyTrainConfig(steps=20, eval_every=10, batch_size=4,
                                          eval_batch_size=16), seed=0, out_dir=run)
    return run


def test_repeats_the_search_on_the_held_out_text(quotes_run, tmp_path, capsys):
    out = tmp_path / "again"
    assert main(["diagnose", "quotes", str(quotes_run), "--out", str(out),
                 "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    saved = load_toy_run(quotes_run)
    assert saved.records == 3 and saved.seed == 0  # records 0, 10 and 20 steps
    found = find_quote_units(saved.model, build_toy_data(ToyTaskConfig.from_dict(saved.task)))
    units = json.loads((out / "units.json").read_text(encoding="utf-8"))
    assert [u["name"] for u in units["units"]] == list(found.names[:10])
    assert units["units"][0]["auroc"] == pytest.approx(found.scores[0].auroc)
    assert units["selected_on_valid"]["name"] == found.selected.name
    assert units["probe"]["auroc"] == pytest.approx(found.probe.auroc)
    assert sorted(p.name for p in out.iterdir()) == ["states.html", "units.json", "units.png"]
    assert f"best unit:          {found.names[0]}" in printed
    assert f"selected on valid:  {found.selected.name}" in printed
    assert "linear probe:       all 16 units" in printed  # 8 h + 8 c


def test_searches_the_users_own_text_and_counts_what_the_model_cannot_read(quotes_run,
                                                                           tmp_path, capsys):
    story = tmp_path / "story.txt"
    story.write_text('then he left the door "yes" he said "no way" fine ÿ', encoding="utf-8")
    out = tmp_path / "story"
    assert main(["diagnose", "quotes", str(quotes_run), "--file", str(story), "--out",
                 str(out), "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    units = json.loads((out / "units.json").read_text(encoding="utf-8"))
    assert units["held_out_chars"] == len(story.read_text(encoding="utf-8"))
    # open after reading: each opening mark and the 3 + 6 characters of "yes", "no way"
    assert units["fraction_inside"] == pytest.approx(11 / 51)
    assert "note: 1 of 51 characters" in printed and f"characters of {story}" in printed


def _expect_error(args, message, capsys, tmp_path):
    return expect_usage_error(["diagnose", "quotes", *args], message, capsys,
                              tmp_path / "never")


def test_bad_input_is_named_and_nothing_is_written(quotes_run, tmp_path, capsys):
    _expect_error([str(tmp_path / "missing")], "does not exist; pass a quotes run's", capsys,
                  tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    error = _expect_error([str(empty)], f"RUN_DIR {str(empty)!r}", capsys, tmp_path)
    assert "no checkpoint.pt" in error
    other = tmp_path / "other"
    other.mkdir()
    save_checkpoint(other / "checkpoint.pt", {"format": "rnnlab.classifier-run/1"})
    _expect_error([str(other)], "is not a toy-task run (format 'rnnlab.classifier-run/1'",
                  capsys, tmp_path)
    no_quote, alien = tmp_path / "plain.txt", tmp_path / "alien.txt"
    no_quote.write_text("he said then he left", encoding="utf-8")
    alien.write_text("«ЖЖЖ»“ЖЖ”", encoding="utf-8")  # curly marks: not in the book
    _expect_error([str(quotes_run), "--file", str(no_quote)], "holds no quotation", capsys,
                  tmp_path)
    _expect_error([str(quotes_run), "--file", str(alien)],
                  "none of its characters is in the model's alphabet", capsys, tmp_path)
    _expect_error([str(quotes_run), "--file", str(tmp_path / "nope.txt")],
                  "does not exist; give a UTF-8 text file", capsys, tmp_path)


def test_a_run_of_another_task_is_refused(tmp_path, capsys):
    task = ToyTaskConfig("adding", T=10, eval_examples=8)
    run = tmp_path / "adding"
    train_toy(ToyModelConfig("adding", cell="gru", hidden_size=4), build_toy_data(task),
              ToyTrainConfig(steps=2, eval_every=2, batch_size=4), seed=0, out_dir=run)
    _expect_error([str(run)], "is a 'adding' run; the quote-unit search needs", capsys,
                  tmp_path)
