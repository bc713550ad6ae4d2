"""The time loop for user cells that leave the recurrent matrix product to the layer.

A cell that splits its step as ``update(precomputed_t + W_hh · recurrent_input(h) + b_hh,
state)`` (see :class:`rnnlab.core.cells.RecurrentCell`: it defines ``update`` and holds
``weight_hh``, optionally ``bias_hh``, and keeps the base class's ``step``) runs here instead
of through autograd's step-by-step graph:

* forward, without recording a graph: per step one ``addmm`` and the cell's ``update``; the
  gate pre-activations and the states entering each step are kept;
* backward, hand-written BPTT: per step the vector-Jacobian product of ``update`` alone
  (re-run on the saved gates and state, a handful of elementwise operations), then
  ``dh_{t-1} += d_gates_t · W_hh``; the weight gradient is one matrix product over all steps
  (``d_W_hh = Σ_t d_gates_tᵀ h_{t-1}``) instead of ``time`` small ones added one by one.

``update`` and its VJP are traced once into programs (:mod:`rnnlab.core.update_programs`)
that replay its ATen operations without Python or autograd per step; an update a program
cannot replay faithfully runs eagerly, with the same numbers. Where both traced graphs are
elementwise (gates, activations, per-unit parameters: most cells), they are also compiled
into one fused C++ loop each (:mod:`rnnlab.core.update_codegen`) and the whole time loop
runs in C++ (``torch.ops.rnnlab.split_forward``/``split_backward``: brgemm step products,
the fused update, padded rows handled in place), with no Python or ATen call per step
beyond the product; ``RNNLAB_FUSED_UPDATE=0`` keeps the programs.

That is the shape of rnnlab's C++ kernels (:mod:`rnnlab.core.kernels`) with the user's
elementwise part in place of the built-in gate equations. ``update`` must be a deterministic
function of its arguments and the cell's parameters (no dropout inside it: recurrent dropout
reaches it through ``recurrent_input``); the gradients of parameters it reads (a peephole
weight, a norm's gain) are summed over steps like ``W_hh``'s.

Lengths (post padding, as every runner sees them), Gal's recurrent dropout mask and weight
drop run here; zoneout and tracing (``torch.export``) take the plain loop, which computes
the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rnnlab.core import kernels
from rnnlab.core.cells import RecurrentCell, State
from rnnlab.core.update_programs import UpdatePrograms, update_programs


def splits_step(cell: torch.nn.Module) -> bool:
    """Whether ``cell`` declares the split this runner needs (see the module docstring)."""
    return (isinstance(cell, RecurrentCell) and callable(getattr(type(cell), "update", None))
            and type(cell).step is RecurrentCell.step
            and type(cell).recurrent_input is RecurrentCell.recurrent_input
            and isinstance(getattr(cell, "weight_hh", None), torch.Tensor))


def run_split(
    cell: RecurrentCell, x: torch.Tensor, start: State, real: torch.Tensor | None,
    recurrent_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, State]:
    """Run ``cell`` left to right over ``x (batch, time, input)``, post-padded.

    ``real (batch, time)`` bool, True at real steps (None: all real); ``recurrent_mask
    (batch, hidden)``: Gal's mask on ``h_{t-1}`` before the recurrent product, or None.

    Returns ``outputs (batch, time, output)``, zero at padding, and the state at each row's
    last real step (its start state for length 0), as :func:`rnnlab.core.scan.scan` does.
    """
    projected = cell.precompute(x).transpose(0, 1)  # (time, batch, gates): autograd's as usual
    weight = cell.weight_hh
    parts = bool(cell.update_takes_parts)
    _check_shapes(cell, projected, weight, start, parts)
    bias = getattr(cell, "bias_hh", None)
    if bias is not None and not parts:  # added once for all steps; parts keeps it apart
        projected = projected + bias
        bias = None
    names, sub_names, params = _update_parameters(cell)
    alive = None if real is None else real.transpose(0, 1).unsqueeze(-1)  # (time, batch, 1)
    programs = None
    if projected.shape[0]:
        leads = (projected[0],) if not parts else (
            projected[0], projected.new_zeros(projected.shape[1], weight.shape[0]))
        programs = update_programs(cell, leads, start, params, names, sub_names)
    if _runs_fused(programs, projected):
        alive_bytes = None if alive is None else alive.squeeze(-1).to(torch.uint8).contiguous()
        # Without a graph to record, keep no per-step values: inference allocates only its
        # outputs (first-touch page faults of (time, batch, gates) buffers cost about as much
        # as the step products at seed 002's size).
        save = torch.is_grad_enabled() and any(
            value is not None and value.requires_grad
            for value in (projected, weight, bias, *start, *params))
        results = _FusedSplitScan.apply(type(cell).__name__, len(start), programs, alive_bytes,
                                        recurrent_mask, parts, save, projected.contiguous(),
                                        weight, bias, *start, *params)
    else:
        results = _SplitScan.apply(cell, len(start), names, programs, alive, recurrent_mask,
                                   parts, projected, weight, bias, *start, *params)
    outputs, finals = results[0], tuple(results[1:])
    return outputs.transpose(0, 1), finals


def _check_shapes(cell: RecurrentCell, projected: torch.Tensor, weight: torch.Tensor,
                  start: State, parts: bool) -> None:
    """The split's sizes agree, or an error that names the one to change (addmm's own
    message names none of the cell's parts)."""
    name = type(cell).__name__
    if weight.dim() != 2 or weight.shape[1] != start[0].shape[-1]:
        raise ValueError(
            f"{name}.weight_hh must be (gates, hidden) with hidden = state_sizes[0] = "
            f"{start[0].shape[-1]} (it multiplies h_(t-1)), got {tuple(weight.shape)}")
    if projected.shape[-1] != weight.shape[0] and not parts:
        raise ValueError(
            f"{name}.precompute returns {projected.shape[-1]} features per step, but "
            f"weight_hh has {weight.shape[0]} rows: update() adds the two, so make "
            f"precompute's output as wide as weight_hh's first dimension")


