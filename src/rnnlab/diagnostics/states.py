"""Every unit's hidden state, cell state and gates at every token, for every layer and direction.

Standard cells run on PyTorch's fused kernels, which return ``h`` only. Here each layer and
direction is rerun on the time loop with the cell's equations spelled out
(:mod:`rnnlab.diagnostics.gates`), so the gates come out too; the ``h`` of that rerun is then
checked against what the layer itself computed (its fused kernel), so what is shown is what
the model computes.

    trace_layer(layer, x)          a bare rnnlab layer: x (time, input_size)
    trace_model(model, ids)        any model holding rnnlab layers: ids (time,)
    trace_run(run_dir, text)       a trained run (classifier or LM): the text is tokenized
                                   and encoded as the run was (rnnlab.diagnostics.run_text)

A two-layer bidirectional LSTM on 5 tokens gives 4 direction traces; each holds (tokens,
units) arrays in input order (row t is token t, also for the backward direction)::

    layer 0 forward    h c input forget output candidate      each (5, hidden)
    layer 0 backward   ...                                     row t: after reading x[t..4]
    layer 1 forward    ...
    layer 1 backward   ...

In a model, layers are found by running it once with forward hooks on every
:class:`rnnlab.Recurrent`, which records each layer's actual input and output; so any
architecture works (seed 000's four-LSTM model included). Everything runs in eval semantics
(no dropout), on one unpadded sequence.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from rnnlab.core.cell_variants import CIFGLSTMCell, LayerNormLSTMCell, PeepholeLSTMCell
from rnnlab.core.cells import LSTMCell
from rnnlab.core.dropout import zoneout
from rnnlab.core.layers import Recurrent
from rnnlab.core.validation import check_initial_state, check_input
from rnnlab.diagnostics.gates import gate_step

__all__ = ["DirectionStates", "StateTrace", "trace_layer", "trace_model", "trace_run"]

LSTM_FAMILY = (LSTMCell, PeepholeLSTMCell, CIFGLSTMCell, LayerNormLSTMCell)
# The loop and the fused kernel sum in different orders: float32 agrees to ~1e-6.
VERIFY_TOLERANCE = 1e-4


@dataclass(frozen=True, eq=False)
class DirectionStates:
    """One layer and direction: ``values[kind]`` is ``(tokens, units)`` float32, input order.

    Kinds, in display order: ``h``, then ``c`` (LSTM cells) or ``state1``… (a user cell's
    other state parts), then the gates (see :mod:`rnnlab.diagnostics.gates`).
    """

    module: str  # the layer's name inside the model ("rnn"); "" for a bare layer
    layer: int
    direction: str  # "forward" or "backward" (reads right to left)
    cell: str  # the cell's class name
    values: dict[str, np.ndarray]
    gates_exposed: bool  # False: a cell without a gate-exposing step (states only)

    @property
    def name(self) -> str:
        prefix = f"{self.module} " if self.module else ""
        return f"{prefix}layer {self.layer} {self.direction}"


@dataclass(frozen=True, eq=False)
class StateTrace:
    """What :func:`trace_layer`, :func:`trace_model` and :func:`trace_run` return.

    ``tokens``: (tokens,) display strings; ``directions``: one entry per layer and direction;
    ``notes``: what the user should know (a cell that exposes no gates). From a text, also
    the text, each token's character span in it, its id and whether the vocabulary knew it.
    """

    tokens: tuple[str, ...]
    directions: tuple[DirectionStates, ...]
    notes: tuple[str, ...] = ()
    text: str | None = None
    spans: tuple[tuple[int, int], ...] | None = None
    token_ids: tuple[int, ...] | None = None
    known: tuple[bool, ...] | None = None
    source: str = ""  # where the model came from, for titles ("runs/lm (language model)")
    _by_name: dict[str, DirectionStates] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {d.name: d for d in self.directions})

    @property
    def names(self) -> tuple[str, ...]:
        """Every direction's name (``"rnn layer 0 forward"``), in order."""
        return tuple(self._by_name)

    def direction(self, name: str | int = 0) -> DirectionStates:
        """A direction by name or index."""
        if isinstance(name, int):
            return self.directions[name]
        if name not in self._by_name:
            raise KeyError(f"no direction {name!r}; the trace has {list(self._by_name)}")
        return self._by_name[name]

    def states(self, kind: str = "h", name: str | int = 0) -> np.ndarray:
        """``(tokens, units)``: one kind (``"h"``, ``"c"``, ``"forget"``…) of one direction."""
        direction = self.direction(name)
        if kind not in direction.values:
            raise KeyError(f"{direction.name} ({direction.cell}) has no {kind!r}; it has "
                           f"{list(direction.values)}")
        return direction.values[kind]


