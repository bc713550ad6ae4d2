"""Training seed 000's bidirectional next-word model on IMDB text; accuracy per direction.

Each review becomes ``<s> w1 … wn </s>`` (at most ``max_tokens`` words), post-padded, with
its length. The forward direction at t is scored against token t+1, the backward direction at
t against token t−1, over real positions only::

    ids        <s>  the  film  was  </s>  <pad>
    forward    the  film was   </s>  ·     ·       (position t predicts t+1)
    backward    ·   <s>  the   film  was   ·       (position t predicts t−1)

Both directions train together on the sum of their mean token losses (Adam, as the seed's
Keras model did). ``compare_next_word`` trains the fixed and the leaky model from the same
seed so the only difference is the bug.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from rnnlab._config import check_positive_ints
from rnnlab.data import PAD_TOKEN, UNK_TOKEN, BucketConfig, Vocab, VocabConfig, bucket_batches
from rnnlab.data.nextword_sources import NextWordDataConfig, load_nextword_texts
from rnnlab.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig
from rnnlab.train.progress import progress_enabled

BOS_TOKEN = "<s>"
END_TOKEN = "</s>"
# Model flags of each variant: "leaky" is the seed's bug (both backward LSTM outputs used
# unflipped; its fix flipped "the outputs of both LSTM layers"); "leaky-lstm1" leaves only
# LSTM1's output unflipped, a slower-to-exploit half of the same bug.
VARIANTS: dict[str, dict[str, bool]] = {
    "fixed": {},
    "leaky": {"leaky": True},
    "leaky-lstm1": {"leaky_lstm1_only": True},
}


@dataclass(frozen=True)
class NextWordConfig:
    """Data, model and training settings for the seed-000 demonstration."""

    data: str = "imdb-short"  # imdb-short | imdb | brown | a path (data.nextword_sources)
    epochs: int = 8  # the seed trained ~35 epochs (early stopping) on the full IMDB
    vocab_size: int = 5_000  # ids, <pad> <unk> <s> </s> included
    max_tokens: int = 50  # words kept per review (imdb-short has at most 100)
    max_reviews: int | None = None  # train on the first N reviews only (None: all)
    embedding_size: int = 64
    hidden_size: int = 128
    batch_size: int = 16  # small batches: more updates on a small corpus
    learning_rate: float = 3e-3  # Adam
    max_grad_norm: float = 5.0
    seed: int = 0
    bucket_pool_batches: int = 1  # >1: texts of similar length batched together

    def __post_init__(self) -> None:
        check_positive_ints(self, ("bucket_pool_batches",))


@dataclass(frozen=True, eq=False)
class NextWordData:
    """ids ``(reviews, time)`` post-padded with 0, lengths ``(reviews,)``."""

    ids: torch.Tensor
    lengths: torch.Tensor


def next_word_vocab(token_lists: Sequence[Sequence[str]], max_size: int) -> Vocab:
    """``<pad>`` 0, ``<unk>`` 1, ``<s>`` 2, ``</s>`` 3, then training words by frequency."""
    fitted = Vocab.fit(token_lists, VocabConfig(max_size=max(max_size - 2, 2)))
    return Vocab((PAD_TOKEN, UNK_TOKEN, BOS_TOKEN, END_TOKEN, *fitted.tokens[2:]))


def encode_reviews(
    token_lists: Sequence[Sequence[str]], vocab: Vocab, max_tokens: int
) -> NextWordData:
    """``<s> words </s>`` per review, post-padded: a :class:`NextWordData`."""
    rows = [[BOS_TOKEN, *tokens[:max_tokens], END_TOKEN] for tokens in token_lists]
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    ids = np.zeros((len(rows), int(lengths.max())), dtype=np.int64)
    for index, row in enumerate(rows):
        ids[index, : len(row)] = vocab.encode(row)
    return NextWordData(torch.from_numpy(ids), torch.from_numpy(lengths))


def direction_targets(
    ids: torch.Tensor, lengths: torch.Tensor
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per direction: targets ``(batch, time)`` and a mask of the positions that are scored."""
    time = ids.shape[1]
    positions = torch.arange(time).unsqueeze(0)
    real = positions < lengths.unsqueeze(1)
    pad = torch.zeros_like(ids[:, :1])
    forward_targets = torch.cat([ids[:, 1:], pad], dim=1)
    backward_targets = torch.cat([pad, ids[:, :-1]], dim=1)
    forward_mask = real & (positions < (lengths - 1).unsqueeze(1))
    backward_mask = real & (positions > 0)
    return {"forward": (forward_targets, forward_mask), "backward": (backward_targets,
                                                                     backward_mask)}