def _update_parameters(cell: RecurrentCell
                       ) -> tuple[list[str | None], list[str], list[torch.Tensor]]:
    """The cell's trainable tensors other than ``W_hh``/``b_hh``, those ``update`` may read,
    with the attribute name of each of the cell's own (None for a sub-module's, a norm's
    gain), and the dotted names of the sub-modules' ones in their order. Those only
    ``precompute`` reads get a zero gradient from here and theirs from autograd."""
    skip = {"weight_hh", "bias_hh"}
    found: list[tuple[str | None, str, torch.Tensor]] = [
        (name, name, value) for name, value in cell.named_weights() if name not in skip]
    found += [(None, name, value) for name, value in cell.named_parameters() if "." in name]
    seen: set[int] = set()
    names, sub_names, values = [], [], []
    for name, dotted, value in found:
        if value.requires_grad and id(value) not in seen:
            seen.add(id(value))
            names.append(name)
            values.append(value)
            if name is None:
                sub_names.append(dotted)
    return names, sub_names, values


_NO_DOUBLE_BACKWARD = (
    "split step (update) runs a hand-written backward pass that cannot be differentiated "
    "twice: for second-order gradients run the layer with use_fused_kernel=False (the time "
    "loop, autograd at every step)")


def _runs_fused(programs: UpdatePrograms | None, projected: torch.Tensor) -> bool:
    """Whether the C++ time loop with the fused update runs (see :class:`_FusedSplitScan`)."""
    return (programs is not None and programs.fused is not None
            and projected.device.type == "cpu" and projected.shape[1] > 0  # brgemm: rows ≥ 1
            and not torch.compiler.is_compiling() and kernels.available())


class _FusedSplitScan(torch.autograd.Function):
    """The split runner's loop in C++ (``torch.ops.rnnlab.split_forward``/``split_backward``)
    around the update and its VJP compiled to fused loops (:mod:`rnnlab.core.update_codegen`):
    per step one brgemm and one pass over the batch, no Python. Inputs after the static ones
    as :class:`_SplitScan`'s, with ``alive (time, batch)`` as bytes; the same outputs."""

    @staticmethod
    def forward(ctx, name: str, n_state: int, programs, alive, recurrent_mask, parts: bool,
                save: bool, projected, weight, bias, *rest):
        start, params = rest[:n_state], rest[n_state:]
        read = [params[i].contiguous() for i in programs.used]
        forward, vjp = programs.fused
        outputs, products, *rest = torch.ops.rnnlab.split_forward(
            forward.address, projected, weight, bias, [part.contiguous() for part in start],
            read, alive, recurrent_mask, forward.widths[0], parts, save)
        states, finals = rest[:n_state], rest[n_state:]
        ctx.vjp, ctx.used, ctx.n_state, ctx.n_params = vjp, programs.used, n_state, len(params)
        ctx.name, ctx.parts, ctx.has_bias = name, parts, bias is not None
        ctx.alive, ctx.recurrent_mask = alive, recurrent_mask
        ctx.out_width = forward.widths[0]
        ctx.save_for_backward(projected if parts else None, products, weight, *states, *read)
        return (outputs, *finals)

    @staticmethod
    def backward(ctx, d_outputs, *d_finals):
        if torch.is_grad_enabled():  # create_graph=True: a second derivative was asked for
            raise RuntimeError(f"{ctx.name}'s {_NO_DOUBLE_BACKWARD}")
        projected, products, weight, *saved = ctx.saved_tensors
        states, read = saved[:ctx.n_state], saved[ctx.n_state:]
        if d_outputs is None:
            d_outputs = products.new_zeros((*products.shape[:2], ctx.out_width))
        d_finals = [part.new_zeros(part.shape[1:]) if grad is None else grad.contiguous()
                    for part, grad in zip(states, d_finals)]
        d_projected, d_weight, d_bias, *rest = torch.ops.rnnlab.split_backward(
            ctx.vjp.address, d_outputs.contiguous(), d_finals, projected, products, weight,
            ctx.has_bias, states, read, ctx.alive, ctx.recurrent_mask)
        d_start, d_read = rest[:ctx.n_state], rest[ctx.n_state:]
        d_params: list[torch.Tensor | None] = [None] * ctx.n_params
        for index, grad in zip(ctx.used, d_read):
            d_params[index] = grad
        return (None, None, None, None, None, None, None, d_projected, d_weight,
                d_bias if ctx.has_bias else None, *d_start, *d_params)


