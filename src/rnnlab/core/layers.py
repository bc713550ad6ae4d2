"""Recurrent layers: multi-layer, bidirectional, padding-aware, drop-in for ``torch.nn``.

``LSTM``, ``GRU`` and ``RNN`` take ``torch.nn.LSTM/GRU/RNN``'s arguments, parameter names and
layouts (a torch state dict loads into them and back) and give the same numbers; standard
cells run on PyTorch's fused kernel. On top of torch they take ``lengths`` and a padding side,
run any cell (``cell="peephole"``, ``"cifg"``, ``"layernorm"`` or a user cell), offer Keras's
``go_backwards`` and return a :class:`~rnnlab.core.output.RecurrentOutput`.

How a bidirectional layer lines up with post padding (lengths [3], time 5)::

    input      x0   x1   x2   _    _
    forward    →f0  →f1  →f2   0    0      last forward state: f2 (at the last real token)
    backward   b0←  b1←  b2←   0    0      starts at x2, not in the padding; last state: b0
    output     f0b0 f1b1 f2b2  0    0      out.last = f2 ⊕ b0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.core import padding as pad
from rnnlab.core.fused import fused_mode_of, run_fused
from rnnlab.core.output import RecurrentOutput
from rnnlab.core.param_names import flat_to_cell_names, rename_to_cells, rename_to_flat
from rnnlab.core.registry import GRU_CELLS, LSTM_CELLS, RNN_CELLS, CellFactory, build_cell
from rnnlab.core.scan import scan, scan_reversed
from rnnlab.core.unpacked import run_unpacked
from rnnlab.core.validation import check_initial_state, check_input, check_layer_args

InitialState = torch.Tensor | Sequence[torch.Tensor] | None


class Recurrent(nn.Module):
    """A stack of recurrent cells run over time; the base of :class:`LSTM`, :class:`GRU`,
    :class:`RNN`. Use it directly with a user cell: ``Recurrent(5, 6, cell=MyCell)``.

    Args:
        input_size: features per time step of ``x``.
        hidden_size: features of each direction's hidden state.
        num_layers: stacked layers; layer k>0 reads layer k−1's (fwd ⊕ bwd) outputs.
        bias: whether cells have ``bias_ih``/``bias_hh``.
        batch_first: ``x`` is ``(batch, time, features)`` instead of ``(time, batch, features)``.
        dropout: dropout on each layer's outputs except the last, in training (as torch).
        bidirectional: run a backward direction too and concatenate (forward first).
        proj_size: LSTM projection size (``cell="lstm"`` only), as ``torch.nn.LSTM``.
        cell: a registered cell name or a factory ``(input_size, hidden_size, bias=) -> cell``.
        go_backwards: Keras semantics; unidirectional only: read right to left and return the
            outputs in processing order (see :meth:`forward`).
        zero_output_for_mask: with ``go_backwards`` and lengths, Keras's flag: padded steps
            output zeros instead of repeating the previous output (Keras's default).
        use_fused_kernel: run standard cells with PyTorch's fused kernel (the fast default);
            False runs the generic time loop, which gives the same numbers more slowly.
    """

    allowed_cells: ClassVar[dict] = {**LSTM_CELLS, **GRU_CELLS, **RNN_CELLS}
    default_cell = "lstm"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        cell: str | CellFactory | None = None,
        go_backwards: bool = False,
        zero_output_for_mask: bool = False,
        use_fused_kernel: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_layer_args(input_size, hidden_size, num_layers, dropout, proj_size,
                         bidirectional, go_backwards)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self.go_backwards = go_backwards
        self.zero_output_for_mask = zero_output_for_mask
        self.use_fused_kernel = use_fused_kernel
        self.cell_name = cell if isinstance(cell, str) else (
            self.default_cell if cell is None else getattr(cell, "__name__", repr(cell)))
        cell = self.default_cell if cell is None else cell
        directions = 2 if bidirectional else 1
        self.num_directions = directions
        cells = []
        for layer in range(num_layers):
            for _ in range(directions):
                layer_input = input_size if layer == 0 else directions * self._output_size(cells)
                cells.append(build_cell(cell, layer_input, hidden_size, bias=bias,
                                        proj_size=proj_size, allowed=self.allowed_cells,
                                        factory_kwargs={"device": device, "dtype": dtype}))
        self.cells = nn.ModuleList(cells)
        self._fused_mode = fused_mode_of(self.cells)
        self.register_state_dict_post_hook(_save_with_torch_names)
        self.register_load_state_dict_pre_hook(_load_torch_names)

    @staticmethod
    def _output_size(cells: list[nn.Module]) -> int:
        return int(cells[-1].state_sizes[0])

    # -- torch compatibility ----------------------------------------------------------------
    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name != "cells" and "cells" in self._modules:
                mapping = flat_to_cell_names(self.cells, self.num_directions)
                if name in mapping:
                    return self.get_parameter(mapping[name])
            raise

    def flatten_parameters(self) -> None:
        """No-op, for code written against ``torch.nn.LSTM`` (cuDNN's weight layout)."""

    @property
    def output_size(self) -> int:
        """Features per direction of ``output`` (``proj_size`` if set, else ``hidden_size``)."""
        return self._output_size(list(self.cells))

    # -- running ----------------------------------------------------------------------------
    def forward(
        self,
        x: torch.Tensor,
        lengths: pad.LengthsLike | None = None,
        padding: str = "post",
        initial_state: InitialState = None,
    ) -> RecurrentOutput:
        """Run the stack.

        Args:
            x: ``(batch, time, input_size)`` if ``batch_first`` else ``(time, batch,
                input_size)``; or unbatched ``(time, input_size)``.
            lengths: ``(batch,)`` real lengths in ``[0, time]`` (list, array or tensor of any
                dtype/device), or None when every position is real.
            padding: "post" (real tokens first) or "pre" (real tokens last).
            initial_state: like torch: ``(h_0, c_0)`` for LSTM cells, ``h_0`` otherwise, each
                ``(layers*directions, batch, size)``; zeros if None.

        Returns:
            A :class:`RecurrentOutput`; ``output, state = result`` unpacks as torch's tuple.
            Outputs at padded positions are zero and never depend on the padding. With
            ``go_backwards`` the output is in processing order (position k holds the step that
            read ``x[T-1-k]``), padded steps included, as Keras 3 returns it; without
            ``zero_output_for_mask`` a padded step repeats the previous output (zeros before
            the first real step), again as Keras does.
        """
        padding = pad.check_padding(padding)
        x, unbatched = check_input(x, self.input_size, self.batch_first)
        batch, time = x.shape[0], x.shape[1]
        lengths_t = None
        if lengths is not None:
            lengths_t = pad.as_lengths(lengths, batch=batch, time=time)
        states = check_initial_state(initial_state, self.cells, self.num_layers,
                                     self.num_directions, batch, x, unbatched)

        run_padding = padding
        if self.go_backwards:
            x = x.flip(1)
            run_padding = "pre" if padding == "post" else "post"
        if lengths_t is not None and run_padding == "pre":
            x = pad.pre_to_post(x, lengths_t)
        outputs, h_n, other_states = self._run(x, states, lengths_t)
        if (self.go_backwards and lengths_t is not None and run_padding == "post"
                and not self.zero_output_for_mask):
            # Padding trails in processing order here; leading padding (the other case) keeps
            # zeros, which is also what Keras's initial "previous output" is.
            outputs = _repeat_last_output(outputs, lengths_t)
        if lengths_t is not None and run_padding == "pre":
            outputs = pad.post_to_pre(outputs, lengths_t)

        if unbatched:
            outputs, h_n = outputs.squeeze(0), h_n.squeeze(1)
            other_states = _squeeze_batch(other_states)
        elif not self.batch_first:
            outputs = outputs.transpose(0, 1)
        return RecurrentOutput(
            output=outputs, h_n=h_n, other_states=other_states, lengths=lengths_t,
            padding=padding, batch_first=self.batch_first or unbatched,
            num_layers=self.num_layers, num_directions=self.num_directions,
            go_backwards=self.go_backwards,
        )

    def _run(
        self, x: torch.Tensor, states: tuple[torch.Tensor, ...], lengths: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, tuple | Callable[[], tuple]]:
        """``x (batch, time, input)`` post-padded → outputs, ``h_n`` and the other final
        state parts (torch layout), or a function that computes them when first asked for."""
        if self.use_fused_kernel and self._fused_mode is not None:
            kwargs = {"num_layers": self.num_layers, "bidirectional": self.bidirectional,
                      "dropout": self.dropout, "training": self.training}
            if lengths is not None and self._unpacked_pays_off():
                outputs, h_n, cell_state = run_unpacked(self._fused_mode, list(self.cells), x,
                                                        states, lengths, **kwargs)
                return outputs, h_n, (() if cell_state is None else lambda: (cell_state(),))
            outputs, finals = run_fused(self._fused_mode, list(self.cells), x, states, lengths,
                                        **kwargs)
            return outputs, finals[0], finals[1:]
        layer_input, finals = x, []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0:
                layer_input = F.dropout(layer_input, self.dropout, self.training)
            direction_outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                state = tuple(part[index] for part in states)
                run = scan_reversed if direction == 1 else scan
                output, final = run(self.cells[index], layer_input, state, lengths)
                direction_outputs.append(output)
                finals.append(final)
            layer_input = torch.cat(direction_outputs, dim=-1)
        stacked = tuple(torch.stack(parts) for parts in zip(*finals))
        return layer_input, stacked[0], stacked[1:]

    def _unpacked_pays_off(self) -> bool:
        """Whether lengths should run on the unpacked kernels (see core/unpacked.py).

        Measured (benchmarks/RESULTS.md): LSTM always gains (oneDNN, 2–4× faster than
        packed). GRU and RNN have no oneDNN kernel: unpacked wins when training (the packed
        backward zero-fills buffers at every step) but computes over the padding, which packed
        skips, so inference stays packed. Dropout between layers draws its masks per layer
        call here; a deferred c_n could not replay them, so that case also stays packed.
        """
        if self.training and self.dropout > 0 and self.num_layers > 1:
            return False
        return self._fused_mode == "LSTM" or torch.is_grad_enabled()

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}", f"num_layers={self.num_layers}",
                 f"cell={self.cell_name!r}"]
        for name in ("batch_first", "bidirectional", "go_backwards"):
            if getattr(self, name):
                parts.append(f"{name}=True")
        if self.dropout:
            parts.append(f"dropout={self.dropout}")
        if self.proj_size:
            parts.append(f"proj_size={self.proj_size}")
        return ", ".join(parts)


