"""Leak audit: passes causal models, flags leaks (seed 000 and subtler ones), says where."""

from __future__ import annotations

import json
import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from rnnlab.diagnostics.contracts import Contract, pair_masks, real_positions, resolve_contract
from rnnlab.diagnostics.leak_audit import AuditConfig, audit_leaks
from tests.diagnostics.leaky_models import (
    BackwardLM,
    BidirectionalNextWord,
    CausalConvLM,
    CausalLM,
    MeanContextLM,
    PaddingMixingLM,
    Seed000Model,
)

# Tiny sizes that all differ, so a swapped dimension fails. VOCAB <= 16 output features uses
# the exact Jacobian; BIG_VOCAB > 16 exercises the random projections.
BATCH, TIME, EMB, HIDDEN, VOCAB, BIG_VOCAB = 3, 7, 5, 6, 11, 23
BOTH_DIRECTIONS = {"forward": "forward", "backward": "backward"}


def make_ids(seed: int, batch: int = BATCH, time: int = TIME, vocab: int = VOCAB) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, time), generator=torch.Generator().manual_seed(seed))


def build(model_class: type[nn.Module], *args: object, seed: int = 0, **kwargs: object):
    torch.manual_seed(seed)
    return model_class(*args, **kwargs)


def future_pairs(time: int) -> set[tuple[int, int]]:
    return {(t, j) for t in range(time) for j in range(t + 1, time)}


def past_pairs(time: int) -> set[tuple[int, int]]:
    return {(t, j) for t in range(time) for j in range(t)}


# ---------------------------------------------------------------- the four models of issue 6


def test_causal_lstm_language_model_passes_forward_contract():
    report = audit_leaks(build(CausalLM, VOCAB, EMB, HIDDEN), make_ids(0), "forward")
    assert report.passed and report.verdict == "passed"
    assert [m.method for m in report.outputs["output"].measurements] == [
        "substitution",
        "gradient",
    ]
    assert report.violations == []


def test_bidirectional_lstm_for_next_word_prediction_is_flagged_at_every_future_token():
    model = build(BidirectionalNextWord, VOCAB, EMB, HIDDEN)
    report = audit_leaks(model, make_ids(0), "forward")
    assert not report.passed
    for measurement in report.outputs["output"].measurements:
        assert measurement.flagged_pairs() == future_pairs(TIME)


@pytest.mark.parametrize(
    ("flip_lstm1", "flip_lstm2"),
    [(False, True), (True, False), (False, False)],
    ids=["lstm1-not-flipped-seed000", "lstm2-not-flipped", "neither-flipped"],
)
def test_seed000_backward_stack_without_flip_back_leaks_the_past(flip_lstm1, flip_lstm2):
    model = build(Seed000Model, VOCAB, EMB, HIDDEN, flip_lstm1=flip_lstm1, flip_lstm2=flip_lstm2)
    report = audit_leaks(model, make_ids(1), BOTH_DIRECTIONS)
    assert report.outputs["forward"].passed
    backward = report.outputs["backward"]
    assert not backward.passed and not report.passed
    assert all(v.in_pos < v.out_pos for v in backward.violations)


def test_seed000_leak_reaches_the_token_the_backward_stack_predicts():
    # The backward stack at t predicts token t-1; the seed's ~100 % accuracy means it sees it.
    model = build(Seed000Model, VOCAB, EMB, HIDDEN, flip_lstm1=False)
    report = audit_leaks(model, make_ids(2), BOTH_DIRECTIONS)
    flagged = report.outputs["backward"].measurement("substitution").flagged_pairs()
    assert {(t, t - 1) for t in range(1, TIME)} <= flagged


def test_seed000_model_flipped_back_in_the_right_places_passes_both_directions():
    model = build(Seed000Model, VOCAB, EMB, HIDDEN)
    report = audit_leaks(model, make_ids(1), BOTH_DIRECTIONS)
    assert report.passed, report.summary()
    assert set(report.outputs) == {"forward", "backward"}


# ---------------------------------------------------------------------------- subtle leaks