class _SplitScan(torch.autograd.Function):
    """Inputs after the static ones: ``projected (time, batch, gates)``, ``weight_hh (gates,
    hidden)``, ``bias_hh`` (None unless ``parts``: otherwise it is inside ``projected``), the
    start state parts, then the update's parameters. Outputs: ``outputs (time, batch,
    output)`` and the final state parts.

    ``parts`` (the cell's ``update_takes_parts``): ``update(x_t, hh_t, state)`` with the
    recurrent product ``hh_t = W_hh · h + b_hh`` apart, instead of ``update(x_t + hh_t,
    state)``. The update's leading arguments ("leads") are ``(gates_t,)`` or ``(x_t, hh_t)``.
    """

    @staticmethod
    def forward(ctx, cell, n_state: int, names, programs, alive, recurrent_mask, parts: bool,
                projected, weight, bias, *rest):
        start, params = tuple(rest[:n_state]), tuple(rest[n_state:])
        state = start
        read = tuple(params[i] for i in programs.used) if programs is not None else ()
        zero = projected.new_zeros(())
        entering, products, outputs = [], [], []
        weight_t = weight.t()
        for t in range(projected.shape[0]):
            h_in = state[0] if recurrent_mask is None else state[0] * recurrent_mask
            if parts:
                product = (torch.mm(h_in, weight_t) if bias is None
                           else torch.addmm(bias, h_in, weight_t))
                leads = (projected[t], product)
            else:
                product = torch.addmm(projected[t], h_in, weight_t)  # the gates
                leads = (product,)
            if programs is not None:
                output, *new_state = programs.forward(*leads, *state, *read)
            else:
                output, new_state = cell.update(*leads, state)
            new_state = tuple(new_state)
            if alive is not None:
                new_state = tuple(torch.where(alive[t], new, old)
                                  for new, old in zip(new_state, state))
                output = torch.where(alive[t], output, zero)
            entering.append(state)
            products.append(product)
            outputs.append(output)
            state = new_state
        time = projected.shape[0]
        stacked_states = [torch.stack([step[part] for step in entering]) if time else
                          start[part].new_empty((0, *start[part].shape))
                          for part in range(n_state)]
        product_all = (torch.stack(products) if time
                       else projected.new_empty((0, projected.shape[1], weight.shape[0])))
        output_all = (torch.stack(outputs) if time
                      else projected.new_empty((0, projected.shape[1], start[0].shape[-1])))
        ctx.cell, ctx.n_state, ctx.names, ctx.programs = cell, n_state, names, programs
        ctx.alive, ctx.recurrent_mask, ctx.parts = alive, recurrent_mask, parts
        ctx.has_bias = bias is not None
        ctx.output_shape = output_all.shape
        ctx.save_for_backward(projected if parts else None, product_all, weight,
                              *stacked_states, *params)
        return (output_all, *state)

    @staticmethod
    def backward(ctx, d_outputs, *d_finals):
        if torch.is_grad_enabled():  # create_graph=True: a second derivative was asked for
            raise RuntimeError(f"{type(ctx.cell).__name__}'s {_NO_DOUBLE_BACKWARD}")
        projected, product_all, weight, *saved = ctx.saved_tensors
        n_state, parts = ctx.n_state, ctx.parts
        states, params = saved[:n_state], tuple(saved[n_state:])
        alive, mask, cell = ctx.alive, ctx.recurrent_mask, ctx.cell
        time = product_all.shape[0]
        d_state = [part.new_zeros(part.shape[1:]) if grad is None else grad
                   for part, grad in zip(states, d_finals)]
        if d_outputs is None:
            d_outputs = product_all.new_zeros(ctx.output_shape)
        d_product_all = torch.empty_like(product_all)  # d gates, or d hh with parts
        d_projected = torch.empty_like(projected) if parts else d_product_all
        d_params = [torch.zeros_like(value) for value in params]
        # the cell's own parameters as the forward pass read them (weight drop or another
        # override may have ended since)
        own = {name: value for name, value in zip(ctx.names, params) if name is not None}
        read = tuple(params[i] for i in ctx.programs.used) if ctx.programs is not None else ()
        for t in range(time - 1, -1, -1):
            entering = tuple(part[t] for part in states)
            leads = (projected[t], product_all[t]) if parts else (product_all[t],)
            d_out, d_new = d_outputs[t], d_state
            if alive is not None:
                keep = alive[t]
                passed = [torch.where(keep, 0.0, grad) for grad in d_new]
                d_out = torch.where(keep, d_out, 0.0)
                d_new = [torch.where(keep, grad, 0.0) for grad in d_new]
            if ctx.programs is not None:
                d_leads, d_entering, d_step_params = _program_vjp(
                    ctx.programs, leads, entering, read, len(params), d_out, d_new)
            else:
                d_leads, d_entering, d_step_params = _update_vjp(
                    cell, leads, entering, own, params, d_out, d_new)
            if alive is not None:
                d_entering = [grad + through for grad, through in zip(d_entering, passed)]
            d_product = d_leads[-1]
            d_h = d_product @ weight
            d_entering[0] = d_entering[0] + (d_h if mask is None else d_h * mask)
            d_product_all[t] = d_product
            if parts:
                d_projected[t] = d_leads[0]
            for total, grad in zip(d_params, d_step_params):
                if grad is not None:
                    total.add_(grad)
            d_state = d_entering
        h_in = states[0] if mask is None else states[0] * mask
        d_weight = (d_product_all.reshape(-1, product_all.shape[-1]).t()
                    @ h_in.reshape(-1, h_in.shape[-1]))
        d_bias = d_product_all.sum((0, 1)) if ctx.has_bias else None
        return (None, None, None, None, None, None, None, d_projected, d_weight, d_bias,
                *d_state, *d_params)