def _squeeze_batch(states: tuple | Callable[[], tuple]) -> tuple | Callable[[], tuple]:
    """Drop the batch axis of state parts ``(layers*directions, 1, size)`` (unbatched input)."""
    if callable(states):
        return lambda: tuple(part.squeeze(1) for part in states())
    return tuple(part.squeeze(1) for part in states)


def _repeat_last_output(outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Keras masking on post-padded processing order: a padded step repeats the last output.

    ``outputs: (batch, time, features)``; zero-length rows stay zero.
    """
    time = outputs.shape[1]
    last_index = (lengths - 1).clamp(min=0).to(outputs.device)
    last = outputs[torch.arange(outputs.shape[0], device=outputs.device), last_index]
    padded = ~pad.lengths_to_mask(lengths, time, "post", device=outputs.device)
    return torch.where(padded.unsqueeze(-1), last.unsqueeze(1), outputs)


def _save_with_torch_names(module: Recurrent, state_dict: dict, prefix: str, _meta) -> None:
    rename_to_flat(state_dict, prefix, flat_to_cell_names(module.cells, module.num_directions))


def _load_torch_names(module: Recurrent, state_dict: dict, prefix: str, *_args) -> None:
    rename_to_cells(state_dict, prefix, flat_to_cell_names(module.cells, module.num_directions))


class LSTM(Recurrent):
    """Drop-in ``torch.nn.LSTM`` with lengths, padding side, cell variants and a named output.

    ``cell``: "lstm" (default, fused kernel), "peephole", "cifg", "layernorm", or a factory.

    >>> lstm = LSTM(5, 6, num_layers=2, bidirectional=True, batch_first=True)
    >>> out = lstm(torch.randn(3, 4, 5), lengths=[4, 2, 1])
    >>> tuple(out.output.shape), tuple(out.last.shape), tuple(out.final_hidden.shape)
    ((3, 4, 12), (3, 12), (2, 2, 3, 6))
    """

    allowed_cells = LSTM_CELLS
    default_cell = "lstm"


class GRU(Recurrent):
    """Drop-in ``torch.nn.GRU`` (``cell="gru"`` or a factory); see :class:`Recurrent`."""

    allowed_cells = GRU_CELLS
    default_cell = "gru"


class RNN(Recurrent):
    """Drop-in ``torch.nn.RNN``: ``nonlinearity="tanh"`` or ``"relu"``; see :class:`Recurrent`.

    Positional arguments follow ``torch.nn.RNN``: ``(input_size, hidden_size, num_layers,
    nonlinearity, bias, batch_first, dropout, bidirectional)``.
    """

    allowed_cells = RNN_CELLS
    default_cell = "rnn_tanh"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        **kwargs,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        kwargs.setdefault("cell", f"rnn_{nonlinearity}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, **kwargs)
        self.nonlinearity = nonlinearity
