"""Quote detection reads its text as char-rnn does: contiguous streams, the state carried
from window to window and through a checkpoint, held-out text scored in long rows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from rnnlab.data.toys import ToyTaskConfig
from rnnlab.models.toys import ToyModel, ToyModelConfig
from rnnlab.train.toy_run import ToyTrainConfig, train_toy
from rnnlab.train.toy_tasks import EVAL_ROW_CHARS, build_toy_data


def _book(tmp_path, paragraphs: int = 30, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    words = ["he", "said", "then", "left", "yes", "no", "way", "fine", "the", "door"]
    parts = []
    for _ in range(paragraphs):
        narration = " ".join(rng.choice(words, size=rng.integers(20, 40)))
        speech = " ".join(rng.choice(words, size=rng.integers(5, 15)))
        parts.append(f'{narration} "{speech}" {narration}.')
    path = tmp_path / "book.txt"
    path.write_text("\n\n".join(parts), encoding="utf-8")
    return str(path)


def _data(tmp_path, **options):
    return build_toy_data(ToyTaskConfig("quotes", source=_book(tmp_path), **options))


def test_each_row_of_a_pass_continues_its_stream_and_a_new_pass_moves_the_streams(tmp_path):
    # A text whose character ids are their positions: every batch shows where it was read.
    data = replace(_data(tmp_path, window=7), train_ids=np.arange(1000, dtype=np.int64))
    batch, length = 3, 1000 // 3
    per_pass = data.steps_per_pass(batch)
    assert per_pass == length // 7
    first = [data.train_batch(5, step, batch) for step in range(per_pass)]
    inputs = torch.cat([x for x, _ in first], dim=1).numpy()  # (batch, per_pass * 7)
    targets = torch.cat([y for _, y in first], dim=1).numpy()
    ahead = (inputs[0, 0] + np.arange(per_pass * 7)) % 1000
    for row in range(batch):  # stream b: L characters after stream b-1, read contiguously
        assert np.array_equal(inputs[row], (ahead + row * length) % 1000)
        assert np.array_equal(targets[row], (ahead + row * length + 1) % 1000)
    assert [data.starts_pass(step, batch) for step in (0, 1, per_pass - 1, per_pass)] == [
        True, False, False, True]
    assert data.train_batch(5, per_pass, batch)[0][0, 0] != inputs[0, 0]  # a new offset
    assert torch.equal(data.train_batch(5, 2, batch)[0], first[2][0])  # (seed, step) only
    assert data.train_batch(6, 0, batch)[0][0, 0] != inputs[0, 0]  # seeds read differently


def test_windows_from_a_zero_state_stay_available_and_always_start_a_pass(tmp_path):
    data = _data(tmp_path, window=7, carry_state=False)
    assert not data.carries_state and data.starts_pass(3, 4)
    assert data.test[0].shape[1] == 7  # held-out rows are windows, as training reads them
    streamed = _data(tmp_path, window=7)
    rows = streamed.test[0].shape[1]
    assert rows == min(EVAL_ROW_CHARS, len(streamed.test_text) - 1) and rows > 7


def test_training_starts_each_step_from_the_state_the_previous_one_ended_in(tmp_path):
    data = _data(tmp_path, window=9)
    batch, seen = 4, []
    original = ToyModel.forward

    def spy(self, inputs, hx=None, **kwargs):
        outputs, state = original(self, inputs, hx, return_state=True)
        seen.append((hx, tuple(part.detach().clone() for part in state)))
        return (outputs, state) if kwargs.get("return_state") else outputs

    per_pass = data.steps_per_pass(batch)
    steps = per_pass + 2 if (per_pass + 2) % 2 == 0 else per_pass + 3
    model = ToyModelConfig("quotes", hidden_size=5, classes=data.classes, embedding_size=3)
    ToyModel.forward = spy
    try:
        train_toy(model, data, ToyTrainConfig(steps=steps, eval_every=steps, batch_size=batch,
                                              eval_batch_size=64), seed=0)
    finally:
        ToyModel.forward = original
    training = [call for call in seen if call[1][0].shape[1] == batch]  # evaluations aside
    assert len(training) == steps
    for step, (hx, _) in enumerate(training):
        if step % per_pass == 0:
            assert hx is None  # a pass starts from zero
        else:
            previous = training[step - 1][1]
            assert all(torch.equal(a, b) for a, b in zip(hx, previous, strict=True))
            assert not any(part.requires_grad for part in hx)  # truncated, not through


def test_a_run_resumed_mid_pass_carries_the_saved_state_and_matches_an_uninterrupted_one(
        tmp_path):
    data = _data(tmp_path, window=9)
    model = ToyModelConfig("quotes", hidden_size=6, classes=data.classes, embedding_size=3)
    batch = 4
    assert data.steps_per_pass(batch) > 6  # the checkpoint at step 3 falls inside a pass

    def config(steps: int) -> ToyTrainConfig:
        return ToyTrainConfig(steps=steps, eval_every=3, batch_size=batch, eval_batch_size=64)

    whole = train_toy(model, data, config(6), seed=2)
    train_toy(model, data, config(3), seed=2, out_dir=tmp_path / "run")
    resumed = train_toy(model, data, config(6), seed=2, out_dir=tmp_path / "run")
    assert [m.without_timing() for m in resumed.history] == [
        m.without_timing() for m in whole.history]
    for name, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name


def test_a_text_too_short_for_the_streams_and_a_stray_carry_state_are_refused(tmp_path):
    data = _data(tmp_path, window=50)
    model = ToyModelConfig("quotes", hidden_size=4, classes=data.classes)
    too_many = len(data.train_ids) // 50 + 1
    with pytest.raises(ValueError, match=r"batch_size=\d+ streams of window=50 characters "
                                         r"need .* lower training.batch_size"):
        train_toy(model, data, ToyTrainConfig(steps=1, eval_every=1, batch_size=too_many),
                  seed=0, out_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before anything is written
    with pytest.raises(ValueError, match="carry_state is for quotes"):
        ToyTaskConfig("adding", 50, carry_state=False)
    with pytest.raises(ValueError, match="carry_state must be true or false"):
        ToyTaskConfig("quotes", carry_state="yes")
    assert "carry_state" not in ToyTaskConfig("copy", 10).to_dict()  # old configs unchanged
    assert ToyTaskConfig.from_dict(ToyTaskConfig("quotes").to_dict()).carry_state is True
