"""NumPy reference for LSTM, GRU and simple RNN layers: forward and hand-written BPTT.

This is the oracle rnnlab's PyTorch layers are tested against, and a readable account of the
math. It depends on NumPy only and loops over time step by step; it is for checking, not speed.

Public API
----------
::

    outputs, h_n, c_n, cache = reference.forward(
        kind, x, params, *, num_layers, bidirectional,
        lengths=None, padding="post", initial_state=None)
    grads = reference.backward(cache, d_outputs, d_h_n=None, d_c_n=None)

- ``kind``: "lstm", "gru", "rnn_tanh" or "rnn_relu" (``KINDS``).
- ``x``: (batch, time, input_size), batch first, floating.
- ``params``: a dict of arrays with torch.nn's names, shapes and gate order, e.g.
  ``{k: v.detach().numpy() for k, v in torch.nn.LSTM(...).state_dict().items()}``:
  ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` (absent for
  ``bias=False``), ``weight_hr_l{k}`` (LSTM ``proj_size``), ``_reverse`` for the backward
  direction. Gate order: LSTM i, f, g, o; GRU r, z, n.
- ``lengths``: None or (batch,) integers in [0, time]; ``padding``: "post" (real tokens
  first) or "pre" (real tokens last).
- ``initial_state``: h0 (layers*directions, batch, state), or (h0, c0) for the LSTM with
  c0 (layers*directions, batch, hidden); zeros when None. ``state`` is ``hidden_size``,
  or ``proj_size`` for a projected LSTM.
- Returns ``outputs`` (batch, time, directions*state), ``h_n`` (layers*directions, batch,
  state), ``c_n`` (layers*directions, batch, hidden) for the LSTM else None, and ``cache``.
- ``backward`` takes dL/d(outputs), dL/d(h_n) and dL/d(c_n) (None = zero) and returns
  dL/d(every params key) under the same keys, plus "x", "h0" and (LSTM) "c0".

Variable length
---------------
::

    time →          0  1  2  3                    0  1  2  3
    post, len 3:  [ a  b  c  ·]     pre, len 3: [ ·  a  b  c]
    outputs:      [ya yb yc  0]                 [ 0 ya yb yc]
    forward  reads a → b → c;  h_n(forward)  = state after c  (the last real token)
    backward reads c → b → a;  h_n(backward) = state after a  (the first real token)

Outputs at padded positions are exactly zero; outputs at real positions do not depend on the
padding's content or amount, and the pre-padded result is the post-padded one shifted. A
row of length 0 has zero outputs and h_n = h0 (c_n = c0). Layer k > 0 reads the
concatenated [forward | backward] outputs of layer k-1. The per-cell equations and their
derivatives are in the docstrings of ``lstm``, ``gru`` and ``rnn``; the time loop and BPTT
with lengths are in ``recurrence``.

Modules: ``lstm``, ``gru``, ``rnn`` (one step, forward and backward), ``cells`` (the table
of kinds), ``recurrence`` (one direction over time), ``layers`` (layers and directions),
``validation`` (argument checks), ``ops`` (sigmoid, affine maps).
"""

from rnnlab.core.reference.cells import KINDS
from rnnlab.core.reference.layers import ReferenceCache, backward, forward

__all__ = ["KINDS", "ReferenceCache", "backward", "forward"]