def test_off_by_one_causal_conv_is_flagged_on_exactly_the_next_token():
    model = build(CausalConvLM, VOCAB, EMB, HIDDEN, kernel=3, off_by_one=True)
    report = audit_leaks(model, make_ids(3), "forward")
    for measurement in report.outputs["output"].measurements:
        assert measurement.flagged_pairs() == {(t, t + 1) for t in range(TIME - 1)}


def test_whole_sequence_mean_context_is_flagged_and_running_mean_passes():
    leaky = build(MeanContextLM, VOCAB, EMB, HIDDEN, causal_mean=False)
    causal = build(MeanContextLM, VOCAB, EMB, HIDDEN, causal_mean=True)
    leaky_report = audit_leaks(leaky, make_ids(4), "forward")
    assert leaky_report.outputs["output"].measurement("gradient").flagged_pairs() == future_pairs(
        TIME
    )
    assert audit_leaks(causal, make_ids(4), "forward").passed


def test_forward_contract_with_offset_minus_one_flags_a_model_that_sees_its_own_token():
    # A model whose output t predicts token t must not see token t itself.
    report = audit_leaks(build(CausalLM, VOCAB, EMB, HIDDEN), make_ids(5), "forward", offset=-1)
    assert report.outputs["output"].contract.describe() == "forward (j <= t-1)"
    for measurement in report.outputs["output"].measurements:
        assert measurement.flagged_pairs() == {(t, t) for t in range(TIME)}


# ------------------------------------------------------------------------ no false alarms

CAUSAL_MODELS = {
    "lstm": lambda vocab: CausalLM(vocab, EMB, HIDDEN),
    "gru-2-layers": lambda vocab: CausalLM(vocab, EMB, HIDDEN, cell="gru", layers=2),
    "tanh-rnn": lambda vocab: CausalLM(vocab, EMB, HIDDEN, cell="rnn"),
    "conv": lambda vocab: CausalConvLM(vocab, EMB, HIDDEN, kernel=3, off_by_one=False),
    "running-mean": lambda vocab: MeanContextLM(vocab, EMB, HIDDEN, causal_mean=True),
}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("batch", "time", "vocab"), [(3, 7, VOCAB), (2, 13, BIG_VOCAB)])
@pytest.mark.parametrize("name", list(CAUSAL_MODELS))
def test_causal_models_raise_no_false_alarms(name, seed, batch, time, vocab):
    torch.manual_seed(seed)
    model = CAUSAL_MODELS[name](vocab)
    report = audit_leaks(model, make_ids(seed, batch, time, vocab), "forward")
    assert report.passed, report.summary()
    for measurement in report.outputs["output"].measurements:
        # Margin: float noise must stay far below the tolerance, not just under it.
        assert measurement.max_forbidden <= measurement.tolerance / 10


@pytest.mark.parametrize("seed", range(4))
def test_fixed_seed000_model_raises_no_false_alarms(seed):
    model = build(Seed000Model, BIG_VOCAB, EMB, HIDDEN, seed=seed)
    report = audit_leaks(model, make_ids(seed, 2, 11, BIG_VOCAB), BOTH_DIRECTIONS)
    assert report.passed, report.summary()


# ---------------------------------------------------------- the two measurements agree


@pytest.mark.parametrize(
    ("model", "contract"),
    [
        (lambda: BidirectionalNextWord(VOCAB, EMB, HIDDEN), "forward"),
        (lambda: Seed000Model(VOCAB, EMB, HIDDEN, flip_lstm1=False), BOTH_DIRECTIONS),
        (lambda: CausalConvLM(VOCAB, EMB, HIDDEN, kernel=3, off_by_one=True), "forward"),
        (lambda: MeanContextLM(VOCAB, EMB, HIDDEN, causal_mean=False), "forward"),
    ],
    ids=["bidirectional", "seed000-leaky", "conv-off-by-one", "mean-context"],
)
def test_gradient_and_substitution_flag_the_same_forbidden_pairs(model, contract):
    torch.manual_seed(6)
    report = audit_leaks(model(), make_ids(6), contract)
    for audit in report.outputs.values():
        substitution, gradient = audit.measurements
        assert substitution.flagged_pairs() == gradient.flagged_pairs()


