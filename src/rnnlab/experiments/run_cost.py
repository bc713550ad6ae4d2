"""Which pending run to hand out first: the most expensive (longest processing time first).

A study's workers take runs until none is pending. In the store's order (the seed's order of
the arrangements) the dearest runs, the two-layer and bidirectional ones, come last, so at
the end one worker trains the last big run while the other waits: on the 12 × 1 × 5 study
about a tenth of the wall time. Handing out the dearest run first (Graham's LPT rule)
leaves the cheap ones to fill in at the end.

The estimate is the recurrent matrix products per token of a classifier's config (the work
that dominates training), times its epochs; a classifier that reads a pretrained bi-LM's
features (``encoder_run``, the transfer study's elmo and finetune conditions) adds the
bi-LM's own products, read from the run's ``config.json``: forward only when it is frozen
(a third of a trained layer's forward + backward), all three passes when it is fine-tuned.
Runs of other kinds (toy tasks) are all alike (cost 0), so they keep the store's order.
Only the order of the claims changes: each run trains exactly as it would in any order (its
own seed, its own checkpoint).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from typing import Any

# Gate blocks per cell: each block is one hidden-size slice of W_ih and W_hh.
_GATES = {"lstm": 4, "peephole": 4, "layernorm": 4, "cifg": 3, "gru": 3, "rnn": 1,
          "rnn_tanh": 1, "rnn_relu": 1}


def recurrent_flops_per_token(model: Mapping[str, Any], extra_input: int = 0) -> float:
    """Forward multiply-add FLOPs per token of a classifier's recurrent layers, from its
    config dict (:meth:`rnnlab.models.ClassifierConfig.to_dict`); 0 if it is not one.
    ``extra_input`` features sit beside the embedding (ELMo-style: ``2 × the bi-LM's hidden``)."""
    try:
        gates = _GATES.get(str(model.get("cell", "lstm")), 4)
        hidden = int(model.get("hidden_size", 128))
        width = int(model.get("embedding_size", 64)) + extra_input
        layers = int(model.get("num_layers", 1))
        directions = 2 if model.get("bidirectional") else 1
    except (AttributeError, TypeError, ValueError):
        return 0.0
    flops = 0.0
    for _ in range(layers):
        flops += directions * _layer_flops(gates, hidden, width)
        width = directions * hidden  # the next layer reads this one's states
    return flops


def _layer_flops(gates: int, hidden: int, width: int) -> float:
    """Forward multiply-add FLOPs per token of one recurrent layer and direction."""
    return 2.0 * gates * hidden * (width + hidden)


@functools.lru_cache(maxsize=64)  # read once per process: every claim costs all pending runs
def bilm_flops_per_token(run_dir: str) -> tuple[float, int]:
    """Forward FLOPs per token of a ``rnnlab lm nextword`` run's bi-LM without its softmax
    (per direction: LSTM1 over the embedding, the skip dense layer, LSTM2 over LSTM1), and
    the width of its features (``2 × hidden``); ``(0, 0)`` if its config cannot be read."""
    try:
        with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as file:
            model = json.load(file)["model"]
        gates = _GATES.get(str(model.get("cell", "lstm")), 4)
        embedding, hidden = int(model["embedding_size"]), int(model["hidden_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0, 0
    per_direction = (_layer_flops(gates, hidden, embedding) + 2.0 * embedding * hidden
                     + _layer_flops(gates, hidden, hidden))
    return 2 * per_direction, 2 * hidden


def run_cost(config: Mapping[str, Any]) -> float:
    """The relative cost of one run from its stored config (``{"model": ..., "epochs": ...}``),
    in forward FLOPs per token of a trained (forward + backward) classifier, times epochs."""
    model = config.get("model")
    if not isinstance(model, Mapping):
        return 0.0
    epochs = config.get("epochs", 1)
    encoder_flops, encoder_width = 0.0, 0
    if isinstance(model.get("encoder_run"), str):
        encoder_flops, encoder_width = bilm_flops_per_token(model["encoder_run"])
        # frozen: one forward pass against the classifier's three (forward + backward)
        if model.get("encoder_training", "frozen") == "frozen":
            encoder_flops /= 3
    flops = recurrent_flops_per_token(model, encoder_width) + encoder_flops
    return flops * (epochs if isinstance(epochs, int) else 1)