# -- running one direction on the loop, gates exposed ----------------------------------------
def _state_names(cell: nn.Module, parts: int) -> tuple[str, ...]:
    if isinstance(cell, LSTM_FAMILY):
        return ("h", "c")[:parts]
    return ("h", *(f"state{k}" for k in range(1, parts)))


def _run_direction(cell: nn.Module, x: torch.Tensor, start: tuple[torch.Tensor, ...],
                   zoneout_rates: tuple[float, ...]) -> tuple[torch.Tensor, dict, bool]:
    """x ``(1, time, input)``, start: ``(1, size)`` per state part → outputs ``(1, time,
    output)``, ``{kind: (time, units)}`` and whether the gates are exposed."""
    exposing = gate_step(cell)
    precomputed = cell.precompute(x) if hasattr(cell, "precompute") else x
    plain_step = cell.step if hasattr(cell, "step") else cell
    zoning = any(rate > 0 for rate in zoneout_rates)
    names = _state_names(cell, len(start))
    records: dict[str, list[torch.Tensor]] = {}
    state, outputs = start, []
    for t in range(x.shape[1]):
        if exposing is not None:
            h, new_state, gates = exposing(cell, precomputed[:, t], state)
        else:
            (h, new_state), gates = plain_step(precomputed[:, t], state), {}
        if zoning:  # eval: the expectation, as the time loop computes it
            new_state = zoneout(state, new_state, zoneout_rates, training=False)
            h = new_state[0]
        state = tuple(new_state)
        outputs.append(h)
        for name, value in (*zip(names, state), *gates.items()):
            records.setdefault(name, []).append(value)
    values = {name: torch.cat(parts).detach().cpu().float().numpy()
              for name, parts in records.items()}
    if not outputs:
        return x.new_zeros(1, 0, start[0].shape[-1]), values, exposing is not None
    return torch.stack(outputs, dim=1), values, exposing is not None


def _flip_values(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: np.ascontiguousarray(value[::-1]) for name, value in values.items()}


@torch.no_grad()
def _trace_call(layer: Recurrent, x: torch.Tensor, hx, module: str
                ) -> tuple[list[DirectionStates], torch.Tensor]:
    """Rerun one call of ``layer`` (x ``(1, time, input)``): its directions and the top
    layer's output ``(1, time, directions*output)`` in the layer's own output order
    (processing order for ``go_backwards``, as the layer returns it)."""
    states = check_initial_state(hx, layer.cells, layer.num_layers, layer.num_directions, 1,
                                 x, unbatched=False)
    rates = tuple(layer.dropout_spec.zoneout)
    layer_input = x.flip(1) if layer.go_backwards else x
    traced: list[DirectionStates] = []
    for index_layer in range(layer.num_layers):
        outputs = []
        for direction in range(layer.num_directions):
            index = index_layer * layer.num_directions + direction
            cell = layer.cells[index]
            start = tuple(part[index] for part in states)
            backward = direction == 1
            inputs = layer_input.flip(1) if backward else layer_input
            out, values, exposed = _run_direction(cell, inputs, start, rates)
            if backward:
                out = out.flip(1)
            if backward != layer.go_backwards:  # values in processing order → input order
                values = _flip_values(values)
            outputs.append(out)
            reads_backward = backward or layer.go_backwards
            traced.append(DirectionStates(module, index_layer,
                                          "backward" if reads_backward else "forward",
                                          type(cell).__name__, values, exposed))
        layer_input = torch.cat(outputs, dim=-1)
    return traced, layer_input