def test_random_projections_and_exact_jacobian_flag_the_same_pairs():
    model = build(BidirectionalNextWord, BIG_VOCAB, EMB, HIDDEN)
    ids = make_ids(7, vocab=BIG_VOCAB)
    projected = audit_leaks(model, ids, "forward")
    exact = audit_leaks(model, ids, "forward", config=AuditConfig(exact_jacobian_features=64))
    pairs = [
        r.outputs["output"].measurement("gradient").flagged_pairs() for r in (projected, exact)
    ]
    assert pairs[0] == pairs[1] == future_pairs(TIME)


def test_chunked_forward_passes_give_the_same_dependencies():
    model = build(BidirectionalNextWord, VOCAB, EMB, HIDDEN)
    whole = audit_leaks(model, make_ids(8), "forward")
    chunked = audit_leaks(model, make_ids(8), "forward", config=AuditConfig(max_rows=5))
    pairs = zip(
        whole.outputs["output"].measurements, chunked.outputs["output"].measurements, strict=True
    )
    for a, b in pairs:
        torch.testing.assert_close(a.dependency, b.dependency, rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------ contracts and padding


def test_custom_contract_callable_limits_the_look_back():
    two_back = lambda t, j, length: t - 2 <= j <= t  # noqa: E731
    conv = build(CausalConvLM, VOCAB, EMB, HIDDEN, kernel=3, off_by_one=False)
    lstm = build(CausalLM, VOCAB, EMB, HIDDEN)
    assert audit_leaks(conv, make_ids(9), two_back).passed
    flagged = audit_leaks(lstm, make_ids(9), two_back).outputs["output"].violations
    assert flagged and all(v.in_pos < v.out_pos - 2 for v in flagged)


def test_builtin_contract_masks_match_their_definition():
    forward = resolve_contract("forward").allowed_mask(4)
    backward = resolve_contract("backward", offset=1).allowed_mask(4)
    assert forward.tolist() == [[j <= t for j in range(4)] for t in range(4)]
    assert backward.tolist() == [[j >= t - 1 for j in range(4)] for t in range(4)]
    assert resolve_contract("all") == resolve_contract("none") == Contract(kind="none")


def test_padding_outputs_are_not_audited():
    model = build(PaddingMixingLM, VOCAB, EMB, HIDDEN)
    lengths = torch.tensor([7, 4, 2])
    assert audit_leaks(model, make_ids(10), "forward", lengths=lengths).passed

    # The same model, its padding outputs audited as if real: they are leaks.
    def padded_model(ids: torch.Tensor) -> torch.Tensor:
        return model(ids, lengths.repeat(ids.shape[0] // BATCH))

    everything_real = audit_leaks(padded_model, make_ids(10), "forward", vocab_size=VOCAB)
    assert not everything_real.passed
    assert all(v.out_pos >= 2 for v in everything_real.violations)


def test_reading_padding_is_flagged_only_when_padding_is_audited():
    model = build(BackwardLM, VOCAB, EMB, HIDDEN)
    lengths = torch.tensor([7, 5, 3])
    default = audit_leaks(model, make_ids(11), "backward", lengths=lengths)
    strict = audit_leaks(
        model, make_ids(11), "backward", lengths=lengths, config=AuditConfig(audit_padding=True)
    )
    assert default.passed
    assert not strict.passed
    assert all(v.in_pos >= 3 for v in strict.violations)  # only padding tokens are flagged


def test_pre_padding_counts_contract_positions_from_the_first_real_token():
    lengths = torch.tensor([7, 4, 2])
    report = audit_leaks(
        build(CausalLM, VOCAB, EMB, HIDDEN), make_ids(12), "forward", lengths=lengths, padding="pre"
    )
    assert report.passed


# -------------------------------------------------------------------- report and rendering


def test_summary_names_the_leaking_output_count_and_worst_dependency():
    model = build(Seed000Model, VOCAB, EMB, HIDDEN, flip_lstm1=False)
    report = audit_leaks(model, make_ids(1), BOTH_DIRECTIONS)
    worst = report.outputs["backward"].measurement("substitution").violations[0]
    text = report.summary()
    assert text.startswith("forward: passed [forward (j <= t)]")
    assert "backward: LEAKS [backward (j >= t)] — 21 forbidden dependencies" in text
    assert (
        f"output {worst.out_pos} depends on token {worst.in_pos} (Δ={worst.magnitude:.3g}" in text
    )
    assert text.endswith("verdict: LEAKS in backward")
    assert report.verdict == "leaks" and report.outputs["backward"].verdict == "leaks"


def test_violations_are_sorted_strongest_first():
    report = audit_leaks(build(BidirectionalNextWord, VOCAB, EMB, HIDDEN), make_ids(0), "forward")
    for measurement in report.outputs["output"].measurements:
        magnitudes = [v.magnitude for v in measurement.violations]
        assert magnitudes == sorted(magnitudes, reverse=True)
    relative = [v.relative for v in report.violations]
    assert relative == sorted(relative, reverse=True)


def test_report_to_dict_is_json_serialisable():
    model = build(Seed000Model, VOCAB, EMB, HIDDEN, flip_lstm1=False)
    data = json.loads(json.dumps(audit_leaks(model, make_ids(1), BOTH_DIRECTIONS).to_dict()))
    assert data["verdict"] == "leaks"
    backward = data["outputs"]["backward"]
    assert backward["verdict"] == "leaks"
    assert len(backward["measurements"][0]["dependency"]) == TIME
    assert data["settings"]["vocab_size"] == VOCAB


def test_heatmap_is_saved_as_png(tmp_path):
    model = build(Seed000Model, VOCAB, EMB, HIDDEN, flip_lstm1=False)
    path = audit_leaks(model, make_ids(1), BOTH_DIRECTIONS).save_heatmap(tmp_path / "leak.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- model handling and errors


def test_audit_restores_training_mode_and_leaves_parameter_gradients_alone():
    model = build(CausalLM, VOCAB, EMB, HIDDEN)
    model.train()
    model.embedding.eval()  # a deliberately mixed state must come back as it was
    audit_leaks(model, make_ids(0), "forward")
    assert model.training and not model.embedding.training
    assert all(p.grad is None for p in model.parameters())


def test_plain_callable_without_embedding_is_audited_by_substitution_only():
    def running_count(ids: torch.Tensor) -> torch.Tensor:
        return F.one_hot(ids, VOCAB).float().cumsum(1)

    report = audit_leaks(running_count, make_ids(0), "forward", vocab_size=VOCAB)
    assert report.passed
    assert [m.method for m in report.outputs["output"].measurements] == ["substitution"]
    assert any("gradient measurement skipped" in note for note in report.notes)


def test_gradient_measurement_is_skipped_when_the_embedding_sees_flipped_ids():
    class FlipFirst(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backward_lm = CausalLM(VOCAB, EMB, HIDDEN)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.backward_lm(ids.flip(1)).flip(1)

    report = audit_leaks(build(FlipFirst), make_ids(0), "backward")
    assert report.passed
    assert "not applied to the ids as given" in report.notes[0]
    with pytest.raises(ValueError, match="gradient measurement failed"):
        audit_leaks(build(FlipFirst), make_ids(0), "backward", config=AuditConfig(gradients=True))


def test_unknown_contract_name_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="'forward', 'backward', 'none', 'all'.*got 'causal'"):
        audit_leaks(build(CausalLM, VOCAB, EMB, HIDDEN), make_ids(0), "causal")


def test_contract_dict_must_name_exactly_the_outputs():
    with pytest.raises(ValueError, match=r"missing \['backward'\], unknown \['bwd'\]"):
        audit_leaks(
            build(Seed000Model, VOCAB, EMB, HIDDEN),
            make_ids(0),
            {"forward": "forward", "bwd": "backward"},
        )


@pytest.mark.parametrize(
    ("wrap", "shape"),
    [
        (lambda out: out[:, -1], f"({BATCH}, {VOCAB})"),  # last state only, no time axis
        (lambda out: out.transpose(0, 1), f"({TIME}, {BATCH}, {VOCAB})"),  # time-major
    ],
    ids=["no-time-axis", "time-major"],
)
def test_output_without_matching_time_axis_is_an_error(wrap, shape):
    model = build(CausalLM, VOCAB, EMB, HIDDEN)
    with pytest.raises(ValueError, match=f"time axis second.*got shape {re.escape(shape)}"):
        audit_leaks(lambda ids: wrap(model(ids)), make_ids(0), "forward", vocab_size=VOCAB)


def test_tuple_output_is_an_error_that_suggests_wrapping():
    lstm = build(nn.LSTM, EMB, HIDDEN, batch_first=True)
    with pytest.raises(TypeError, match="wrap tuple outputs"):
        audit_leaks(
            lambda ids: lstm(F.one_hot(ids, EMB).float()), make_ids(0, vocab=EMB), vocab_size=EMB
        )


def test_non_integer_ids_are_an_error():
    with pytest.raises(TypeError, match="integer token ids.*torch.float32"):
        audit_leaks(build(CausalLM, VOCAB, EMB, HIDDEN), make_ids(0).float(), "forward")


def test_missing_vocab_size_is_an_error_when_no_embedding_gives_it():
    model = build(CausalLM, VOCAB, EMB, HIDDEN)
    with pytest.raises(ValueError, match="vocab_size is needed for token substitution"):
        audit_leaks(model, make_ids(0), "forward", embedding=None)


def test_ids_outside_the_vocabulary_are_an_error():
    with pytest.raises(ValueError, match=r"ids must be in \[0, 5\)"):
        audit_leaks(build(CausalLM, VOCAB, EMB, HIDDEN), make_ids(0), "forward", vocab_size=5)


def test_nondeterministic_model_is_refused():
    def noisy(ids: torch.Tensor) -> torch.Tensor:
        return F.dropout(F.one_hot(ids, VOCAB).float(), p=0.5, training=True)

    with pytest.raises(ValueError, match="deterministic model"):
        audit_leaks(noisy, make_ids(0), "forward", vocab_size=VOCAB)


def test_lengths_out_of_range_are_an_error():
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 7\] for time=7"):
        audit_leaks(
            build(CausalLM, VOCAB, EMB, HIDDEN), make_ids(0), lengths=torch.tensor([7, 8, 1])
        )


def test_non_finite_outputs_are_an_error():
    def broken(ids: torch.Tensor) -> torch.Tensor:
        return F.one_hot(ids, VOCAB).float() / 0.0

    with pytest.raises(ValueError, match="NaN or inf"):
        audit_leaks(broken, make_ids(0), "forward", vocab_size=VOCAB)


def test_summary_of_a_passing_model_gives_the_margins_and_verdict():
    text = audit_leaks(build(CausalLM, VOCAB, EMB, HIDDEN), make_ids(0)).summary()
    assert text.startswith("output: passed [forward (j <= t)] (substitution max forbidden")
    assert "<= tolerance" in text and text.endswith("verdict: passed")


def test_contract_objects_give_each_output_its_own_offset():
    # Both stacks forbidden to see their own token: each is flagged on the diagonal only.
    contracts = {"forward": Contract("forward", offset=-1), "backward": Contract("backward", -1)}
    report = audit_leaks(build(Seed000Model, VOCAB, EMB, HIDDEN), make_ids(13), contracts)
    for audit in report.outputs.values():
        assert audit.measurement("gradient").flagged_pairs() == {(t, t) for t in range(TIME)}


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(["forward", "backward", "none"]),
    offset=st.integers(-2, 2),
    lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    padding=st.sampled_from(["post", "pre"]),
)
def test_allowed_and_forbidden_split_exactly_the_real_pairs(kind, offset, lengths, padding):
    lengths_tensor = torch.tensor(lengths)
    allowed, forbidden = pair_masks(
        resolve_contract(kind, offset), lengths_tensor, 6, padding, audit_padding=False
    )
    real = real_positions(lengths_tensor, 6, padding)
    real_pairs = real.unsqueeze(2) & real.unsqueeze(1)
    assert not bool((allowed & forbidden).any())
    assert torch.equal(allowed | forbidden, real_pairs)
