"""A user's text as each kind of run reads it: tokens, spans into the text, ids, known."""

from __future__ import annotations

import pytest

from rnnlab.data import Vocab, tokenize
from rnnlab.diagnostics.run_text import encode_text, is_character_vocab

CLASSIFIER_VOCAB = Vocab(("<pad>", "<unk>", "i", "didn't", "like", "it", ".", "really", "!"))


def test_classifier_text_is_tokenized_as_training_was_and_keeps_spans():
    text = "I didn’t like it.<br /><br />Really, Bob!"
    encoded = encode_text(text, CLASSIFIER_VOCAB, "classifier")
    assert list(encoded.tokens) == tokenize(text)  # the training tokenizer, exactly
    assert [text[s:e] for s, e in encoded.spans] == [
        "I", "didn’t", "like", "it", ".", "Really", ",", "Bob", "!"]
    assert encoded.known == (True, True, True, True, True, True, False, False, True)
    assert encoded.ids[6] == CLASSIFIER_VOCAB.unk_id
    assert encoded.display[0] == "I"  # shown as written, not lower-cased


def test_a_break_tag_never_lends_its_letters_to_a_token():
    vocab = Vocab(("<pad>", "<unk>", "a", "b", "r"))
    encoded = encode_text("a<br />b r", vocab, "classifier")
    assert encoded.tokens == ("a", "b", "r")
    assert encoded.spans == ((0, 1), (7, 8), (9, 10))


def test_word_lm_keeps_case_falls_back_to_lower_case_and_maps_quotes_and_lines():
    vocab = Vocab(("<unk>", "<eos>", "The", "the", "cat", "``", "''", "said", "."),
                  pad_token=None)
    text = 'The cat said "THE cat."\nCat'
    encoded = encode_text(text, vocab, "language_model")
    assert encoded.tokens == ("The", "cat", "said", "``", "the", "cat", ".", "''", "<eos>",
                              "cat")
    assert encoded.spans[3] == (13, 14) and encoded.spans[7] == (22, 23)
    assert encoded.display[8] == "⏎" and all(encoded.known) and encoded.unit == "word"


def test_character_lm_reads_one_token_per_character():
    vocab = Vocab(("<unk>", "<eos>", " ", "a", "b", '"'), pad_token=None)
    assert is_character_vocab(vocab)
    encoded = encode_text('ab "x"\nb', vocab, "language_model")
    assert encoded.unit == "character" and len(encoded.tokens) == 8
    assert encoded.tokens[6] == "<eos>" and encoded.spans[6] == (6, 7)
    assert encoded.known == (True, True, True, True, False, True, True, True)


@pytest.mark.parametrize("text, message", [
    ("", "--text is empty"),
    ("   \n", "--text is empty"),
    ("zebra quagga", r"--text: none of its 2 word token\(s\) is in the run's vocabulary"),
])
def test_text_the_run_cannot_read_is_refused_naming_the_argument(text, message):
    with pytest.raises(ValueError, match=message):
        encode_text(text, CLASSIFIER_VOCAB, "classifier", argument="--text")


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be"):
        encode_text("it", CLASSIFIER_VOCAB, "tagger")
