"""Leak audit: does any output of a sequence model depend on tokens its contract forbids?

The model maps token ids ``(batch, time)`` to per-position outputs: one tensor
``(batch, time, ...)`` or a dict of them (e.g. ``{"forward": ..., "backward": ...}``). Each
output has a contract (see :mod:`rnnlab.diagnostics.contracts`). Two measurements of the
dependency of output position t on input position j:

* token substitution (always, needs ``vocab_size``): token j is replaced by
  ``replacements`` random other tokens; the dependency of one sequence is the largest absolute
  change over the output's features at t, **averaged** over the replacements (the mean is a
  stable estimate; any true dependency still shows, while float32 noise averages down).
* gradients (when an embedding is found): a forward hook adds a zero tensor with
  ``requires_grad`` to the embedding output, and ``D[t, j] = ||∂ output_t / ∂ emb_j||_F``.
  For outputs with at most ``exact_jacobian_features`` features the full Jacobian rows are
  used; otherwise the Frobenius norm is estimated from ``projections`` random Gaussian
  projections of the features (``E ||uᵀJ||² = ||J||²_F`` for ``u ~ N(0, I/K)`` summed over K).

Which embedding: the ``embedding`` argument if it is an ``nn.Embedding``; with ``"auto"`` (the
default) the model's attribute ``embedding`` if that is an ``nn.Embedding``, else the only
``nn.Embedding`` among ``model.modules()``; otherwise the gradient measurement is skipped and the
report says why. The embedding must be applied to the ids exactly as given (not to a flipped
copy), so that its output position j is token j.

A forbidden pair (t, j) is a violation when its dependency exceeds
``tolerance = max(rtol * typical_allowed, noise_rel * scale)``, where ``scale`` is the largest
|output| (substitution) or the largest allowed gradient (gradient), and ``typical_allowed`` is the
median of the allowed dependencies above that noise floor. The substitutes run in one forward
pass with the unchanged sequences, so a causal model's forbidden changes are float noise (about
1e-8 measured) and its forbidden gradients exactly 0.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import asdict

import torch
from torch import nn

from rnnlab.diagnostics.audit_config import AuditConfig
from rnnlab.diagnostics.contracts import (
    Contract,
    ContractArg,
    pair_masks,
    real_positions,
    resolve_contracts,
)
from rnnlab.diagnostics.leak_measure import (
    ModelCall,
    gradient_dependencies,
    resolve_embedding,
    substitution_dependencies,
)
from rnnlab.diagnostics.leak_report import LeakReport, Measurement, OutputAudit, Violation

__all__ = ["AuditConfig", "audit_leaks"]  # AuditConfig re-exported: its home is audit_config


def audit_leaks(
    model: Callable[..., torch.Tensor | Mapping[str, torch.Tensor]],
    ids: torch.Tensor,
    contract: ContractArg | Mapping[str, ContractArg] = "forward",
    *,
    vocab_size: int | None = None,
    offset: int = 0,
    lengths: torch.Tensor | None = None,
    padding: str = "post",
    embedding: nn.Embedding | str | None = "auto",
    pass_lengths: bool | None = None,
    config: AuditConfig | None = None,
) -> LeakReport:
    """Measure what every output position depends on and check it against its contract.

    Args:
        model: maps ids ``(batch, time)`` to ``(batch, time, ...)`` or a dict of such tensors.
            Put in eval mode for the audit (training flags are restored afterwards).
        ids: ``(batch, time)`` integer token ids, the sequences to audit.
        contract: "forward", "backward", "none"/"all", a :class:`Contract`, a callable
            ``allowed(out_pos, in_pos, length)``, or a dict from output name to any of these.
        vocab_size: substitutes are drawn from ``[0, vocab_size)``; defaults to the embedding's
            ``num_embeddings``.
        offset: applied to contract names (see :mod:`rnnlab.diagnostics.contracts`).
        lengths: ``(batch,)`` real lengths; output positions in padding are not audited.
        padding: "post" (real tokens first) or "pre" (padding first); with "pre" the contract
            counts positions from the first real token.
        embedding: the ``nn.Embedding`` for the gradient measurement, "auto", or None (off).
        pass_lengths: call ``model(ids, lengths=...)``; None: when its ``forward`` has a
            ``lengths`` parameter and ``lengths`` is given.
        config: measurement settings, :class:`AuditConfig` defaults when None.

    Returns:
        a :class:`LeakReport`; ``report.passed``, ``report.summary()``, ``report.to_dict()``.
    """
    config = config or AuditConfig()
    _check_ids(ids)
    batch, time = ids.shape
    wants_lengths = _wants_lengths(model, lengths is not None, pass_lengths)
    lengths = _check_lengths(lengths, batch, time)
    real = real_positions(lengths, time, padding)  # (batch, time)
    found, notes = resolve_embedding(model, embedding, config.gradients)
    vocab_size = _resolve_vocab_size(vocab_size, found, ids)
    call = ModelCall(model, wants_lengths, lengths)
    with call.eval_mode():
        baseline = call.check_deterministic(ids)
        contracts = resolve_contracts(contract, list(baseline), offset)
        substitution, gradient, grad_notes = _measure(
            call, ids, baseline, vocab_size, found, config
        )
    audits = {
        name: _audit_output(
            name,
            output_contract,
            baseline[name],
            {"substitution": substitution[name], "gradient": gradient.get(name)},
            lengths,
            padding,
            real,
            config,
        )
        for name, output_contract in contracts.items()
    }
    settings = {
        **asdict(config),
        **{"vocab_size": vocab_size, "batch": batch, "time": time, "padding": padding},
    }
    return LeakReport(outputs=audits, notes=tuple(notes + grad_notes), settings=settings)


def _measure(
    call: ModelCall,
    ids: torch.Tensor,
    baseline: dict[str, torch.Tensor],
    vocab_size: int,
    embedding: nn.Embedding | None,
    config: AuditConfig,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], list[str]]:
    """Both measurements, each ``(batch, time, time)`` per output; and notes on skipped parts."""
    generator = torch.Generator().manual_seed(config.seed)
    features = {name: output.shape[-1] for name, output in baseline.items()}
    rows = _row_budget(config, ids.shape[1], sum(features.values()))
    substitution = substitution_dependencies(
        call, ids, vocab_size, config.replacements, rows, generator
    )
    if embedding is None:
        return substitution, {}, []
    gradient, notes = gradient_dependencies(call, ids, embedding, features, config, rows, generator)
    if config.gradients and notes:
        raise ValueError(f"gradients=True but the gradient measurement failed: {notes}")
    return substitution, gradient, notes


def _audit_output(
    name: str,
    contract: Contract,
    baseline: torch.Tensor,
    dependencies: dict[str, torch.Tensor | None],
    lengths: torch.Tensor,
    padding: str,
    real: torch.Tensor,
    config: AuditConfig,
) -> OutputAudit:
    """Judge one output's measured dependencies ``(batch, time, time)`` against its contract."""
    time = baseline.shape[1]
    allowed, forbidden = pair_masks(contract, lengths, time, padding, config.audit_padding)
    # Substitution changes are in output units: the noise floor scales with |output|.
    real_outputs = baseline.abs().masked_fill(~real.to(baseline.device).unsqueeze(2), 0)
    scales = {"substitution": float(real_outputs.max()), "gradient": None}
    measurements = tuple(
        _judge(name, method, dep, allowed, forbidden, real, scales[method], config)
        for method, dep in dependencies.items()
        if dep is not None
    )
    return OutputAudit(
        name=name, contract=contract, forbidden=forbidden.any(0), measurements=measurements
    )


