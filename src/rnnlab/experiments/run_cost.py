"""Which pending run to hand out first: the most expensive (longest processing time first).

A study's workers take runs until none is pending. In the store's order (the seed's order of
the arrangements) the dearest runs, the two-layer and bidirectional ones, come last, so at
the end one worker trains the last big run while the other waits: on the 12 × 1 × 5 study
about a tenth of the wall time. Handing out the dearest run first (Graham's LPT rule)
leaves the cheap ones to fill in at the end.

The estimate is the recurrent matrix products per token of a classifier's config (the work
that dominates training), times its epochs; runs of other kinds (toy tasks) are all alike
(cost 0), so they keep the store's order. Only the order of the claims changes: each run
trains exactly as it would in any order (its own seed, its own checkpoint).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Gate blocks per cell: each block is one hidden-size slice of W_ih and W_hh.
_GATES = {"lstm": 4, "peephole": 4, "layernorm": 4, "cifg": 3, "gru": 3, "rnn": 1,
          "rnn_tanh": 1, "rnn_relu": 1}


def recurrent_flops_per_token(model: Mapping[str, Any]) -> float:
    """Forward multiply-add FLOPs per token of a classifier's recurrent layers, from its
    config dict (:meth:`rnnlab.models.ClassifierConfig.to_dict`); 0 if it is not one."""
    try:
        gates = _GATES.get(str(model.get("cell", "lstm")), 4)
        hidden = int(model.get("hidden_size", 128))
        width = int(model.get("embedding_size", 64))
        layers = int(model.get("num_layers", 1))
        directions = 2 if model.get("bidirectional") else 1
    except (AttributeError, TypeError, ValueError):
        return 0.0
    flops = 0.0
    for _ in range(layers):
        flops += directions * 2.0 * gates * hidden * (width + hidden)
        width = directions * hidden  # the next layer reads this one's states
    return flops


def run_cost(config: Mapping[str, Any]) -> float:
    """The relative cost of one run from its stored config (``{"model": ..., "epochs": ...}``)."""
    model = config.get("model")
    if not isinstance(model, Mapping):
        return 0.0
    epochs = config.get("epochs", 1)
    return recurrent_flops_per_token(model) * (epochs if isinstance(epochs, int) else 1)