def next_word_loss(
    outputs: dict[str, torch.Tensor], ids: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """Sum over directions of the mean NLL of the scored positions."""
    loss = outputs["forward"].new_zeros(())
    for name, (targets, mask) in direction_targets(ids, lengths).items():
        loss = loss + F.cross_entropy(outputs[name][mask], targets[mask])
    return loss


@torch.no_grad()
def next_word_accuracy(
    model: BidirectionalLM, data: NextWordData, batch_size: int = 64
) -> dict[str, float]:
    """Top-1 next-word accuracy per direction over every scored position."""
    was_training = model.training
    model.eval()
    correct = {"forward": 0, "backward": 0}
    total = {"forward": 0, "backward": 0}
    for start in range(0, len(data.ids), batch_size):
        lengths = data.lengths[start : start + batch_size]
        ids = data.ids[start : start + batch_size, : int(lengths.max())]
        outputs = model(ids, lengths=lengths)
        for name, (targets, mask) in direction_targets(ids, lengths).items():
            predicted = outputs[name].argmax(-1)
            correct[name] += int((predicted == targets)[mask].sum())
            total[name] += int(mask.sum())
    model.train(was_training)
    return {name: correct[name] / max(total[name], 1) for name in correct}


def shuffled_batches(
    data: NextWordData, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch's ``(ids (batch, time), lengths (batch,))`` in an order drawn from
    ``generator``; each batch cut to its longest text."""
    order = torch.randperm(len(data.ids), generator=generator)
    for start in range(0, len(order), batch_size):
        yield _trimmed(data, order[start : start + batch_size])


def _trimmed(data: NextWordData, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids (batch, longest), lengths (batch,))`` of the texts ``rows``."""
    lengths = data.lengths[rows]
    return data.ids[rows][:, : int(lengths.max())], lengths


def bucketed_batches(
    data: NextWordData, batch_size: int, pool_batches: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """As :func:`shuffled_batches`, with texts of similar length batched together
    (:func:`rnnlab.data.bucket_batches` over pools of ``pool_batches`` batches).

    A random batch of IMDB reviews is padded to its longest one, so most of its positions
    are padding (3.5x the real tokens at 1,000 tokens, batch 64); sorted pools compute little
    more than the real ones. The pools' seed is drawn from ``generator``, whose state a
    checkpoint keeps: a resumed run sees the batches an uninterrupted one would.
    """
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    config = BucketConfig(batch_size=batch_size, pool_batches=pool_batches)
    for index in bucket_batches(data.lengths.numpy(), config, seed=seed):
        yield _trimmed(data, torch.from_numpy(index))


def epoch_batches(
    data: NextWordData, batch_size: int, pool_batches: int, generator: torch.Generator
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch's batches: plain shuffled (``pool_batches == 1``) or length-bucketed."""
    if pool_batches == 1:
        return list(shuffled_batches(data, batch_size, generator))
    return list(bucketed_batches(data, batch_size, pool_batches, generator))


def train_next_word(
    model: BidirectionalLM,
    train: NextWordData,
    valid: NextWordData,
    config: NextWordConfig,
    *,
    progress: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> list[dict[str, float]]:
    """Adam on both directions; valid accuracy per direction after every epoch."""
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    history = []
    for epoch in range(1, config.epochs + 1):
        start, total, count = time.perf_counter(), 0.0, 0
        model.train()
        batches = epoch_batches(train, config.batch_size, config.bucket_pool_batches, generator)
        for ids, lengths in tqdm(batches, desc=f"epoch {epoch}",
                                 disable=not progress_enabled(progress), leave=False):
            loss = next_word_loss(model(ids, lengths=lengths), ids, lengths)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            total, count = total + float(loss.detach()), count + 1
        accuracy = next_word_accuracy(model, valid)
        row = {"epoch": epoch, "train_loss": total / count,
               "forward_accuracy": accuracy["forward"], "backward_accuracy": accuracy["backward"],
               "seconds": time.perf_counter() - start}
        history.append(row)
        log(f"epoch {epoch}: loss {row['train_loss']:.3f}  valid next-word accuracy forward "
            f"{row['forward_accuracy']:.2%} backward {row['backward_accuracy']:.2%} "
            f"({row['seconds']:.0f} s)")
    return history


def load_next_word_data(config: NextWordConfig) -> tuple[Vocab, NextWordData, NextWordData]:
    """Vocabulary fitted on the train texts; encoded train and valid texts (any source of
    :mod:`rnnlab.data.nextword_sources`; the valid texts are held out of the training ones)."""
    texts = load_nextword_texts(NextWordDataConfig(
        data=config.data, vocab_size=config.vocab_size, max_tokens=config.max_tokens,
        max_texts=config.max_reviews))
    vocab = next_word_vocab(texts.train, config.vocab_size)
    return (vocab, encode_reviews(texts.train, vocab, config.max_tokens),
            encode_reviews(texts.valid, vocab, config.max_tokens))


def compare_next_word(
    config: NextWordConfig,
    variants: Sequence[str] = ("fixed", "leaky"),
    *,
    progress: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, list[dict[str, float]]]:
    """Train one model per variant ("fixed", "leaky") from the same seed; their histories."""
    vocab, train, valid = load_next_word_data(config)
    log(f"{config.data}: vocab {len(vocab):,}, {len(train.ids):,} train reviews "
        f"({int(train.lengths.sum()):,} tokens), {len(valid.ids):,} valid; {asdict(config)}")
    results = {}
    for variant in variants:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            model = BidirectionalLM(BidirectionalLMConfig(
                vocab_size=len(vocab), embedding_size=config.embedding_size,
                hidden_size=config.hidden_size, **VARIANTS[variant],
            ))  # fmt: skip
            log(f"--- {variant} ---")
            results[variant] = train_next_word(model, train, valid, config,
                                               progress=progress, log=log)
    return results