def _verify(recomputed: torch.Tensor, actual: torch.Tensor, where: str) -> None:
    """The loop's ``h`` must be the layer's own output (its fused kernel, for standard cells)."""
    if recomputed.shape != actual.shape:
        raise RuntimeError(f"{where}: recomputed outputs have shape {tuple(recomputed.shape)}, "
                           f"the layer's {tuple(actual.shape)}")
    gap = float((recomputed - actual).abs().max()) if actual.numel() else 0.0
    scale = 1.0 + float(actual.abs().max()) if actual.numel() else 1.0
    if not gap <= VERIFY_TOLERANCE * scale:
        raise RuntimeError(
            f"{where}: the recomputed states differ from the layer's own output by {gap:.3g} "
            "(a cell whose step_with_gates or equations do not match its forward?)")


_FORWARD_SIGNATURE = inspect.signature(Recurrent.forward)


def _one_sequence(layer: Recurrent, args: tuple, kwargs: dict) -> tuple[torch.Tensor, object]:
    """The input ``(1, time, input)`` and initial state of a recorded ``layer(...)`` call."""
    bound = _FORWARD_SIGNATURE.bind(layer, *args, **kwargs).arguments
    if bound.get("hx") is not None and bound.get("initial_state") is not None:
        raise ValueError("pass the initial state once: as hx or initial_state=")
    hx = bound.get("hx") if bound.get("hx") is not None else bound.get("initial_state")
    x = bound["input"]
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"states are traced on a padded tensor input, got {type(x).__name__}")
    x, unbatched = check_input(x, layer.input_size, layer.batch_first)
    if x.shape[0] != 1:
        raise ValueError(f"states are traced on one sequence (batch 1), got batch {x.shape[0]}")
    lengths, mask = bound.get("lengths"), bound.get("mask")
    if mask is not None:
        lengths = torch.as_tensor(mask).sum(-1)
    if lengths is not None and int(torch.as_tensor(lengths).reshape(-1)[0]) != x.shape[1]:
        raise ValueError("states are traced on one unpadded sequence: lengths must equal "
                         f"its time {x.shape[1]}, got {lengths}")
    if hx is not None and unbatched:
        hx = tuple(part.unsqueeze(1) for part in ((hx,) if torch.is_tensor(hx) else hx))
    return x, hx


def _output_of(result, layer: Recurrent) -> torch.Tensor:
    output = result.output if hasattr(result, "output") else result[0]
    if output.dim() == 2:
        return output.unsqueeze(0)
    return output if layer.batch_first else output.transpose(0, 1)


def _notes(directions: list[DirectionStates]) -> tuple[str, ...]:
    silent = sorted({d.cell for d in directions if not d.gates_exposed})
    return tuple(
        f"{cell} exposes no gates: showing its states only (give the cell a method "
        "step_with_gates(precomputed_t, state) -> (h, state, {gate: (batch, units)}) to "
        "show them)" for cell in silent)


# -- public entry points -----------------------------------------------------------------------
def trace_layer(layer: Recurrent, x: torch.Tensor, hx=None, *,
                tokens: tuple[str, ...] | None = None) -> StateTrace:
    """States and gates of a bare rnnlab layer on one sequence.

    x: ``(time, input_size)``, or batched with batch 1 in the layer's layout; hx: as the
    layer takes it (zeros if None). The recomputed ``h`` is checked against ``layer(x, hx)``.
    """
    was_training = layer.training
    layer.eval()
    try:
        with torch.no_grad():
            actual = _output_of(layer(x, hx), layer)
            x_batched, hx_batched = _one_sequence(layer, (x, hx), {})
            directions, recomputed = _trace_call(layer, x_batched, hx_batched, "")
    finally:
        layer.train(was_training)
    _verify(recomputed, actual, "layer")
    time = x_batched.shape[1]
    return StateTrace(tokens=tuple(tokens) if tokens else tuple(map(str, range(time))),
                      directions=tuple(directions), notes=_notes(directions))


