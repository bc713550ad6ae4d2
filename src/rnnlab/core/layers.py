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

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from rnnlab.core import keras_compat, kernels, packed
from rnnlab.core import padding as pad
from rnnlab.core.cells import RecurrentCell
from rnnlab.core.directions import Steps
from rnnlab.core.dropout import DropoutSpec, check_cells_support
from rnnlab.core.fused import fused_mode_of, native_kind_of
from rnnlab.core.output import RecurrentOutput
from rnnlab.core.param_names import (
    flat_to_cell_names,
    rename_to_cells,
    rename_to_flat,
    torch_suffix,
)
from rnnlab.core.registry import (
    GRU_CELLS,
    LSTM_CELLS,
    RNN_CELLS,
    CellFactory,
    build_cell,
    check_cell_instance,
)
from rnnlab.core.split_step import splits_step
from rnnlab.core.stack import run_stack
from rnnlab.core.validation import (
    check_initial_state,
    check_input,
    check_input_dtype,
    check_layer_args,
    resolve_initial_state,
)

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
        dropout: dropout on each layer's outputs except the last, in training (as torch:
            a fresh mask per element and step).
        bidirectional: run a backward direction too and concatenate (forward first).
        proj_size: LSTM projection size (``cell="lstm"`` only), as ``torch.nn.LSTM``.
        cell: a registered cell name, a factory ``(input_size, hidden_size, bias=) -> cell``
            (a cell class is one), or, for a one-cell layer, a cell instance.
        go_backwards: Keras semantics; unidirectional only: read right to left and return the
            outputs in processing order (see :meth:`forward`).
        zero_output_for_mask: with ``go_backwards`` and lengths, Keras's flag: padded steps
            output zeros instead of repeating the previous output (Keras's default).
        use_fused_kernel: run standard cells with PyTorch's fused kernel (the fast default);
            False runs the generic time loop, which gives the same numbers more slowly.
        input_dropout, layer_dropout, output_dropout: locked (variational) dropout of the
            input, between layers and of the top layer's output: one mask per sequence and
            feature for all steps (Gal & Ghahramani 2016).
        recurrent_dropout: dropout of ``h_{t-1}`` where it enters ``W_hh``, one mask per
            sequence for all steps (Gal & Ghahramani 2016; Keras's ``recurrent_dropout``).
            Applied inside rnnlab's kernels (the time loop where no kernel runs the cell).
        weight_dropout: DropConnect on the hidden-to-hidden weights, redrawn per forward
            pass (Merity et al. 2017); standard cells stay on the fused kernel.
        zoneout: a rate, or ``(h_rate, c_rate)``: units keep their previous value with that
            probability, per step (Krueger et al. 2017). Runs the time loop.

    Every dropout argument is a probability in ``[0, 1)`` and 0 (off) by default; see
    :mod:`rnnlab.core.dropout` for the equations.
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
        cell: str | CellFactory | nn.Module | None = None,
        go_backwards: bool = False,
        zero_output_for_mask: bool = False,
        use_fused_kernel: bool = True,
        input_dropout: float = 0.0,
        layer_dropout: float = 0.0,
        output_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        weight_dropout: float = 0.0,
        zoneout: float | tuple[float, float] = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_layer_args(input_size, hidden_size, num_layers, dropout, proj_size,
                         bidirectional, go_backwards, bias=bias, batch_first=batch_first,
                         zero_output_for_mask=zero_output_for_mask,
                         use_fused_kernel=use_fused_kernel)
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
        self.dropout_spec = DropoutSpec.from_layer_args(
            input_dropout=input_dropout, layer_dropout=layer_dropout,
            output_dropout=output_dropout, recurrent_dropout=recurrent_dropout,
            weight_dropout=weight_dropout, zoneout=zoneout)
        directions = 2 if bidirectional else 1
        self.num_directions = directions
        if isinstance(cell, nn.Module):
            check_cell_instance(cell, input_size, hidden_size, num_layers * directions)
            self.cell_name = type(cell).__name__
            cells = [cell]
        else:
            self.cell_name = cell if isinstance(cell, str) else (
                self.default_cell if cell is None else getattr(cell, "__name__", repr(cell)))
            cells = self._build_cells(self.default_cell if cell is None else cell,
                                      {"device": device, "dtype": dtype})
        self.cells = nn.ModuleList(cells)
        for index, built in enumerate(self.cells):
            if isinstance(built, RecurrentCell):
                built.adopt_parameters(self, torch_suffix(index, directions))
        check_cells_support(self.dropout_spec, self.cells)
        self._fused_mode = fused_mode_of(self.cells)
        self._native = all(native_kind_of(built) is not None for built in self.cells)
        self._split = all(splits_step(built) for built in self.cells)
        self.register_state_dict_post_hook(_save_with_torch_names)
        self.register_load_state_dict_pre_hook(_load_torch_names)

    def _build_cells(self, cell: str | CellFactory, factory_kwargs: dict) -> list[nn.Module]:
        cells: list[nn.Module] = []
        for layer in range(self.num_layers):
            for _ in range(self.num_directions):
                # A layer reads the one below's outputs: output_size wide per direction (the
                # state's size unless the cell's output is something else).
                layer_input = (self.input_size if layer == 0 else self.num_directions * int(
                    getattr(cells[-1], "output_size", cells[-1].state_sizes[0])))
                cells.append(build_cell(cell, layer_input, self.hidden_size, bias=self.bias,
                                        proj_size=self.proj_size, allowed=self.allowed_cells,
                                        factory_kwargs=factory_kwargs))
        return cells

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
        return int(self.cells[-1].state_sizes[0])

    def flip_time(self, x: torch.Tensor) -> torch.Tensor:
        """:func:`rnnlab.flip_time` in this layer's layout (``batch_first`` or time-major)."""
        return pad.flip_time(x, batch_first=self.batch_first)

    # -- running ----------------------------------------------------------------------------
    def forward(
        self,
        input: torch.Tensor | PackedSequence,
        hx: InitialState = None,
        lengths: pad.LengthsLike | None = None,
        padding: str | pad.Padding | None = None,
        *,
        mask: torch.Tensor | None = None,
        initial_state: InitialState = None,
    ) -> RecurrentOutput:
        """Run the stack.

        Args:
            input: ``(batch, time, input_size)`` if ``batch_first`` else ``(time, batch,
                input_size)``; unbatched ``(time, input_size)``; or a ``PackedSequence``
                (then the result unpacks to a ``PackedSequence``, as torch).
            hx: as torch, positional or keyword: ``(h_0, c_0)`` for LSTM cells, ``h_0``
                otherwise, each ``(layers*directions, batch, size)``; zeros if None.
                ``initial_state=`` is the same argument under rnnlab's older name.
            lengths: ``(batch,)`` real lengths in ``[0, time]`` (list, array or tensor of any
                dtype/device), or None when every position is real.
            padding: "post" (real tokens first, the default) or "pre" (real tokens last).
            mask: ``(batch, time)`` bool, True at real steps, instead of ``lengths``: one
                contiguous run per row; its side is read off the mask unless ``padding`` says.

        Returns:
            A :class:`RecurrentOutput`; ``output, state = result`` unpacks as torch's tuple.
            Outputs at padded positions are exactly zero and never depend on the padding
            (NaN there included). With ``go_backwards`` the output is in processing order
            (position k holds the step that read ``x[T-1-k]``), padded steps included, as
            Keras 3 returns it; without ``zero_output_for_mask`` a padded step repeats the
            previous output (zeros before the first real step), again as Keras does.

        Under ``torch.compile`` the layer runs eagerly behind one graph break, as
        ``torch.nn.LSTM`` does (Dynamo does not trace RNN modules); ``torch.export`` traces it.
        """
        return self._forward(input, hx, lengths, padding, mask, initial_state)

    @torch.compiler.disable
    def _forward(self, input, hx, lengths, padding, mask, initial_state) -> RecurrentOutput:
        state = resolve_initial_state(hx, initial_state)
        side = None if padding is None else pad.Padding.of(padding)
        packed_input = input if isinstance(input, PackedSequence) else None
        batch_first = self.batch_first
        if packed_input is not None:
            if self.go_backwards:
                raise ValueError("go_backwards (Keras semantics) takes padded input and "
                                 "lengths, not a PackedSequence")
            input, lengths = packed.unpack(packed_input, lengths=lengths, mask=mask,
                                           padding=side)
            batch_first = True
        x, unbatched = check_input(input, self.input_size, batch_first)
        check_input_dtype(x, next(iter(self.parameters()), None))
        batch, time = x.shape[0], x.shape[1]
        if mask is not None:
            if lengths is not None:
                raise ValueError("pass lengths= or mask=, not both")
            lengths, side = pad.lengths_from_mask(mask, batch=batch, time=time, padding=side)
        side = side or pad.Padding.POST
        lengths_t = (None if lengths is None
                     else pad.as_lengths(lengths, batch=batch, time=time, device=x.device))
        states = check_initial_state(state, self.cells, self.num_layers,
                                     self.num_directions, batch, x, unbatched)

        run_padding = side
        if self.go_backwards:
            x, run_padding = keras_compat.to_processing_order(x, side)
        if lengths_t is not None and run_padding is pad.Padding.PRE:
            x = pad.pre_to_post(x, lengths_t)
        steps = Steps(lengths_t, None if lengths_t is None
                      else pad.lengths_to_mask(lengths_t, time, pad.Padding.POST))
        outputs, h_n, other_states = run_stack(
            list(self.cells), pad.zero_padding(x, steps.real), states, steps,
            path=self._path(lengths_t is not None, time, x), mode=self._fused_mode,
            num_layers=self.num_layers, num_directions=self.num_directions,
            between_dropout=self.dropout, dropout=self.dropout_spec, training=self.training)
        if self.go_backwards:
            outputs = keras_compat.mask_padded_outputs(outputs, lengths_t, run_padding,
                                                       self.zero_output_for_mask)
        if lengths_t is not None and run_padding is pad.Padding.PRE:
            outputs = pad.post_to_pre(outputs, lengths_t)
        if callable(other_states) and pad.is_tracing():
            other_states = other_states()  # a traced graph has no "later"

        packed_output = None
        if packed_input is not None:
            packed_output = packed.pack_like(outputs, lengths_t, packed_input)
        if unbatched:
            outputs, h_n = outputs.squeeze(0), h_n.squeeze(1)
            other_states = _squeeze_batch(other_states)
        elif not self.batch_first:
            outputs = outputs.transpose(0, 1)
        return RecurrentOutput(
            output=outputs, h_n=h_n, other_states=other_states, lengths=lengths_t,
            padding=side.value, batch_first=self.batch_first or unbatched,
            num_layers=self.num_layers, num_directions=self.num_directions,
            go_backwards=self.go_backwards, packed_output=packed_output,
        )

    def _path(self, has_lengths: bool, time: int = 1, x: torch.Tensor | None = None) -> str:
        """Which runner executes the stack (see core/directions.py and core/stack.py).

        Measured (benchmarks/RESULTS.md): LSTM is fastest on torch's oneDNN kernel below
        hidden size 256 and in inference, with lengths too (2–4× faster than packed); when
        training larger LSTMs rnnlab's kernel wins. Without lengths the whole stack is one call,
        exactly torch's, unless locked dropout must reach between the layers. GRU and the
        LSTM variants run rnnlab's own kernels (core/kernels), which also carry Gal's
        recurrent dropout for every kernel cell, the standard LSTM included. Without those
        kernels (no compiler) GRU and RNN inference with lengths stays packed (it skips the
        padding) and training unpacked; the variants run the time loop. User cells that
        define ``update`` run the split-step runner (core/split_step.py), other user cells
        the time loop. Zoneout always runs the loop, and so does ``use_fused_kernel=False``
        (the reference path of the tests).
        """
        spec = self.dropout_spec
        if (not self.use_fused_kernel or time == 0
                or any(rate > 0 for rate in spec.zoneout)):
            return "loop"  # (torch's kernels refuse time 0; the loop returns empty outputs)
        recurrent = self.training and spec.recurrent > 0
        if self._fused_mode in ("LSTM", "RNN_TANH", "RNN_RELU") and not recurrent:
            if self._native_lstm_pays() and self._native_runs(x):
                return "native"
            return self._torch_path(has_lengths)
        if self._native_runs(x):
            return "native"
        if self._fused_mode is None or recurrent:
            return "split" if self._split and not _traced() else "loop"
        return self._torch_path(has_lengths)

    # Training a standard LSTM, rnnlab's kernel overtakes oneDNN's from this hidden size on
    # (forward+backward, 1 thread, benchmarks/RESULTS.md: 1.22× oneDNN's time at hidden 128,
    # 1.06× at 200, 0.88× at 256, 0.80× at 512, 0.73× at 650).
    native_lstm_min_hidden: ClassVar[int] = 256

    def _native_lstm_pays(self) -> bool:
        return (self._fused_mode == "LSTM" and torch.is_grad_enabled()
                and self.hidden_size >= self.native_lstm_min_hidden)

    def _torch_path(self, has_lengths: bool) -> str:
        if not has_lengths:
            between = self.dropout_spec.between > 0 and self.num_layers > 1
            return "kernel" if between else "whole"
        if self._fused_mode == "LSTM" or torch.is_grad_enabled() or pad.is_tracing():
            return "kernel"
        return "packed"

    def _native_runs(self, x: torch.Tensor | None) -> bool:
        """rnnlab's kernels serve this call: every cell has one, the input is a float CPU
        tensor, and nothing traces the call (a traced graph holds torch's own operators, which
        torch.export and ONNX understand)."""
        if not self._native or x is None or x.device.type != "cpu":
            return False
        if x.dtype not in (torch.float32, torch.float64):
            return False
        if _traced():
            return False
        return kernels.available()

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
        if self.dropout_spec.active:
            parts.append(f"dropout_spec={self.dropout_spec}")
        return ", ".join(parts)


def _traced() -> bool:
    """Whether torch.export, TorchScript tracing or the ONNX exporter is recording this call
    (a traced graph must hold torch's own operators, not rnnlab's kernels or autograd
    functions)."""
    return pad.is_tracing() or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()


def _squeeze_batch(states):
    """Drop the batch axis of state parts ``(layers*directions, 1, size)`` (unbatched input)."""
    if callable(states):
        return lambda: tuple(part.squeeze(1) for part in states())
    return tuple(part.squeeze(1) for part in states)


def _save_with_torch_names(module: Recurrent, state_dict: dict, prefix: str, _meta) -> None:
    # Adopted weights are already saved under torch's names by the layer itself; the
    # cells list them again by cell name, which the layer's state dict drops.
    for index, cell in enumerate(module.cells):
        for name in getattr(cell, "adopted_names", tuple)():
            state_dict.pop(f"{prefix}cells.{index}.{name}", None)
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
