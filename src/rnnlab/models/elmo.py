"""ELMo-style features (Peters et al. 2018) from seed 000's bi-LM, feeding a classifier.

The pretrained :class:`~rnnlab.models.bidirectional_lm.BidirectionalLM` gives, at every
position k, three layers of width ``2·hidden`` (forward ⊕ backward, both in input order)::

    j = 0   token layer:  skip_f(e_k) ⊕ skip_b(e_k)      the embedding as LSTM2 reads it
    j = 1   LSTM1:        →h1_k ⊕ ←h1_k                  forward: tokens ≤ k; backward: ≥ k
    j = 2   LSTM2:        →h2_k ⊕ ←h2_k

    ELMo_k = γ · Σ_j softmax(w)_j · h_{k,j}           (Peters et al. 2018, eq. 1)

The token layer is the embedding through each direction's skip dense layer, which gives it
the LSTMs' width so the three can be mixed (ELMo duplicates its token layer, ``[x; x]``, for
the same reason). As in Peters et al. (section 3.3) the classifier reads
``[x_k; ELMo_k]``, its own word vector beside the mix, through its usual recurrent block,
pooling, dense and output layers.

The bi-LM has its own vocabulary: ``id_map`` turns a classifier id into the bi-LM's id (words
it lacks into its ``<unk>``). It reads the real tokens only: pre-padded rows are moved to the
front for it and back again (``pre_to_post``), and every layer is zero at padded positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rnnlab.core.padding import (
    is_tracing,
    lengths_to_mask,
    post_to_pre,
    pre_to_post,
    zero_padding,
)
from rnnlab.models.bidirectional_lm import BidirectionalLM
from rnnlab.models.classifier import SequenceClassifier
from rnnlab.models.config import ClassifierConfig

__all__ = ["BiLMEncoder", "ElmoClassifier", "ScalarMix"]


class ScalarMix(nn.Module):
    """``γ · Σ_j softmax(w)_j · layers[j]``; w starts at 0 (an even mix), γ at 1.

    >>> mix = ScalarMix(3)
    >>> mix([torch.ones(2, 4, 6)] * 3).shape
    torch.Size([2, 4, 6])
    """

    def __init__(self, layers: int) -> None:
        super().__init__()
        self.scalars = nn.Parameter(torch.zeros(layers))  # w: softmax-normalised weights
        self.gamma = nn.Parameter(torch.ones(()))  # γ: scales the whole vector

    def weights(self) -> torch.Tensor:
        """``(layers,)`` non-negative, summing to 1."""
        return torch.softmax(self.scalars, dim=0)

    def forward(self, layers: Sequence[torch.Tensor]) -> torch.Tensor:
        """``layers``: each ``(batch, time, features)`` → ``(batch, time, features)``."""
        if len(layers) != len(self.scalars):
            raise ValueError(f"layers must hold {len(self.scalars)} tensors, got {len(layers)}")
        weights = self.weights()
        return self.gamma * sum(w * layer for w, layer in zip(weights, layers, strict=True))


class BiLMEncoder(nn.Module):
    """A pretrained bi-LM read as ELMo layers for a classifier with its own vocabulary.

    Holds the bi-LM's embedding and both direction stacks (shared with ``lm``, not copied;
    its softmax over the LM vocabulary is left out: a classifier never reads it).

    Args:
        lm: the pretrained model (not leaky: a leaky bi-LM's features see the future).
        id_map: ``(classifier_vocab,)`` int64, the bi-LM id of every classifier id.
        padding: the side the classifier's ids are padded on, "pre" or "post".
    """

    def __init__(self, lm: BidirectionalLM, id_map: torch.Tensor, padding: str = "pre") -> None:
        super().__init__()
        if lm.config.leaky or lm.config.leaky_lstm1_only:
            raise ValueError("the pretrained bi-LM is leaky (its backward stack sees tokens "
                             "before t): retrain it without leaky/leaky_lstm1_only")
        if padding not in ("pre", "post"):
            raise ValueError(f"padding must be 'pre' or 'post', got {padding!r}")
        if id_map.dim() != 1 or id_map.dtype != torch.int64:
            raise ValueError(f"id_map must be (vocab,) int64, got {tuple(id_map.shape)} "
                             f"{id_map.dtype}")
        lm_size = lm.embedding.num_embeddings
        if len(id_map) and (int(id_map.min()) < 0 or int(id_map.max()) >= lm_size):
            raise ValueError(f"id_map must hold bi-LM ids in [0, {lm_size})")
        self.padding = padding
        self.embedding, self.dropout = lm.embedding, lm.dropout
        self.forward_stack, self.backward_stack = lm.forward_stack, lm.backward_stack
        self.register_buffer("id_map", id_map.clone())
        self.width = 2 * lm.config.hidden_size

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """The bi-LM's parameters, top layer first: LSTM2 (with the skip layers that feed
        it), LSTM1, embedding."""
        stacks = (self.forward_stack, self.backward_stack)
        top = [p for s in stacks for m in (s.lstm2, s.skip) for p in m.parameters()]
        middle = [p for s in stacks for p in s.lstm1.parameters()]
        return [top, middle, list(self.embedding.parameters())]

    def forward(self, ids: torch.Tensor,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """``ids (batch, time)`` classifier ids, ``lengths (batch,)`` → the three layers, each
        ``(batch, time, 2*hidden)`` in input order, zero at padding."""
        batch, time = ids.shape
        if lengths is None:
            lengths = torch.full((batch,), time, dtype=torch.int64, device=ids.device)
        # An empty row still needs one step to run over; its outputs are masked to zero.
        lengths = lengths.to(device=ids.device, dtype=torch.int64).clamp(1, time)
        lm_ids = self.id_map[ids]
        if self.padding == "pre":
            lm_ids = pre_to_post(lm_ids, lengths)
        real = lengths_to_mask(lengths, time)
        embedded = zero_padding(self.embedding(lm_ids), real)
        dropped = self.dropout(embedded)
        forward, backward = (stack(dropped, lengths)
                             for stack in (self.forward_stack, self.backward_stack))
        layers = (
            torch.cat([self.forward_stack.skip(embedded), self.backward_stack.skip(embedded)], -1),
            torch.cat([forward.layer1, backward.layer1], dim=-1),
            torch.cat([forward.layer2, backward.layer2], dim=-1),
        )
        layers = tuple(zero_padding(layer, real) for layer in layers)
        if self.padding == "pre":
            layers = tuple(post_to_pre(layer, lengths) for layer in layers)
        return layers


class ElmoClassifier(SequenceClassifier):
    """A :class:`SequenceClassifier` whose recurrent block reads ``[x_k; ELMo_k]``.

    ``finetune=False``: the encoder is frozen (no gradients, always in eval mode, so its
    dropout is off) and only the mix, γ and the classifier train: Peters et al.'s recipe.
    ``finetune=True``: the encoder trains too (ULMFiT, Howard & Ruder 2018); which of its
    layers train when, and at what rate, is the training's choice (see
    :mod:`rnnlab.train.unfreezing`), from :meth:`layer_groups`.

    >>> from rnnlab.models.bidirectional_lm import BidirectionalLMConfig
    >>> lm = BidirectionalLM(BidirectionalLMConfig(vocab_size=9, embedding_size=5,
    ...                                            hidden_size=6))
    >>> encoder = BiLMEncoder(lm, torch.arange(11) % 9)
    >>> model = ElmoClassifier(ClassifierConfig(vocab_size=11, embedding_size=4,
    ...                        hidden_size=7), encoder)
    >>> model(torch.randint(0, 11, (3, 5)), torch.tensor([5, 2, 1])).shape
    torch.Size([3, 1])
    """

    def __init__(self, config: ClassifierConfig, encoder: BiLMEncoder, *, seed: int = 0,
                 finetune: bool = False) -> None:
        if len(encoder.id_map) != config.vocab_size:
            raise ValueError(f"the encoder's id_map has {len(encoder.id_map)} ids but "
                             f"vocab_size={config.vocab_size}; they must match")
        self._encoder_width = encoder.width  # read by _recurrent_input_size during build
        super().__init__(config, seed=seed)
        self.finetune = finetune
        self.encoder = encoder
        self.mix = ScalarMix(3)
        if not finetune:
            self.encoder.requires_grad_(False)
            self.encoder.eval()

    def _recurrent_input_size(self, config: ClassifierConfig) -> int:
        return config.embedding_size + self._encoder_width

    def train(self, mode: bool = True) -> ElmoClassifier:
        super().train(mode)
        if not self.finetune:
            self.encoder.eval()  # frozen features: the same vectors in training and test
        return self

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters top first: the classifier with the mix, then the encoder's layers."""
        encoder_ids = {id(p) for p in self.encoder.parameters()}
        head = [p for p in self.parameters() if id(p) not in encoder_ids]
        return [head, *self.encoder.layer_groups()]

    def input_vectors(self, ids: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        embedded = super().input_vectors(ids, lengths)
        trainable = any(p.requires_grad for p in self.encoder.parameters())
        if trainable or is_tracing():
            # An export graph must not switch grad mode: torch.export keeps the switch as a
            # wrap_with_set_grad_enabled node, which its own verifier then rejects.
            layers = self.encoder(ids, lengths)
        else:
            with torch.no_grad():  # a frozen encoder: keep no graph of it
                layers = self.encoder(ids, lengths)
        return torch.cat([embedded, self.mix(layers)], dim=-1)

