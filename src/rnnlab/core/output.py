"""The one output object every rnnlab recurrent layer returns.

Seed 001 is about how hard it is to read the outputs of a multi-layer bidirectional
``torch.nn.LSTM``: the sequence output concatenates directions, ``h_n`` interleaves layers and
directions, and ``output[:, -1]`` is *not* "the last state" of the backward direction (that one
sits at position 0) nor of any direction once sequences are padded. This object keeps torch's
layouts (it unpacks like torch's tuple) and names the pieces users actually want::

    out = lstm(x, lengths=lengths)            # 2 layers, bidirectional, batch_first
    output, (h_n, c_n) = out                  # exactly torch's layouts
    out.output          (batch, time, 2*hidden)   fwd ⊕ bwd at each input position, 0 at padding
    out.last            (batch, 2*hidden)         fwd at last real token ⊕ bwd at first real token
    out.final_hidden    (layers, 2, batch, hidden) h_n regrouped: [layer, direction]
    out.forward_output  (batch, time, hidden)     the forward half of ``output``
    out.backward_output (batch, time, hidden)     the backward half of ``output``

For a unidirectional ``go_backwards=True`` layer (Keras semantics) ``output`` is in processing
order, as Keras returns it; :func:`rnnlab.core.padding.flip_time` puts it back in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields

import torch
import torch.utils._pytree as pytree
from torch.nn.utils.rnn import PackedSequence

from rnnlab.core.padding import lengths_to_mask


@dataclass(frozen=True)
class RecurrentOutput:
    """Outputs of a recurrent layer.

    Attributes:
        output: ``(batch, time, directions*hidden)`` (``(time, batch, …)`` unless
            ``batch_first``): the top layer's output at every position, zero at padding.
        h_n: ``(layers*directions, batch, hidden)``, torch's ``h_n``: the final hidden state
            per layer and direction, layer-major, forward first.
        other_states: the other final state parts in the same layout (``(c_n,)`` for LSTM
            cells), or a function computing them on first use (see :attr:`final_states`).
        lengths: ``(batch,)`` int64 real lengths, or None when every position is real.
        padding: "post" or "pre": where the padding sits in ``output``.
        batch_first, num_layers, num_directions, go_backwards: how the layer was run.
        packed_output: when the input was a ``PackedSequence``, the output packed the same
            way (same ``batch_sizes`` and sort order), which is what ``out[0]`` and
            ``output, h = out`` give, as torch; ``output`` stays the padded tensor.
    """

    output: torch.Tensor
    h_n: torch.Tensor
    lengths: torch.Tensor | None
    padding: str
    batch_first: bool
    num_layers: int
    num_directions: int
    go_backwards: bool = False
    other_states: tuple[torch.Tensor, ...] | Callable[[], tuple[torch.Tensor, ...]] = ()
    packed_output: PackedSequence | None = None

    @property
    def final_states(self) -> tuple[torch.Tensor, ...]:
        """Every final state part: ``(h_n,)``, or ``(h_n, c_n)`` for LSTM cells.

        With lengths, the fast path reads ``c_n`` off the exact hidden states only when it is
        first asked for (a training loop that never uses it never pays for it).
        """
        if callable(self.other_states):
            object.__setattr__(self, "other_states", tuple(self.other_states()))
        return (self.h_n, *self.other_states)

    # -- torch compatibility: `output, (h_n, c_n) = lstm(x)` / `output, h_n = gru(x)` --------
    @property
    def state(self) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """``(h_n, c_n)`` for LSTM cells, ``h_n`` for single-state cells, as torch returns."""
        states = self.final_states
        return states if len(states) > 1 else states[0]

    def _as_torch_tuple(self) -> tuple:
        output = self.output if self.packed_output is None else self.packed_output
        return (output, self.state)

    def __iter__(self) -> Iterator:
        return iter(self._as_torch_tuple())

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int):
        return self._as_torch_tuple()[index]

    # -- named views -------------------------------------------------------------------------
    @property
    def c_n(self) -> torch.Tensor | None:
        """``(layers*directions, batch, hidden)``: torch's ``c_n`` (None for GRU/RNN cells)."""
        return self.final_states[1] if len(self.final_states) > 1 else None

    def _by_layer(self, flat: torch.Tensor) -> torch.Tensor:
        return flat.reshape(self.num_layers, self.num_directions, *flat.shape[1:])

    @property
    def final_hidden(self) -> torch.Tensor:
        """``(layers, directions, batch, hidden)``: ``final_hidden[-1, 1]`` is the top backward h.

        Forward entries hold the state at each sequence's last real token, backward entries the
        state at its first real token (where the backward pass ends).
        """
        return self._by_layer(self.h_n)

    @property
    def final_cell(self) -> torch.Tensor | None:
        """``(layers, directions, batch, hidden)`` cell states, or None without a cell state."""
        return None if self.c_n is None else self._by_layer(self.c_n)

    @property
    def last(self) -> torch.Tensor:
        """``(batch, directions*hidden)``: the summary of each sequence.

        Top layer's forward state at the last real token ⊕ backward state at the first real
        token — each direction's state after it has read the whole sequence. For
        ``go_backwards`` it is the state after reading right to left down to the first token.
        A sequence of length 0 gets its initial state.
        """
        top = self.final_hidden[-1]
        return torch.cat(list(top.unbind(0)), dim=-1)

    def _direction(self, index: int) -> torch.Tensor:
        hidden = self.output.shape[-1] // self.num_directions
        return self.output[..., index * hidden:(index + 1) * hidden]

    @property
    def forward_output(self) -> torch.Tensor:
        """``(batch, time, hidden)``: the forward direction's outputs, in input order."""
        if self.go_backwards:
            raise ValueError(
                "this layer ran with go_backwards=True: it has no forward direction; "
                "use .output (processing order) or .backward_output (input order)"
            )
        return self._direction(0)

    @property
    def backward_output(self) -> torch.Tensor:
        """``(batch, time, hidden)``: the backward direction's outputs, in input order.

        For a ``go_backwards`` layer this flips ``output`` from processing order to input order.
        """
        if self.go_backwards:
            return self.output.flip(1 if self.batch_first else 0)
        if self.num_directions != 2:
            raise ValueError(
                "this layer is unidirectional: it has no backward direction "
                "(build it with bidirectional=True, or use go_backwards=True)"
            )
        return self._direction(1)

    @property
    def mask(self) -> torch.Tensor:
        """``(batch, time)`` bool, True at real positions of ``output`` (all True without lengths).

        For ``go_backwards`` the mask is in processing order, like ``output``.
        """
        time_dim, batch_dim = (1, 0) if self.batch_first else (0, 1)
        time, batch = self.output.shape[time_dim], self.output.shape[batch_dim]
        if self.lengths is None:
            return torch.ones(batch, time, dtype=torch.bool, device=self.output.device)
        padding = self.padding
        if self.go_backwards:
            padding = "pre" if padding == "post" else "post"
        return lengths_to_mask(self.lengths, time, padding, device=self.output.device)


