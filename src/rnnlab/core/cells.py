"""Recurrent cells: one time step each, ``(x_t, state) -> (h_t, state)``.

The cell protocol (what a user-written cell implements to run through :class:`rnnlab.LSTM`'s
layer machinery, multi-layer and bidirectional included)::

    class MyCell(RecurrentCell):
        state_sizes = (hidden,)              # one entry per state tensor, h first
        def __init__(self, input_size, hidden_size, bias=True): ...
        def forward(self, x_t, state):       # x_t: (batch, input_size)
            ...                              # state: tuple of (batch, size) tensors
            return h_t, (h_t,)               # h_t: (batch, output_size)

Optionally a cell splits its step in two for speed: :meth:`RecurrentCell.precompute` maps the
whole input sequence ``(batch, time, input_size)`` at once (one large matrix product instead
of ``time`` small ones) and :meth:`RecurrentCell.step` consumes one precomputed slice.

A cell may go one split further and leave the recurrent matrix product to the layer: it holds
``weight_hh (gates, hidden)`` (and optionally ``bias_hh (gates,)``) and defines only the
elementwise rest, ``update(gates, state) -> (h_t, new_state)``, where ``gates = precompute(x)_t
+ W_hh · recurrent_input(h_{t-1}) + b_hh``::

    class MinimalLSTM(RecurrentCell):
        state_sizes = (hidden, hidden)
        def precompute(self, inputs):        # (batch, time, input) -> (batch, time, 4*hidden)
            return self.input_map(inputs)
        def update(self, gates, state):      # gates: (batch, 4*hidden)
            i, f, g, o = gates.chunk(4, dim=-1)
            c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            return h, (h, c)

Such a cell trains through :mod:`rnnlab.core.split_step` (no per-step autograd graph, one
weight-gradient product over all steps, ``update`` and its gradient traced once into programs
by :mod:`rnnlab.core.update_programs`); ``update`` must be deterministic. A cell that needs the
recurrent product apart (a GRU: ``n = tanh(x_n + r * (W_hn h + b_hn))``) sets
``update_takes_parts = True`` and defines ``update(x_t, hh_t, state)``.

Recurrent dropout reaches a cell through :meth:`RecurrentCell.recurrent_input`: a cell passes
``h`` through it before its recurrent matrix product (``W_hh @ recurrent_input(h)``), and weight
drop replaces the parameters named in ``recurrent_weights`` for one forward pass.

Inside a layer, a cell's own parameters are registered on the layer under torch's flat names
(``weight_hh_l1_reverse``), so ``layer.named_parameters()`` reads as ``torch.nn.LSTM``'s; the
cell still reads them as ``self.weight_hh``.

The standard cells keep ``torch.nn.LSTMCell``/``GRUCell``/``RNNCell`` parameter names, shapes,
gate order and initialisation, and name the fused kernel that can run a whole layer of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

State = tuple[torch.Tensor, ...]


class RecurrentCell(nn.Module):
    """Base class of every cell. Subclasses set ``input_size``, ``hidden_size``, ``state_sizes``.

    ``output_size`` is the size of ``h_t`` (``hidden_size`` unless the cell projects).
    ``fused_mode`` names the ``torch`` kernel able to run this cell over time (``"LSTM"``,
    ``"GRU"``, ``"RNN_TANH"``, ``"RNN_RELU"``) or is None for cells that need the time loop.
    """

    fused_mode: ClassVar[str | None] = None
    # rnnlab's own fused kernel for this cell (rnnlab.core.kernels: "gru", "lstm", "peephole",
    # "cifg"), or None. It reads weight_ih/weight_hh/bias_* (and weight_peephole).
    native_kind: ClassVar[str | None] = None
    # Parameters that weight drop (DropConnect) replaces: the hidden-to-hidden weights.
    recurrent_weights: ClassVar[tuple[str, ...]] = ("weight_hh",)
    # A cell with the update split: trace update and its gradient into programs the split
    # runner replays (rnnlab.core.update_programs); False calls update eagerly every step.
    trace_update: ClassVar[bool] = True
    # True: update(x_t, hh_t, state) gets the recurrent product hh_t = W_hh · h + b_hh apart
    # from the input part x_t (a GRU's reset gate scales hh_t's candidate rows only);
    # False: update(x_t + hh_t, state).
    update_takes_parts: ClassVar[bool] = False
    input_size: int
    hidden_size: int

    # -- parameters owned by the layer (torch names), overrides for one forward pass --------
    def __getattr__(self, name: str):
        values = self.__dict__
        overrides = values.get("_weight_overrides")
        if overrides and name in overrides:
            return overrides[name]
        adopted = values.get("_adopted")
        if adopted and name in adopted:
            owner, flat_name = adopted[name]
            # The direct read is the hot path (every step of the time loop); getattr covers
            # a parametrised or weight-normed weight, which leaves owner._parameters.
            value = owner._parameters.get(flat_name)
            return value if value is not None else getattr(owner, flat_name)
        return super().__getattr__(name)

    def adopt_parameters(self, owner: nn.Module, suffix: str) -> None:
        """Register this cell's own parameters on ``owner`` as ``name + suffix``.

        ``owner`` (the layer) holds them from then on; this cell reads them through it, so
        ``owner.to()``, ``load_state_dict`` and ``torch.func.functional_call`` all reach them.
        Parameters of sub-modules (a layer norm's gain) stay where they are.
        """
        adopted = dict(self.__dict__.get("_adopted") or {})
        for name, parameter in list(self._parameters.items()):
            if parameter is None:
                continue
            del self._parameters[name]
            owner.register_parameter(name + suffix, parameter)
            adopted[name] = (owner, name + suffix)
        object.__setattr__(self, "_adopted", adopted)

    def adopted_names(self) -> tuple[str, ...]:
        """Names of this cell's parameters that its layer holds (see :meth:`adopt_parameters`)."""
        return tuple(self.__dict__.get("_adopted") or ())

    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        # A cell's own state dict still lists all its weights by cell name; the layer's
        # state dict lists the adopted ones once, under torch's names.
        super()._save_to_state_dict(destination, prefix, keep_vars)
        for name in self.adopted_names():
            value = getattr(self, name)
            destination[prefix + name] = value if keep_vars else value.detach()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        for name in self.adopted_names():
            key = prefix + name
            if key in state_dict:
                with torch.no_grad():
                    getattr(self, name).copy_(state_dict[key])

    def named_weights(self) -> Iterator[tuple[str, torch.Tensor]]:
        """This cell's own parameters by their cell names (``weight_hh``), wherever they live."""
        for name in self.__dict__.get("_adopted") or {}:
            yield name, getattr(self, name)
        yield from self.named_parameters(recurse=False)

    @contextmanager
    def weights_replaced(self, replacements: dict[str, torch.Tensor]) -> Iterator[None]:
        """Within the block, ``self.<name>`` reads ``replacements[name]`` (weight drop)."""
        previous = self.__dict__.get("_weight_overrides")
        object.__setattr__(self, "_weight_overrides", {**(previous or {}), **replacements})
        try:
            yield
        finally:
            object.__setattr__(self, "_weight_overrides", previous)

    # -- recurrent dropout ------------------------------------------------------------------
    def recurrent_input(self, h: torch.Tensor) -> torch.Tensor:
        """``h`` as the recurrent matrix product should see it: with recurrent dropout
        (Gal & Ghahramani 2016) its mask applied, otherwise unchanged. ``h: (batch, size)``."""
        mask = self.__dict__.get("_recurrent_mask")
        if mask is None:
            return h
        self.__dict__["_recurrent_mask_used"] = True
        return h * mask

    @contextmanager
    def recurrent_mask(self, mask: torch.Tensor | None) -> Iterator[None]:
        """Within the block, :meth:`recurrent_input` applies ``mask (batch, size)``."""
        object.__setattr__(self, "_recurrent_mask", mask)
        object.__setattr__(self, "_recurrent_mask_used", False)
        try:
            yield
        finally:
            object.__setattr__(self, "_recurrent_mask", None)

    def recurrent_mask_was_used(self) -> bool:
        return bool(self.__dict__.get("_recurrent_mask_used"))

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size,)

    @property
    def output_size(self) -> int:
        return self.state_sizes[0]

    def initial_state(
        self, batch: int, *, dtype: torch.dtype, device: torch.device | str | None = None
    ) -> State:
        """Zeros: one ``(batch, size)`` tensor per entry of ``state_sizes``."""
        return tuple(torch.zeros(batch, size, dtype=dtype, device=device)
                     for size in self.state_sizes)

    def precompute(self, inputs: torch.Tensor) -> torch.Tensor:
        """Work that depends on the input only, for all steps at once. ``(batch, time, *)``."""
        return inputs

    def step(self, precomputed_t: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step on a slice of :meth:`precompute`'s result. Defaults to :meth:`forward`;
        for a cell that defines ``update``, to ``update(precomputed_t + recurrent_product(h),
        state)`` (the split the layers run without autograd's step graph)."""
        if getattr(type(self), "update", None) is not None:
            if self.update_takes_parts:
                return self.update(precomputed_t, self.recurrent_product(state[0]), state)
            return self.update(precomputed_t + self.recurrent_product(state[0]), state)
        return self(precomputed_t, state)

    def forward(self, x_t: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step on ``x_t (batch, input_size)``. A cell defines it, or defines ``update``
        and gets ``step(precompute(x_t), state)``."""
        if getattr(type(self), "update", None) is None:
            raise NotImplementedError(
                f"{type(self).__name__} defines neither forward(x_t, state) nor "
                "update(gates, state): define one (see rnnlab.RecurrentCell)")
        return self.step(self.precompute(x_t), state)

    def recurrent_product(self, h: torch.Tensor) -> torch.Tensor:
        """``W_hh · recurrent_input(h) + b_hh`` for a cell that defines ``update``:
        ``h (batch, hidden)`` to ``(batch, gates)``; ``bias_hh`` is optional."""
        return F.linear(self.recurrent_input(h), self.weight_hh,
                        getattr(self, "bias_hh", None))

    def fused_weights(self) -> list[torch.Tensor]:
        """Weights in the flat order ``torch.lstm``/``torch.gru``/``torch.rnn_*`` expect."""
        raise NotImplementedError(f"{type(self).__name__} has no fused kernel")

    def reset_parameters(self) -> None:
        """``U(-1/sqrt(hidden), 1/sqrt(hidden))`` for every parameter, as ``torch.nn`` does."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for _, weight in self.named_weights():
            nn.init.uniform_(weight, -bound, bound)
        for module in self.children():
            for weight in module.parameters():
                nn.init.uniform_(weight, -bound, bound)


class _GatedCell(RecurrentCell):
    """Holds ``weight_ih (gates*hidden, input)``, ``weight_hh``, ``bias_ih``, ``bias_hh``."""

    num_gates: ClassVar[int]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        recurrent_size: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gates = self.num_gates * hidden_size
        recurrent_size = hidden_size if recurrent_size is None else recurrent_size
        self.weight_ih = nn.Parameter(torch.empty(gates, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(gates, recurrent_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gates, **factory))
            self.bias_hh = nn.Parameter(torch.empty(gates, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def precompute(self, inputs: torch.Tensor) -> torch.Tensor:
        """``W_ih x_t + b_ih`` for every step: ``(batch, time, gates*hidden)``."""
        return F.linear(inputs, self.weight_ih, self.bias_ih)

    def forward(self, x_t: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        return self.step(self.precompute(x_t), state)

    def _recurrent(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(self.recurrent_input(h), self.weight_hh, self.bias_hh)

    def fused_weights(self) -> list[torch.Tensor]:
        weights = [self.weight_ih, self.weight_hh]
        if self.bias:
            weights += [self.bias_ih, self.bias_hh]
        return weights

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


class LSTMCell(_GatedCell):
    """Long short-term memory (Hochreiter & Schmidhuber 1997, with the forget gate of
    Gers et al. 2000), exactly as ``torch.nn.LSTMCell``; gate order i, f, g, o::

        i = σ(W_ii x + b_ii + W_hi h + b_hi)      f = σ(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)   o = σ(W_io x + b_io + W_ho h + b_ho)
        c' = f ⊙ c + i ⊙ g                        h' = o ⊙ tanh(c')
        h' = W_hr h'                              (only with proj_size > 0; Sak et al. 2014)

    State ``(h, c)``: ``h (batch, proj_size or hidden)``, ``c (batch, hidden)``.
    """

    fused_mode = "LSTM"
    num_gates = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        proj_size: int = 0,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        recurrent = proj_size if proj_size > 0 else hidden_size
        super().__init__(input_size, hidden_size, bias, recurrent_size=recurrent,
                         device=device, dtype=dtype)
        self.proj_size = proj_size
        if proj_size > 0:
            self.weight_hr = nn.Parameter(torch.empty(proj_size, hidden_size,
                                                      device=device, dtype=dtype))
        self.reset_parameters()

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.proj_size or self.hidden_size, self.hidden_size)

    @property
    def native_kind(self) -> str | None:  # type: ignore[override]
        return None if self.proj_size > 0 else "lstm"

    def step(self, precomputed_t: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        h, c = state
        gates = precomputed_t + self._recurrent(h)
        i, f, g, o = gates.chunk(4, dim=-1)
        c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h_next = torch.sigmoid(o) * torch.tanh(c_next)
        if self.proj_size > 0:
            h_next = F.linear(h_next, self.weight_hr)
        return h_next, (h_next, c_next)

    def fused_weights(self) -> list[torch.Tensor]:
        weights = super().fused_weights()
        return [*weights, self.weight_hr] if self.proj_size > 0 else weights


class GRUCell(_GatedCell):
    """Gated recurrent unit (Cho et al. 2014), exactly as ``torch.nn.GRUCell``; order r, z, n::

        r = σ(W_ir x + b_ir + W_hr h + b_hr)      z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
        h' = (1 − z) ⊙ n + z ⊙ h

    (Keras calls this ``reset_after=True``, its default.) State ``(h,)``, ``h (batch, hidden)``.
    """

    fused_mode = "GRU"
    native_kind = "gru"
    num_gates = 3

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, **factory) -> None:
        super().__init__(input_size, hidden_size, bias, **factory)
        self.reset_parameters()

    def step(self, precomputed_t: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        (h,) = state
        x_r, x_z, x_n = precomputed_t.chunk(3, dim=-1)
        h_r, h_z, h_n = self._recurrent(h).chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h_next = (1 - z) * n + z * h
        return h_next, (h_next,)


class RNNCell(_GatedCell):
    """Elman RNN, exactly as ``torch.nn.RNNCell``: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``
    with ``act`` = tanh (default) or relu. State ``(h,)``, ``h (batch, hidden)``.
    """

    num_gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        **factory,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, **factory)
        self.nonlinearity = nonlinearity
        self.reset_parameters()

    @property
    def fused_mode(self) -> str:  # type: ignore[override]
        return "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"

    def step(self, precomputed_t: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        (h,) = state
        pre_activation = precomputed_t + self._recurrent(h)
        activation = torch.tanh if self.nonlinearity == "tanh" else torch.relu
        h_next = activation(pre_activation)
        return h_next, (h_next,)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, nonlinearity={self.nonlinearity!r}"