def trace_model(model: nn.Module, ids: torch.Tensor, *, tokens: tuple[str, ...] | None = None,
                **forward_kwargs) -> StateTrace:
    """States and gates of every rnnlab layer inside ``model`` on one sequence of ids.

    ids: ``(time,)`` or ``(1, time)`` int64; ``model(ids, **forward_kwargs)`` is called once
    in eval mode, with hooks recording what each :class:`~rnnlab.Recurrent` receives and
    returns. Layers called more than once get ``#2``, ``#3`` after their name.
    """
    ids = torch.as_tensor(ids)
    ids = ids.unsqueeze(0) if ids.dim() == 1 else ids
    if ids.dim() != 2 or ids.shape[0] != 1:
        raise ValueError(f"ids must be (time,) or (1, time), got shape {tuple(ids.shape)}")
    layers = {module: name for name, module in model.named_modules()
              if isinstance(module, Recurrent)}
    if not layers:
        raise ValueError(f"{type(model).__name__} holds no rnnlab recurrent layer "
                         "(rnnlab.LSTM/GRU/RNN/Recurrent); nothing to trace")
    calls: list[tuple[Recurrent, tuple, dict, object]] = []

    def record(module, args, kwargs, result):
        calls.append((module, args, kwargs, result))

    handles = [layer.register_forward_hook(record, with_kwargs=True) for layer in layers]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(ids, **forward_kwargs)
            directions: list[DirectionStates] = []
            seen: dict[str, int] = {}
            for layer, args, kwargs, result in calls:
                name = layers[layer] or type(layer).__name__
                seen[name] = seen.get(name, 0) + 1
                label = name if seen[name] == 1 else f"{name}#{seen[name]}"
                x, hx = _one_sequence(layer, args, kwargs)
                traced, recomputed = _trace_call(layer, x, hx, label)
                _verify(recomputed, _output_of(result, layer), label)
                directions += traced
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    time = ids.shape[1]
    return StateTrace(tokens=tuple(tokens) if tokens else tuple(map(str, range(time))),
                      directions=tuple(directions), notes=_notes(directions),
                      token_ids=tuple(int(i) for i in ids[0]))


def trace_run(run, text: str, *, argument: str = "text") -> StateTrace:
    """States and gates of a trained run on ``text``.

    run: a run directory (``rnnlab train --out`` or ``rnnlab lm train --out``) or a loaded
    :class:`~rnnlab.train.SavedRun`. The text is tokenized and encoded as the run's training
    data was (see :mod:`rnnlab.diagnostics.run_text`) and read whole: no padding, no
    truncation to the run's ``maxlen``. ``argument`` names the text in error messages.
    """
    from rnnlab.diagnostics.run_text import encode_text
    from rnnlab.train.run_files import SavedRun, load_run

    saved = run if isinstance(run, SavedRun) else load_run(run)
    encoded = encode_text(text, saved.vocab, saved.kind, argument=argument)
    ids = torch.tensor([encoded.ids], dtype=torch.long)
    forward_kwargs = {}
    if saved.kind == "classifier" and saved.model_config.masked:
        forward_kwargs["lengths"] = torch.tensor([len(encoded.ids)])
    trace = trace_model(saved.model, ids, tokens=encoded.display, **forward_kwargs)
    kind = saved.kind.replace("_", " ")
    return replace(trace, text=text, spans=encoded.spans, known=encoded.known,
                   source=f"{saved.run_dir} ({kind}, {saved.model.__class__.__name__})")
