"""The two dependency measurements of the leak audit: token substitution and gradients.

Both return, per model output, ``dep: (batch, time, time)`` indexed ``[sequence, out_pos,
in_pos]``. Judging them against a contract is :mod:`rnnlab.diagnostics.leak_audit`'s job.

Every forward pass stacks variants of the batch as groups of ``batch`` rows, the unchanged
sequences first, so a causal model computes its forbidden entries on bit-identical inputs:

    rows = [ ids | ids with token j0 -> r0 | ids with token j0 -> r1 | ... | token j1 -> r0 ... ]
            batch      batch                   batch                          batch
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

import torch
from torch import nn

from rnnlab.diagnostics.audit_config import AuditConfig

# Two identical forward passes may differ by float noise, never by more than this × |output|.
_DETERMINISM_RTOL = 1e-5


class ModelCall:
    """Calls the model on stacked groups of the batch and checks what comes back."""

    def __init__(self, model: Callable, pass_lengths: bool, lengths: torch.Tensor) -> None:
        self.model = model
        self.pass_lengths = pass_lengths
        self.lengths = lengths  # (batch,)

    @contextlib.contextmanager
    def eval_mode(self) -> Iterator[None]:
        """Eval mode and no autograd by default; every module's training flag is restored."""
        modules = list(self.model.modules()) if isinstance(self.model, nn.Module) else []
        flags = [module.training for module in modules]
        try:
            for module in modules:
                module.eval()
            with torch.no_grad():
                yield
        finally:
            for module, flag in zip(modules, flags, strict=True):
                module.training = flag

    def __call__(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """rows: ``(groups * batch, time)`` -> each output ``(groups * batch, time, features)``."""
        groups = rows.shape[0] // self.lengths.shape[0]
        if self.pass_lengths:
            raw = self.model(rows, lengths=self.lengths.repeat(groups))
        else:
            raw = self.model(rows)
        return _normalise_outputs(raw, rows.shape)

    def check_deterministic(self, ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the batch twice in one pass; return the first copy's outputs.

        A model that differs between identical rows (dropout outside eval mode, layers that mix
        the batch) would look like it depends on everything, so it is refused here.
        """
        self(ids)  # shape errors then name the user's batch size, not the doubled one
        outputs = self(torch.cat([ids, ids]))
        batch = ids.shape[0]
        for name, output in outputs.items():
            if not bool(output.isfinite().all()):
                raise ValueError(
                    f"output {name!r} has NaN or inf values; the audit needs finite ones"
                )
            first, second = output[:batch], output[batch:]
            gap = float((first - second).abs().max())
            if gap > _DETERMINISM_RTOL * max(float(first.abs().max()), 1e-30):
                raise ValueError(
                    f"output {name!r} differs between two identical sequences in one forward "
                    f"pass (max |Δ| = {gap:.3g}); the audit needs a deterministic model in eval "
                    "mode (active dropout? layers that mix the batch?)"
                )
        return {name: output[:batch] for name, output in outputs.items()}


def _normalise_outputs(raw: object, shape: torch.Size) -> dict[str, torch.Tensor]:
    rows, time = shape
    if isinstance(raw, torch.Tensor):
        raw = {"output": raw}
    if not isinstance(raw, Mapping) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise TypeError(
            "the model must return a tensor (batch, time, ...) or a dict of such tensors, "
            f"got {type(raw).__name__}; wrap tuple outputs, e.g. lambda ids: model(ids)[0]"
        )
    outputs = {}
    for name, output in raw.items():
        if output.dim() < 2 or output.shape[0] != rows or output.shape[1] != time:
            raise ValueError(
                f"output {name!r} must be (batch, time, ...) = ({rows}, {time}, ...) with the time "
                f"axis second, matching the input ids, got shape {tuple(output.shape)}"
            )
        output = output.reshape(rows, time, -1)
        outputs[str(name)] = output if output.is_floating_point() else output.float()
    return outputs


def substitution_dependencies(
    call: ModelCall,
    ids: torch.Tensor,
    vocab_size: int,
    replacements: int,
    max_rows: int,
    generator: torch.Generator,
) -> dict[str, torch.Tensor]:
    """Mean over replacements of max |Δ output_t| over features, token j substituted.

    ids: ``(batch, time)``. Returns ``(batch, time, time)`` per output, ``[b, t, j]``.
    """
    batch, time = ids.shape
    substitutes = _draw_substitutes(ids, vocab_size, replacements, generator)  # (time, R, batch)
    per_chunk = max(1, (max_rows - batch) // (replacements * batch))
    dependencies: dict[str, torch.Tensor] = {}
    for start in range(0, time, per_chunk):
        positions = torch.arange(start, min(start + per_chunk, time))
        variants = ids.expand(len(positions), replacements, batch, time).clone()
        variants[torch.arange(len(positions)), :, :, positions] = substitutes[positions]
        outputs = call(torch.cat([ids, variants.reshape(-1, time)]))
        for name, output in outputs.items():
            baseline, changed = output[:batch], output[batch:]
            changed = changed.reshape(len(positions), replacements, batch, time, -1)
            change = (changed - baseline).abs().amax(-1).mean(1)  # (positions, batch, time)
            dep = dependencies.setdefault(name, torch.zeros(batch, time, time))
            dep[:, :, positions] = change.permute(1, 2, 0).float().cpu()
    return dependencies


def _draw_substitutes(
    ids: torch.Tensor, vocab_size: int, replacements: int, generator: torch.Generator
) -> torch.Tensor:
    """Random tokens ``(time, replacements, batch)``, each different from the token it replaces."""
    batch, time = ids.shape
    drawn = torch.randint(0, vocab_size - 1, (time, replacements, batch), generator=generator)
    original = ids.t().unsqueeze(1).cpu()  # (time, 1, batch)
    # Skipping over the original keeps the draw uniform over the other vocab_size - 1 tokens.
    return (drawn + (drawn >= original).long()).to(ids.dtype).to(ids.device)


def find_embedding(model: object) -> tuple[nn.Embedding | None, str]:
    """The model's ``embedding`` attribute, else its only ``nn.Embedding``; or why there is none."""
    attribute = getattr(model, "embedding", None)
    if isinstance(attribute, nn.Embedding):
        return attribute, ""
    if not isinstance(model, nn.Module):
        return None, "the model is not an nn.Module; pass embedding=..."
    found = [m for m in model.modules() if isinstance(m, nn.Embedding)]
    if len(found) == 1:
        return found[0], ""
    if not found:
        return None, "the model has no nn.Embedding; pass embedding=..."
    return None, f"the model has {len(found)} nn.Embedding modules; pass embedding=..."


def resolve_embedding(
    model: object, embedding: nn.Embedding | str | None, gradients: bool | None
) -> tuple[nn.Embedding | None, list[str]]:
    """The embedding for the gradient measurement, or None and a note saying why not."""
    if gradients is False or embedding is None:
        if gradients:
            raise ValueError("gradients=True needs an embedding, got embedding=None")
        return None, []
    if isinstance(embedding, nn.Embedding):
        return embedding, []
    if embedding != "auto":
        raise ValueError(f"embedding must be an nn.Embedding, 'auto' or None, got {embedding!r}")
    found, reason = find_embedding(model)
    if found is None:
        if gradients:
            raise ValueError(f"gradients=True but no embedding was found: {reason}")
        return None, [f"gradient measurement skipped: {reason}"]
    return found, []


class _EmbeddingPerturbation:
    """Forward hook adding ``delta`` to the embedding output when it embeds ``rows`` as given."""

    def __init__(self) -> None:
        self.rows: torch.Tensor | None = None
        self.delta: torch.Tensor | None = None
        self.aligned = 0
        self.misaligned = 0

    def __call__(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        if self.rows is None or self.delta is None:
            return output
        if inputs[0].shape == self.rows.shape and torch.equal(inputs[0], self.rows):
            self.aligned += 1
            return output + self.delta
        self.misaligned += 1  # e.g. a flipped copy: position j is not token j there
        return output


def gradient_dependencies(
    call: ModelCall,
    ids: torch.Tensor,
    embedding: nn.Embedding,
    features: Mapping[str, int],
    config: AuditConfig,
    max_rows: int,
    generator: torch.Generator,
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """``||∂ output_t / ∂ emb_j||_F`` per output, ``(batch, time, time)``; and notes on skips.

    features: number of features of each output (its trailing dimensions flattened).
    max_rows: sequences per forward pass.
    """
    hook = _EmbeddingPerturbation()
    handle = embedding.register_forward_hook(hook)
    dependencies: dict[str, torch.Tensor] = {}
    notes: list[str] = []
    try:
        with torch.enable_grad():
            for name, count in features.items():
                basis = _projection_basis(count, config, generator)
                dep = _gradient_of_output(call, ids, embedding, hook, name, basis, max_rows)
                if hook.misaligned or not hook.aligned:
                    return {}, [
                        "gradient measurement skipped: the embedding was not applied to the ids "
                        "as given (flipped or modified copy?), so its positions are not tokens"
                    ]
                if dep is None:
                    notes.append(f"gradient of output {name!r} skipped: not differentiable")
                else:
                    dependencies[name] = dep
    finally:
        handle.remove()
    return dependencies, notes


def _projection_basis(
    features: int, config: AuditConfig, generator: torch.Generator
) -> torch.Tensor:
    """``(K, features)``: identity rows (exact Jacobian) or Gaussian rows with variance 1/K."""
    if features <= config.exact_jacobian_features:
        return torch.eye(features)
    count = config.projections
    return torch.randn(count, features, generator=generator) / count**0.5


def _gradient_of_output(
    call: ModelCall,
    ids: torch.Tensor,
    embedding: nn.Embedding,
    hook: _EmbeddingPerturbation,
    name: str,
    basis: torch.Tensor,
    max_rows: int,
) -> torch.Tensor | None:
    """One row group per (output position, basis vector); one backward pass per chunk."""
    batch, time = ids.shape
    directions = basis.shape[0]
    per_chunk = max(1, max_rows // (directions * batch))
    dep = torch.zeros(batch, time, time)
    for start in range(0, time, per_chunk):
        positions = torch.arange(start, min(start + per_chunk, time))
        rows = ids.repeat(len(positions) * directions, 1)
        hook.rows = rows
        hook.delta = torch.zeros(
            rows.shape[0],
            time,
            embedding.embedding_dim,
            dtype=embedding.weight.dtype,
            device=embedding.weight.device,
            requires_grad=True,
        )
        output = call(rows)[name].reshape(len(positions), directions, batch, time, -1)
        if hook.misaligned or not hook.aligned:
            return dep
        picked = output[torch.arange(len(positions)), :, :, positions]  # (P, K, batch, F)
        if not picked.requires_grad:
            return None
        basis = basis.to(dtype=picked.dtype, device=picked.device)
        projected = (picked * basis.reshape(1, directions, 1, -1)).sum()
        (grad,) = torch.autograd.grad(projected, hook.delta, allow_unused=True)
        if grad is None:
            continue  # no path from the embedding to this output: zero dependence
        grad = grad.reshape(len(positions), directions, batch, time, -1)
        norms = grad.norm(dim=-1).square().sum(1).sqrt()  # (P, batch, time_in)
        dep[:, positions, :] = norms.permute(1, 0, 2).float().cpu()
    return dep