def _row_budget(config: AuditConfig, time: int, features: int) -> int:
    """Sequences per forward pass: within max_rows and max_output_elements."""
    return max(1, min(config.max_rows, config.max_output_elements // (time * features)))


def _judge(
    name: str,
    method: str,
    dep: torch.Tensor,
    allowed: torch.Tensor,
    forbidden: torch.Tensor,
    real: torch.Tensor,
    scale: float | None,
    config: AuditConfig,
) -> Measurement:
    """Turn per-sequence dependencies ``(batch, time, time)`` into a :class:`Measurement`."""
    weights = real.unsqueeze(2).float()  # average only over sequences where t is real
    dependency = (dep * weights).sum(0) / weights.sum(0).clamp(min=1)
    allowed_values = dep[allowed]
    if scale is None:  # gradients: no output units, so the largest legitimate gradient
        scale = float(allowed_values.max() if allowed_values.numel() else dep.max())
    # tiny > 0 so that an exact zero never counts as a violation.
    floor = max(config.noise_rel * scale, torch.finfo().tiny)
    # Typical = median of the allowed dependencies that exist: a conv's receptive field or an
    # LSTM's fading memory leaves many allowed pairs at ~0, which would drag the median to 0.
    existing = allowed_values[allowed_values > floor]
    typical = float(existing.median()) if existing.numel() else 0.0
    tolerance = max(config.rtol * typical, floor)
    count = forbidden.sum(0)
    magnitude = (dep * forbidden).sum(0) / count.clamp(min=1)
    flagged = (count > 0) & (magnitude > tolerance)
    violations = [
        Violation(
            output=name,
            out_pos=t,
            in_pos=j,
            magnitude=float(magnitude[t, j]),
            relative=float(magnitude[t, j]) / typical if typical > 0 else float("inf"),
            measurement=method,
        )
        for t, j in flagged.nonzero().tolist()
    ]
    violations.sort(key=lambda v: v.magnitude, reverse=True)
    max_forbidden = float(magnitude[count > 0].max()) if bool((count > 0).any()) else 0.0
    return Measurement(
        method=method,
        dependency=dependency,
        typical_allowed=typical,
        tolerance=tolerance,
        max_forbidden=max_forbidden,
        violations=tuple(violations),
    )


def _check_ids(ids: torch.Tensor) -> None:
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"ids must be a torch.Tensor of token ids, got {type(ids).__name__}")
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f"ids must hold integer token ids (e.g. torch.long), got {ids.dtype}")
    if ids.dim() != 2 or ids.shape[1] < 1:
        raise ValueError(f"ids must be (batch, time) with time >= 1, got shape {tuple(ids.shape)}")


