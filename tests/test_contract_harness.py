"""The contract harness itself (tests/contract.py): a small correct layer passes every check,
and each check fails on a layer broken in exactly the way that check exists to catch."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from tests.contract import (
    BATCH,
    HIDDEN,
    LENGTHS,
    MARKS,
    Batch,
    Subject,
    check_builds,
    check_deterministic_under_seed,
    check_follows_device,
    check_follows_dtype,
    check_output_shapes,
    check_padding_ignores_nonfinite,
    check_padding_invariance,
    check_state_dict_round_trip,
    check_torch_compile,
    check_training_step_lowers_loss,
    contract_cases,
    layer_subject,
)


def _real_mask(lengths: torch.Tensor | None, batch: int, time: int, padding: str):
    """``(batch, time, 1)`` True at real positions."""
    if lengths is None:
        return torch.ones(batch, time, 1, dtype=torch.bool)
    positions = torch.arange(time).unsqueeze(0)
    lengths = torch.as_tensor(lengths).unsqueeze(1)
    real = positions < lengths if padding == "post" else positions >= time - lengths
    return real.unsqueeze(-1)


def _shift(x: torch.Tensor, lengths: torch.Tensor, sign: int) -> torch.Tensor:
    """Roll each row by ``sign * length``: pre → post padding (+1) and back (−1)."""
    return torch.stack([row.roll(sign * int(n), dims=0) for row, n in zip(x, lengths)])


class ReferenceGRU(nn.Module):
    """A correct padded GRU layer, small enough to trust: ``torch.nn.GRUCell`` over time,
    batch-first, one layer and direction. Padded inputs are replaced by 0 before any
    arithmetic, so nothing in the padding (NaN included) reaches an output or a gradient."""

    def __init__(self, input_size, hidden_size, *, num_layers=1, bidirectional=False,
                 batch_first=True):
        super().__init__()
        assert num_layers == 1 and not bidirectional and batch_first
        self.cell = nn.GRUCell(input_size, hidden_size)

    def forward(self, x, lengths=None, padding="post"):
        batch, time, _ = x.shape
        real = _real_mask(lengths, batch, time, padding)
        x = self.clean(x, real)
        if lengths is not None and padding == "pre":
            x = _shift(x, lengths, +1)
        alive = _real_mask(lengths, batch, time, "post")
        h = x.new_zeros(batch, self.cell.hidden_size)
        outputs = []
        for t in range(time):
            h_next = self.cell(x[:, t], h)
            h = torch.where(alive[:, t], h_next, h)
            outputs.append(self.mask_output(h_next, alive[:, t]))
        output = torch.stack(outputs, dim=1)
        if lengths is not None and padding == "pre":
            output = _shift(output, lengths, -1)
        return SimpleNamespace(output=self.finish(output), h_n=self.final(h), c_n=None, last=h)

    def clean(self, x, real):
        return torch.where(real, x, 0.0)

    def mask_output(self, h_next, alive):
        return torch.where(alive, h_next, 0.0)

    def finish(self, output):
        return output

    def final(self, h):
        return h.unsqueeze(0)  # (layers*directions, batch, hidden)


# -- one defect each ------------------------------------------------------------------------
class UninitialisedWeight(ReferenceGRU):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scale = nn.Parameter(torch.full((HIDDEN,), float("nan")))  # never initialised


class FlatFinalState(ReferenceGRU):
    def final(self, h):
        return h  # (batch, hidden): the layers*directions axis is missing


class AlwaysFloat32(ReferenceGRU):
    def finish(self, output):
        return output.float()


class StateOutsideStateDict(ReferenceGRU):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.offset = torch.randn(HIDDEN)  # a plain attribute: not a parameter, not a buffer

    def finish(self, output):
        return output + self.offset.to(output)


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return -grad


class GradientPointsUphill(ReferenceGRU):
    def forward(self, x, lengths=None, padding="post"):
        result = super().forward(x, lengths=lengths, padding=padding)
        return SimpleNamespace(output=_ReverseGradient.apply(result.output),
                               h_n=_ReverseGradient.apply(result.h_n), c_n=None,
                               last=_ReverseGradient.apply(result.last))


class UnseededNoise(ReferenceGRU):
    def finish(self, output):
        generator = torch.Generator().manual_seed(int.from_bytes(os.urandom(8), "little") >> 1)
        return output + 1e-3 * torch.randn(output.shape, generator=generator).to(output)


class IgnoresLengths(ReferenceGRU):
    def forward(self, x, lengths=None, padding="post"):
        result = super().forward(x)  # runs through the padding, then only masks the output
        real = _real_mask(lengths, *x.shape[:2], padding)
        return SimpleNamespace(output=result.output * real, h_n=result.h_n, c_n=None,
                               last=result.last)


class PaddedStepsRepeatTheState(ReferenceGRU):
    def mask_output(self, h_next, alive):
        return h_next  # padded steps output whatever the cell computes instead of 0


class MasksByMultiplying(ReferenceGRU):
    def clean(self, x, real):
        return x  # the padding reaches the arithmetic ...

    def mask_output(self, h_next, alive):
        return h_next * alive  # ... and 0 * NaN is NaN


class DiffersWhenCompiled(ReferenceGRU):
    def finish(self, output):
        return output + 1e-3 if torch.compiler.is_compiling() else output


class OutputsStayOnCPU(ReferenceGRU):
    def finish(self, output):
        return output.cpu()


def reference_subject(layer=ReferenceGRU, name="reference_gru") -> Subject:
    return layer_subject(name, layer, num_layers=1, bidirectional=False, batch_first=True,
                         has_cell_state=False)


# -- a token model around it, for the padding_entry path of models -------------------------
class TokenModel(nn.Module):
    """ids ``(batch, time)`` → embedding → ``layer`` → logits ``(batch, 2)`` from ``last``."""

    def __init__(self, layer=ReferenceGRU):
        super().__init__()
        self.embedding = nn.Embedding(11, 5)
        self.recurrent = layer(5, HIDDEN)
        self.output = nn.Linear(HIDDEN, 2)

    def forward(self, ids, lengths=None):
        return self.output(self.recurrent(self.embedding(ids), lengths=lengths).last)


def token_subject(layer=ReferenceGRU, name="token_model") -> Subject:
    def build(seed):
        torch.manual_seed(seed)
        return TokenModel(layer)

    def run(model, batch: Batch):
        return {"logits": model(batch.inputs, lengths=batch.lengths)}

    return Subject(
        name=name, build=build,
        make_inputs=lambda generator, time: torch.randint(1, 11, (BATCH, time),
                                                          generator=generator),
        run=run, expected_shapes=lambda batch: {"logits": (BATCH, 2)},
        loss=lambda outputs, batch: nn.functional.cross_entropy(
            outputs["logits"], torch.arange(BATCH) % 2),
        lengths=LENGTHS, padding_entry="embedding",
    )


# Dynamo traces the reference's Python time loop: 3-4 s per subject, so compiling is slow here.
@pytest.mark.parametrize(("subject", "check"), contract_cases(
    [reference_subject(), token_subject()], marks={**MARKS, check_torch_compile: pytest.mark.slow}))
def test_a_correct_subject_passes(subject, check):
    check(subject)


BROKEN = [
    (check_builds, UninitialisedWeight, "non-finite values"),
    (check_output_shapes, FlatFinalState, "h_n has shape"),
    (check_follows_dtype, AlwaysFloat32, "is torch.float32"),
    (check_state_dict_round_trip, StateOutsideStateDict, "after load_state_dict"),
    (check_training_step_lowers_loss, GradientPointsUphill, "took the loss from"),
    (check_deterministic_under_seed, UnseededNoise, "second run: output differs"),
    (check_padding_invariance, IgnoresLengths, "padding='pre'"),
    (check_padding_invariance, PaddedStepsRepeatTheState, "not exactly 0 at padded"),
    (check_padding_ignores_nonfinite, MasksByMultiplying, "non-finite gradients"),
    (check_torch_compile, DiffersWhenCompiled, "compiled"),
]


@pytest.mark.parametrize(
    ("check", "layer", "message"),
    [pytest.param(*case, id=f"{case[0].__name__}-{case[1].__name__}") for case in BROKEN])
def test_each_check_catches_its_defect(check, layer, message):
    subject = reference_subject(layer, name=layer.__name__)
    with pytest.raises(AssertionError, match=message):
        check(subject)


def test_nonfinite_check_reaches_token_models_through_their_embedding():
    with pytest.raises(AssertionError, match="non-finite gradients"):
        check_padding_ignores_nonfinite(token_subject(MasksByMultiplying))


def test_padding_check_catches_a_token_model_that_ignores_lengths():
    with pytest.raises(AssertionError, match="logits"):
        check_padding_invariance(token_subject(IgnoresLengths))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_device_check_catches_outputs_left_on_the_cpu():
    with pytest.raises(AssertionError, match="on CUDA"):
        check_follows_device(reference_subject(OutputsStayOnCPU))