# torch.export and torch.compile see a RecurrentOutput as a tree of tensors: the tensors are
# its leaves, the layout flags its static context. Flattening computes a deferred c_n.
_TENSOR_FIELDS = ("output", "h_n", "lengths", "other_states", "packed_output")
_STATIC_FIELDS = tuple(f.name for f in fields(RecurrentOutput) if f.name not in _TENSOR_FIELDS)


def _flatten(out: RecurrentOutput) -> tuple[list, tuple]:
    others = out.final_states[1:]
    children = [out.output, out.h_n, out.lengths, others, out.packed_output]
    return children, tuple(getattr(out, name) for name in _STATIC_FIELDS)


def _unflatten(children, context) -> RecurrentOutput:
    output, h_n, lengths, others, packed = children
    return RecurrentOutput(output=output, h_n=h_n, lengths=lengths, other_states=tuple(others),
                           packed_output=packed, **dict(zip(_STATIC_FIELDS, context)))


def _flatten_with_keys(out: RecurrentOutput) -> tuple[list, tuple]:
    children, context = _flatten(out)
    return [(pytree.GetAttrKey(name), child)
            for name, child in zip(_TENSOR_FIELDS, children)], context


pytree.register_pytree_node(
    RecurrentOutput, _flatten, _unflatten,
    serialized_type_name="rnnlab.core.output.RecurrentOutput",
    flatten_with_keys_fn=_flatten_with_keys,
)