def _check_lengths(lengths: torch.Tensor | None, batch: int, time: int) -> torch.Tensor:
    if lengths is None:
        return torch.full((batch,), time, dtype=torch.long)
    lengths = torch.as_tensor(lengths, dtype=torch.long).cpu()
    if lengths.shape != (batch,):
        raise ValueError(f"lengths must be (batch,) = ({batch},), got {tuple(lengths.shape)}")
    if int(lengths.min()) < 1 or int(lengths.max()) > time:
        raise ValueError(
            f"lengths must be in [1, {time}] for time={time}, "
            f"got min {int(lengths.min())}, max {int(lengths.max())}"
        )
    return lengths


def _resolve_vocab_size(
    vocab_size: int | None, embedding: nn.Embedding | None, ids: torch.Tensor
) -> int:
    if vocab_size is None:
        if embedding is None:
            raise ValueError(
                "vocab_size is needed for token substitution (substitutes are drawn from "
                "[0, vocab_size)); pass vocab_size=... or a model with an nn.Embedding"
            )
        vocab_size = embedding.num_embeddings
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be >= 2 to substitute a token, got {vocab_size}")
    if int(ids.min()) < 0 or int(ids.max()) >= vocab_size:
        raise ValueError(
            f"ids must be in [0, {vocab_size}) for vocab_size={vocab_size}, "
            f"got min {int(ids.min())}, max {int(ids.max())}"
        )
    return vocab_size


def _wants_lengths(model: object, lengths_given: bool, pass_lengths: bool | None) -> bool:
    if pass_lengths is not None:
        return pass_lengths
    if not lengths_given:
        return False
    forward = getattr(model, "forward", model)
    try:
        parameters = inspect.signature(forward).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return "lengths" in parameters