def _program_vjp(programs: UpdatePrograms, leads: tuple[torch.Tensor, ...], entering: State,
                 read: tuple[torch.Tensor, ...], n_params: int, d_output: torch.Tensor,
                 d_new_state: Sequence[torch.Tensor]):
    """:func:`_update_vjp` by the traced program: gradients of the leading arguments, the
    entering state parts and the ``n_params`` parameters (None for those ``update`` does not
    read; ``read`` holds the ones it does, in ``programs.used`` order)."""
    n_lead, n_state = len(leads), len(entering)
    grads = programs.vjp(*leads, *entering, *read, d_output, *d_new_state)
    d_params: list[torch.Tensor | None] = [None] * n_params
    for index, grad in zip(programs.used, grads[n_lead + n_state:]):
        d_params[index] = grad
    return grads[:n_lead], list(grads[n_lead:n_lead + n_state]), d_params


def _update_vjp(cell: RecurrentCell, leads: tuple[torch.Tensor, ...], entering: State,
                own: dict[str, torch.Tensor], params: tuple[torch.Tensor, ...],
                d_output: torch.Tensor, d_new_state: Sequence[torch.Tensor]):
    """``update``'s vector-Jacobian product at one step: the gradients of its leading
    arguments (``gates``, or ``x_t`` and ``hh_t``), of the entering state parts and of
    ``params``, given those of its output and new state. ``own``: the cell's parameters by
    name, put back as the forward pass read them."""
    with torch.enable_grad(), cell.weights_replaced(own):
        leads = tuple(lead.detach().requires_grad_() for lead in leads)
        state = tuple(part.detach().requires_grad_() for part in entering)
        output, new_state = cell.update(*leads, state)
        pairs = [(value, grad) for value, grad in zip((output, *new_state),
                                                      (d_output, *d_new_state))
                 if value.requires_grad]
        grads = torch.autograd.grad([value for value, _ in pairs], (*leads, *state, *params),
                                    [grad for _, grad in pairs], allow_unused=True)
    n_lead = len(leads)
    d_leads = tuple(grad if grad is not None else torch.zeros_like(lead)
                    for grad, lead in zip(grads[:n_lead], leads))
    d_state = [grad if grad is not None else torch.zeros_like(part)
               for grad, part in zip(grads[n_lead:n_lead + len(state)], state)]
    return d_leads, d_state, grads[n_lead + len(state):]
