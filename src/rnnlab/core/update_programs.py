"""A user cell's ``update`` and its vector-Jacobian product as traced programs.

The split runner (:mod:`rnnlab.core.split_step`) calls a cell's ``update`` once per step
forward and its VJP once per step backward. Run eagerly, each call is a dozen Python-level
tensor operations, and the VJP an autograd graph built and walked at every step (~5× the
update's own time). Here both are traced once into TorchScript programs (ATen operations
replayed by the C++ interpreter, no Python per operation, no graph building):

    forward(*leads, *state, *params)                     -> (output, *new_state)
    vjp(*leads, *state, *params, d_output, *d_new_state) -> (*d_leads, *d_state, *d_params)

``leads`` are update's leading arguments: ``(gates,)``, or ``(x_t, hh_t)`` for a cell with
``update_takes_parts``. Where both graphs are elementwise, :attr:`UpdatePrograms.fused` holds
them compiled to fused C++ loops as well (:mod:`rnnlab.core.update_codegen`), which the split
runner prefers.

``update`` is traced with fake tensors (:func:`torch.fx.experimental.proxy_tensor.make_fx`),
the cell's parameters — its own, which weight drop may replace, and its sub-modules' (a
norm's gain) — passed in as arguments, so the programs read the values of each call and
never a stale copy. Tracing also finds what a program could not replay faithfully, and
then the runner keeps calling ``update`` eagerly (the same numbers, slower; a warning says
why, once per cell class):

* Python control flow on tensor values (``if x.max() > 0``, ``.item()``): fake tensors have
  no values, so the trace fails instead of baking in one branch;
* tensors the update reads that are neither arguments nor parameters (a plain tensor
  attribute, a buffer): they would be frozen into the program.

An update that draws random numbers is refused: its forward and backward would draw
different ones (recurrent dropout belongs in ``recurrent_input``). Programs are kept per
cell and per (shapes, dtypes, device, the plain Python attributes of the cell and its
sub-modules: ``training``, a flag, a size): what a trace specialises on, so changing any of
them traces again. State the trace cannot see (a global variable, a mutable container the
update reads) must not change between calls. A cell sets ``trace_update = False`` to keep
the eager update.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from rnnlab.core import kernels
from rnnlab.core.update_codegen import FusedProgram, fuse

__all__ = ["UpdatePrograms", "update_programs"]

# Distinct keys (batch sizes, modes) traced per cell. A trace costs ~0.2-0.3 s, so a cell
# fed ever new batch sizes stops tracing after this many: new ones run eagerly (a trace per
# call would be slower than no trace at all).
MAX_PROGRAMS_PER_CELL = 8

_cache: weakref.WeakKeyDictionary[nn.Module, dict[tuple, UpdatePrograms | None]] = (
    weakref.WeakKeyDictionary())
_warned: set[type] = set()


@dataclass(frozen=True)
class UpdatePrograms:
    """The traced ``forward`` and ``vjp`` of one cell's update at one set of shapes; called
    with flat tensors (see the module docstring), both return tuples of tensors. ``used``:
    the indices of the parameters ``update`` reads, the only ones the programs take (and
    ``vjp`` returns gradients for)."""

    forward: Callable[..., tuple[torch.Tensor, ...]]
    vjp: Callable[..., tuple[torch.Tensor, ...]]
    used: tuple[int, ...]
    # The same two graphs as fused C++ loops (rnnlab.core.update_codegen) where every
    # operation in them is elementwise, else None: (forward, vjp).
    fused: tuple[FusedProgram, FusedProgram] | None = None


def update_programs(cell: nn.Module, leads: Sequence[torch.Tensor],
                    state: Sequence[torch.Tensor], params: Sequence[torch.Tensor],
                    names: Sequence[str | None], sub_names: Sequence[str]
                    ) -> UpdatePrograms | None:
    """The cell's programs for these inputs, traced on first use; None when the update must
    run eagerly (see the module docstring).

    ``params`` are the tensors ``update`` may read: first the cell's own by attribute name
    (``names``, None for a sub-module's), the sub-modules' dotted names in ``sub_names`` in
    the order they appear among the ``None`` entries.
    Raises ValueError when ``update`` draws random numbers.
    """
    if not getattr(cell, "trace_update", True) or torch.jit.is_scripting():
        return None
    key = (_python_state(cell), leads[0].device.type,
           *((tuple(part.shape), part.dtype) for part in (*leads, *state)),
           *((tuple(value.shape), value.dtype) for value in params))
    programs = _cache.setdefault(cell, {})
    if key not in programs:
        if len(programs) >= MAX_PROGRAMS_PER_CELL:
            _warn_once(cell, f"it was already traced for {MAX_PROGRAMS_PER_CELL} different "
                             "shapes or settings (new batch sizes keep arriving: pad the last "
                             "batch or use fewer sizes to keep the traced programs)")
            return None
        programs[key] = _trace(cell, leads, state, params, names, sub_names)
    return programs[key]


_SIMPLE = (bool, int, float, str, type(None))
# RecurrentCell's own bookkeeping, set and reset by the layers around every call.
_RUNNER_FLAGS = frozenset({"_recurrent_mask_used", "_recurrent_mask", "_weight_overrides",
                           "_adopted"})


def _python_state(cell: nn.Module) -> tuple:
    """What a trace bakes in that is not a tensor: the plain attributes (numbers, strings,
    flags, tuples of them; ``training`` among them) of the cell and its sub-modules. A change
    to any of them gives a new key, so the update is traced again instead of replayed stale.
    """
    state = []
    for module in cell.modules():
        for name, value in vars(module).items():
            if name in _RUNNER_FLAGS:
                continue
            if isinstance(value, _SIMPLE) or (isinstance(value, tuple) and all(
                    isinstance(item, _SIMPLE) for item in value)):
                state.append((name, value))
    return tuple(state)


def _pure_update(cell: nn.Module, n_lead: int, n_state: int, names: Sequence[str | None],
                 sub_names: Sequence[str]) -> Callable[..., tuple[torch.Tensor, ...]]:
    """``update`` as a function of tensors only: (*leads, *state, *params) -> (output,
    *new_state), every parameter read from the arguments."""
    holder = _UpdateCall(cell)

    def update(*args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        leads = args[:n_lead]
        state, params = args[n_lead:n_lead + n_state], args[n_lead + n_state:]
        own = {name: value for name, value in zip(names, params) if name is not None}
        subs = [value for name, value in zip(names, params) if name is None]
        replaced = {f"cell.{name}": value for name, value in zip(sub_names, subs)}
        with cell.weights_replaced(own):
            output, new_state = torch.func.functional_call(holder, replaced, (leads, state),
                                                           strict=False)
        return (output, *tuple(new_state))

    return update


class _UpdateCall(nn.Module):
    """Lets :func:`torch.func.functional_call` replace a cell's sub-module parameters while
    ``update`` (not the cell's ``forward``) runs."""

    def __init__(self, cell: nn.Module) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, leads: tuple[torch.Tensor, ...], state: tuple[torch.Tensor, ...]):
        return self.cell.update(*leads, state)


def _trace(cell: nn.Module, leads: Sequence[torch.Tensor], state: Sequence[torch.Tensor],
           params: Sequence[torch.Tensor], names: Sequence[str | None],
           sub_names: Sequence[str]) -> UpdatePrograms | None:
    from torch.fx.experimental.proxy_tensor import make_fx

    n_lead, n_state = len(leads), len(state)
    sub_of = dict(zip([i for i, name in enumerate(names) if name is None], sub_names))
    example = [*(lead.detach() for lead in leads), *(part.detach() for part in state)]
    why = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # First with every parameter, to learn which ones update reads: the programs
            # take only those (no zero gradients built and added for the others).
            everything = _pure_update(cell, n_lead, n_state, names, sub_names)
            probe = make_fx(everything, tracing_mode="fake")(
                *example, *(value.detach() for value in params))
            placeholders = [n for n in probe.graph.nodes if n.op == "placeholder"]
            used = tuple(i for i, node in enumerate(placeholders[n_lead + n_state:])
                         if node.users)
            update = _pure_update(cell, n_lead, n_state, [names[i] for i in used],
                                  [sub_of[i] for i in used if names[i] is None])
            example += [params[i].detach() for i in used]
            n_inputs = len(example)

            def vjp(*args: torch.Tensor) -> tuple[torch.Tensor, ...]:
                _, pull_back = torch.func.vjp(update, *args[:n_inputs])
                return tuple(pull_back(tuple(args[n_inputs:])))

            forward_graph = make_fx(update, tracing_mode="fake")(*example)
            with torch.no_grad():
                cotangents = [torch.zeros_like(value) for value in update(*example)]
            vjp_graph = make_fx(vjp, tracing_mode="fake")(*example, *cotangents)
    except Exception as error:  # any trace failure means: run it eagerly
        why = f"it could not be traced ({_first_line(error)})"
    if why is None:
        for graph in (forward_graph, vjp_graph):
            _refuse_randomness(cell, graph)
        if any(node.op == "get_attr" for graph in (forward_graph, vjp_graph)
               for node in graph.graph.nodes):
            why = ("it reads a tensor that is neither an argument nor a trainable "
                   "parameter (a plain tensor attribute, a buffer or a frozen parameter), "
                   "which a traced program would freeze")
    if why is not None:
        _warn_once(cell, why)
        return None
    fused = _fused(forward_graph, vjp_graph, leads[0].shape[0], n_lead + n_state)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript's deprecation notes
            forward, backward = _compiled(forward_graph), _compiled(vjp_graph)
    except Exception as error:  # an op TorchScript lacks: run eagerly
        _warn_once(cell, f"TorchScript cannot compile its traced program ({_first_line(error)})")
        return None
    return UpdatePrograms(forward, backward, used, fused)


def _fused(forward_graph: torch.fx.GraphModule, vjp_graph: torch.fx.GraphModule, batch: int,
           n_rows: int) -> tuple[FusedProgram, FusedProgram] | None:
    """Both graphs as fused loops, or None if either is not elementwise. ``n_rows``: the
    forward's leading arguments that are rows of the batch (leads and state); the VJP's rows
    are those and, after the parameters, the cotangents. Not compiled where the split
    runner's C++ loop, which calls them, is unavailable."""
    if not kernels.available():
        return None
    forward = fuse(forward_graph, batch, lambda index, count: index < n_rows)
    if forward is None or any(kind != "row" for kind in forward.outputs):
        return None
    n_cotangents = len(forward.outputs)
    vjp = fuse(vjp_graph, batch,
               lambda index, count: index < n_rows or index >= count - n_cotangents)
    if vjp is None:
        return None
    return forward, vjp


def _compiled(graph: torch.fx.GraphModule) -> torch.jit.ScriptModule:
    """The graph as a TorchScript program. TorchScript resolves an operator's overload from
    its argument types itself and does not parse ``aten.split.Tensor``: call the packets."""
    for node in graph.graph.nodes:
        if node.op == "call_function" and isinstance(node.target, torch._ops.OpOverload):
            node.target = node.target.overloadpacket
    graph.recompile()
    return torch.jit.script(graph)


def _first_line(error: Exception) -> str:
    """``Type: first non-empty line of the message`` (tracer messages often start with a
    newline, and some are empty)."""
    line = next((text.strip() for text in str(error).splitlines() if text.strip()), "")
    return f"{type(error).__name__}: {line}" if line else type(error).__name__


def _warn_once(cell: nn.Module, why: str) -> None:
    if type(cell) not in _warned:
        _warned.add(type(cell))
        warnings.warn(f"{type(cell).__name__}.update runs eagerly in the split runner "
                      f"(slower, the same numbers): {why}. Set trace_update = False on the "
                      "cell to silence this.", RuntimeWarning, stacklevel=5)


def _refuse_randomness(cell: nn.Module, graph: torch.fx.GraphModule) -> None:
    for node in graph.graph.nodes:
        tags = getattr(node.target, "tags", ()) if node.op == "call_function" else ()
        if torch.Tag.nondeterministic_seeded in tags:
            op = node.target.overloadpacket.__name__
            raise ValueError(
                f"{type(cell).__name__}.update draws random numbers ({op}): the split "
                "runner re-runs update in the backward pass, which would draw others. "
                "Keep update deterministic (recurrent dropout reaches a cell through "
                "recurrent_input; see rnnlab.RecurrentCell) or override step instead")
