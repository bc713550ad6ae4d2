"""The seed-002 classifier: shapes, parameter counts, masking, and a torch.nn oracle."""

from __future__ import annotations

import pytest
import torch

from rnnlab.models import (
    SEED_ARRANGEMENTS,
    ClassifierConfig,
    SequenceClassifier,
    logits_to_probabilities,
    parameter_count,
)

# Tiny sizes that all differ, so a swapped dimension fails loudly.
BATCH, TIME, VOCAB, EMBED, HIDDEN, DENSE = 3, 9, 50, 5, 6, 7
TINY = {"vocab_size": VOCAB, "embedding_size": EMBED, "hidden_size": HIDDEN, "dense_size": DENSE}


def tiny(name: str, **overrides) -> SequenceClassifier:
    return SequenceClassifier(ClassifierConfig.from_arrangement(name, **{**TINY, **overrides}),
                              seed=0)


def pad(rows: list[list[int]], time: int, side: str, pad_id: int = 0):
    """(ids (batch, time), lengths (batch,)) with ``pad_id`` on ``side``."""
    ids = torch.full((len(rows), time), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        if side == "pre":
            ids[i, time - len(row):] = torch.tensor(row)
        else:
            ids[i, :len(row)] = torch.tensor(row)
    return ids, torch.tensor([len(r) for r in rows])


ROWS = [[5, 6, 7, 8, 9, 10, 11], [12, 13, 14], [15]]


def expected_torch_count(name: str, vocab: int, embed: int, hidden: int, dense: int) -> int:
    """By hand, from the arrangement's meaning (torch layout: two biases per cell)."""
    gates = 4 if name.endswith("LSTM") else 3
    bidirectional = "_bi" in name
    layers = 2 if name.startswith("MS") and not bidirectional else 1
    directions = 2 if bidirectional else 1
    count = vocab * embed
    for layer in range(layers):
        layer_input = embed if layer == 0 else hidden * directions
        count += directions * gates * (layer_input * hidden + hidden * hidden + 2 * hidden)
    count += hidden * directions * dense + dense  # Dense(64)
    count += dense + 1  # Dense(1, sigmoid)
    return count


@pytest.mark.parametrize("name", SEED_ARRANGEMENTS)
def test_each_seed_arrangement_builds_with_expected_shapes_and_parameter_count(name):
    model = tiny(name)
    ids, lengths = pad(ROWS, TIME, "pre")
    assert model(ids, lengths).shape == (BATCH, 1)
    directions = 2 if "_bi" in name else 1
    assert model.features(ids, lengths).shape == (BATCH, directions * HIDDEN)
    assert parameter_count(model) == expected_torch_count(name, VOCAB, EMBED, HIDDEN, DENSE)


@pytest.mark.parametrize("name", SEED_ARRANGEMENTS)
def test_seed_sizes_give_the_hand_computed_count(name):
    model = SequenceClassifier(ClassifierConfig.from_arrangement(name, vocab_size=5000))
    assert parameter_count(model) == expected_torch_count(name, 5000, 64, 128, 64)


def test_ss_rsf_lstm_parameter_count_matches_keras_by_hand():
    # Keras: Embedding(5000, 64) → LSTM(128) → Dense(64) → Dense(1, sigmoid).
    # Keras's LSTM has ONE bias of 4·128; torch (and rnnlab) keep bias_ih and bias_hh.
    keras_embedding = 5000 * 64
    keras_lstm = 4 * (64 * 128 + 128 * 128 + 128)
    keras_dense = 128 * 64 + 64
    keras_output = 64 + 1
    keras_total = keras_embedding + keras_lstm + keras_dense + keras_output
    assert keras_total == 427_137  # model.summary() of seed 002's SS_RSF_LSTM
    model = SequenceClassifier(ClassifierConfig.from_arrangement("SS_RSF_LSTM", vocab_size=5000))
    # Ours = Keras + one extra bias of 4·128 per cell direction (one here).
    assert parameter_count(model) == keras_total + 4 * 128
    assert parameter_count(model, convention="keras") == keras_total


def test_keras_count_merges_lstm_biases_per_direction_but_not_grus():
    bilstm = SequenceClassifier(ClassifierConfig.from_arrangement("MS_RSF_biLSTM", **TINY))
    assert parameter_count(bilstm) - parameter_count(bilstm, "keras") == 2 * 4 * HIDDEN
    stacked = SequenceClassifier(ClassifierConfig.from_arrangement("MS_RSF_LSTM", **TINY))
    assert parameter_count(stacked) - parameter_count(stacked, "keras") == 2 * 4 * HIDDEN
    # Keras's GRU (reset_after=True, its default) keeps two biases, as torch.
    gru = SequenceClassifier(ClassifierConfig.from_arrangement("MS_RSF_biGRU", **TINY))
    assert parameter_count(gru) == parameter_count(gru, "keras")


@pytest.mark.parametrize("cell", ["lstm", "gru", "peephole", "layernorm"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("side", ["pre", "post"])
def test_masked_logits_ignore_pad_content_and_amount(cell, bidirectional, pooling, side):
    model = SequenceClassifier(ClassifierConfig(
        **TINY, cell=cell, bidirectional=bidirectional, num_layers=2, pooling=pooling,
        masked=True, padding=side))
    ids, lengths = pad(ROWS, TIME, side)
    reference = model(ids, lengths)
    wider, wider_lengths = pad(ROWS, TIME + 4, side, pad_id=3)  # other pad id, more of it
    torch.testing.assert_close(model(wider, wider_lengths), reference, rtol=0, atol=1e-6)
    tight, tight_lengths = pad(ROWS, 7, side)  # the least padding the batch allows
    torch.testing.assert_close(model(tight, tight_lengths), reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["SS_RSF_LSTM", "SS_RST_GRU", "MS_RSF_biLSTM", "MS_RST_biGRU"])
def test_unmasked_logits_depend_on_padding_as_in_keras(name):
    model = tiny(name)  # masked=False: the seed's Keras model without mask_zero
    ids, lengths = pad(ROWS, TIME, "pre")
    wider, wider_lengths = pad(ROWS, TIME + 4, "pre")
    assert not torch.allclose(model(ids, lengths), model(wider, wider_lengths), atol=1e-4)
    # and the lengths are ignored: the padding is read whatever they say
    torch.testing.assert_close(model(ids, lengths), model(ids, None), rtol=0, atol=0)


@pytest.mark.parametrize("name", ["SS_RST_LSTM", "MS_RSF_biLSTM", "MS_RST_GRU"])
def test_unmasked_model_equals_a_torch_nn_oracle_reading_every_position(name):
    """Keras without mask_zero = torch.nn's layer over all positions, then pool/dense/output."""
    model = tiny(name).eval()
    config = model.config
    oracle_cls = torch.nn.LSTM if config.cell == "lstm" else torch.nn.GRU
    oracle = oracle_cls(EMBED, HIDDEN, num_layers=config.num_layers, batch_first=True,
                        bidirectional=config.bidirectional)
    oracle.load_state_dict(model.recurrent.state_dict())
    ids, _ = pad(ROWS, TIME, "pre")
    with torch.no_grad():
        output, state = oracle(model.embedding(ids))
        h_n = state[0] if isinstance(state, tuple) else state
        if config.pooling == "mean":  # AveragePooling1D(pool_size=time): every step counts
            pooled = output.mean(dim=1)
        elif config.bidirectional:  # Bidirectional(LSTM): forward h_n ⊕ backward h_n
            pooled = torch.cat([h_n[-2], h_n[-1]], dim=-1)
        else:
            pooled = h_n[-1]
        expected = model.output(model.dense(pooled))
        torch.testing.assert_close(model(ids), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_masked_and_unmasked_agree_without_padding(pooling):
    unmasked = SequenceClassifier(ClassifierConfig(**TINY, pooling=pooling, bidirectional=True))
    masked = SequenceClassifier(ClassifierConfig(**TINY, pooling=pooling, bidirectional=True,
                                                 masked=True))
    ids = torch.randint(2, VOCAB, (BATCH, TIME), generator=torch.Generator().manual_seed(1))
    full = torch.full((BATCH,), TIME)
    torch.testing.assert_close(masked(ids, full), unmasked(ids), rtol=1e-5, atol=1e-6)


def test_masked_mean_divides_by_real_length_and_empty_rows_pool_to_zero():
    model = SequenceClassifier(ClassifierConfig(**TINY, pooling="mean", masked=True))
    ids, lengths = pad([[5, 6], []], 4, "pre")
    pooled = model.features(ids, lengths)
    alone = model.features(torch.tensor([[5, 6]]), torch.tensor([2]))
    torch.testing.assert_close(pooled[0], alone[0])
    assert torch.equal(pooled[1], torch.zeros(HIDDEN))


def test_masked_model_requires_lengths():
    model = SequenceClassifier(ClassifierConfig(**TINY, masked=True))
    with pytest.raises(ValueError, match="lengths must be given when masked=True"):
        model(torch.ones(2, 3, dtype=torch.long))


def test_ids_must_be_two_dimensional():
    with pytest.raises(ValueError, match=r"ids must be \(batch, time\)"):
        tiny("SS_RSF_LSTM")(torch.ones(2, 3, 4, dtype=torch.long))


def test_multiclass_model_emits_one_logit_per_class_and_softmax_probabilities():
    model = SequenceClassifier(ClassifierConfig(**TINY, num_classes=4))
    ids, lengths = pad(ROWS, TIME, "pre")
    logits = model(ids, lengths)
    assert logits.shape == (BATCH, 4)
    probabilities = logits_to_probabilities(logits)
    torch.testing.assert_close(probabilities.sum(-1), torch.ones(BATCH))


def test_binary_probabilities_are_sigmoid_of_the_logit():
    logits = torch.tensor([[0.0], [2.0]])
    probabilities = logits_to_probabilities(logits)
    torch.testing.assert_close(probabilities[:, 1], torch.sigmoid(logits[:, 0]))
    torch.testing.assert_close(probabilities.sum(-1), torch.ones(2))


def test_dense_size_zero_goes_straight_to_the_output_and_activation_applies():
    no_dense = SequenceClassifier(ClassifierConfig(**{**TINY, "dense_size": 0}))
    assert no_dense.dense is None and no_dense.output.in_features == HIDDEN
    relu = SequenceClassifier(ClassifierConfig(**TINY, dense_activation="relu"))
    assert isinstance(relu.activation, torch.nn.ReLU)


@pytest.mark.parametrize("cell", ["rnn", "cifg", "rnn_relu"])
def test_other_cells_build_and_run(cell):
    model = SequenceClassifier(ClassifierConfig(**TINY, cell=cell, masked=True, num_layers=2,
                                                dropout=0.2))
    ids, lengths = pad(ROWS, TIME, "pre")
    assert model(ids, lengths).shape == (BATCH, 1)


def test_state_dict_round_trip_gives_the_same_logits():
    source, target = tiny("MS_RST_biLSTM"), SequenceClassifier(
        ClassifierConfig.from_arrangement("MS_RST_biLSTM", **TINY), seed=1)
    ids, lengths = pad(ROWS, TIME, "pre")
    assert not torch.equal(source(ids, lengths), target(ids, lengths))
    target.load_state_dict(source.state_dict())
    assert torch.equal(source(ids, lengths), target(ids, lengths))


@pytest.mark.parametrize("option", ["embedding_dropout", "pooled_dropout"])
def test_dropout_options_act_in_training_only(option):
    config = ClassifierConfig.from_arrangement("SS_RST_LSTM", vocab_size=30, embedding_size=5,
                                               hidden_size=6, **{option: 0.5})
    model = SequenceClassifier(config, seed=0)
    ids = torch.randint(1, 30, (4, 7), generator=torch.Generator().manual_seed(0))
    model.eval()
    assert torch.equal(model(ids), model(ids))
    model.train()
    torch.manual_seed(1)
    first = model(ids)
    torch.manual_seed(2)
    assert not torch.equal(first, model(ids))
    with pytest.raises(ValueError, match=rf"{option} must be in \[0, 1\), got 1.0"):
        config.replace(**{option: 1.0})


def test_out_of_vocabulary_ids_name_the_vocabulary_not_an_index_error():
    model = SequenceClassifier(ClassifierConfig(vocab_size=50, hidden_size=6, embedding_size=5))
    with pytest.raises(ValueError, match=r"ids must be in \[0, 50\) .* got \[0, 57\]"):
        model(torch.tensor([[0, 57, 3]]))


@pytest.mark.parametrize("field,value", [("masked", "yes"), ("bidirectional", "false"),
                                         ("hidden_size", True), ("dropout", "0.5")])
def test_config_refuses_strings_and_booleans_in_the_wrong_place(field, value):
    with pytest.raises(ValueError, match=field):
        ClassifierConfig(**{field: value})


def test_recurrent_dropout_and_weight_drop_reach_the_layer_and_act_in_training_only():
    rows = [[5, 6, 7, 8, 9, 10, 11], [12, 13, 14], [15, 16, 17, 18, 19]]
    ids, lengths = pad(rows, TIME, "post")
    plain = tiny("MS_RST_biLSTM", masked=True, padding="post")
    regularised = tiny("MS_RST_biLSTM", masked=True, padding="post", recurrent_dropout=0.4,
                       weight_dropout=0.3)
    spec = regularised.recurrent.dropout_spec
    assert (spec.recurrent, spec.weight) == (0.4, 0.3)
    for name, value in plain.state_dict().items():  # the same weights: only training differs
        assert torch.equal(value, regularised.state_dict()[name]), name
    plain.eval(), regularised.eval()
    assert torch.equal(plain(ids, lengths), regularised(ids, lengths))
    plain.train(), regularised.train()
    torch.manual_seed(0)
    dropped = regularised(ids, lengths)
    assert not torch.allclose(dropped, plain(ids, lengths))
    torch.manual_seed(0)
    assert torch.equal(dropped, regularised(ids, lengths))  # masks come from torch's RNG
    dropped.sum().backward()
    assert regularised.recurrent.weight_hh_l0.grad.abs().sum() > 0


def test_the_regularisers_are_left_out_of_the_saved_config_when_off():
    config = ClassifierConfig(recurrent_dropout=0.2)
    saved = config.to_dict()
    assert saved["recurrent_dropout"] == 0.2 and "weight_dropout" not in saved
    assert ClassifierConfig.from_dict(saved) == config
    assert not {"recurrent_dropout", "weight_dropout"} & set(ClassifierConfig().to_dict())
