"""A tagger's ONNX export, predicted without torch: the same tags as the run's own PyTorch
tagger, text encoded exactly as its training data was."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.serving import Predictor, TaggedSentence
from rnnlab.train.tagger_data import encode_tagging
from rnnlab.train.tagger_eval import load_tagger_run, tag_sentences
from tests.export.tagger_fixture import train_tiny_tagger
from tests.serving.test_predictor import run_without_torch

pytestmark = pytest.mark.slow

# Known and unknown words, capitals, an unknown character (é), a word longer than the 25
# characters a word keeps (first 10 + last 15), a one-token text, and the longest text last.
TEXTS = ["the dog can fly .", "Mary", "a CAT sees every fish",
         "every bird chases the Extraordinarilylongwordthatneverexisted",
         "the café likes a can", "a dog likes the cat . every fish can fly the bird sees Mary"]


@pytest.fixture(scope="module")
def tagger_export(tmp_path_factory):
    """A tiny CRF tagger run, exported as a user would: ``rnnlab export RUN --out DIR``."""
    root = tmp_path_factory.mktemp("tagger-serving")
    run_dir = train_tiny_tagger(root / "run")
    assert main(["export", str(run_dir), "--out", str(root / "export")]) == 0
    return run_dir, root / "export"


def test_predictor_tags_like_the_runs_own_pytorch_tagger(tagger_export):
    run_dir, export_dir = tagger_export
    run = load_tagger_run(run_dir)
    want = tag_sentences(run, [text.split() for text in TEXTS])
    got = Predictor(export_dir, batch_size=4).predict(TEXTS)  # 2 batches, ragged last one
    assert all(isinstance(p, TaggedSentence) for p in got)
    assert [list(p.tags) for p in got] == want
    assert [p.tokens for p in got] == [tuple(text.split()) for text in TEXTS]
    assert got[1].describe() == f"Mary/{want[1][0]}"
    assert len({tag for tags in want for tag in tags}) > 1  # not a constant tagger


def test_tagger_encoding_is_the_training_datas(tagger_export):
    """Word ids (lower-cased, unknown -> <unk>) and char ids (as typed, long words cut to
    their affixes, unknown characters -> <unk>) equal train/tagger_data.py's batch."""
    run_dir, export_dir = tagger_export
    vocabs = load_tagger_run(run_dir).vocabs
    word_ids, char_ids, lengths = Predictor(export_dir).encode(TEXTS)
    batch = encode_tagging([t.split() for t in TEXTS], vocabs, tagged=False).batch(
        np.arange(len(TEXTS)))
    np.testing.assert_array_equal(word_ids, batch["word_ids"].numpy())
    np.testing.assert_array_equal(char_ids, batch["char_ids"].numpy())
    np.testing.assert_array_equal(lengths, batch["lengths"].numpy())
    assert (word_ids == vocabs.words.unk_id).any() and (char_ids == vocabs.chars.unk_id).any()
    assert char_ids.shape[2] == 25  # the long word, cut to 25 characters


def test_tagger_predictor_runs_where_torch_cannot_be_imported(tagger_export):
    run_dir, export_dir = tagger_export
    lines = run_without_torch(
        f"""
        import json
        from rnnlab.cli import main
        from rnnlab.serving import Predictor
        predictions = Predictor({str(export_dir)!r}).predict({TEXTS!r})
        print(json.dumps([list(p.tags) for p in predictions]))
        main(["predict", "--model", {str(export_dir)!r}, {TEXTS[0]!r}])
        """
    )
    tags_line, cli_line = lines[-2:]
    want = tag_sentences(load_tagger_run(run_dir), [text.split() for text in TEXTS])
    assert json.loads(tags_line) == want
    assert cli_line == " ".join(f"{w}/{t}" for w, t in zip(TEXTS[0].split(), want[0]))


@pytest.mark.parametrize(("missing", "what"), [
    ("crf.json", r"the CRF's transition, start and end scores"),
    ("chars.json", r"the character vocabulary"),
    ("vocab.json", r"the vocabulary"),
])
def test_tagger_bundle_missing_a_sidecar_names_the_file_and_the_fix(tagger_export, tmp_path,
                                                                    missing, what):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tagger_export[1], broken)
    (broken / missing).unlink()
    with pytest.raises(FileNotFoundError,
                       match=rf"has no {missing} \({what}\); the export is incomplete: "
                             r"export the run again with `rnnlab export RUN_DIR --out "):
        Predictor(broken)


def test_tagger_bundle_with_a_wrong_crf_shape_is_refused(tagger_export, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tagger_export[1], broken)
    crf = json.loads((broken / "crf.json").read_text())
    (broken / "crf.json").write_text(json.dumps({**crf, "start": crf["start"][:-1]}))
    with pytest.raises(ValueError, match=r"crf\.json needs 'start' of shape \(4,\) for 4 "
                                         "tags; export the run again"):
        Predictor(broken)
    with pytest.raises(ValueError, match=r"texts \[1\] have no tokens"):
        Predictor(tagger_export[1]).predict(["the dog", "  "])


def test_softmax_tagger_without_char_features_tags_by_argmax(tmp_path):
    """No CRF (so no crf.json, decoder "argmax"), no character features, a GRU."""
    run_dir = train_tiny_tagger(tmp_path / "run", crf=False, char_features="none", cell="gru")
    export_dir = tmp_path / "export"
    assert main(["export", str(run_dir), "--out", str(export_dir)]) == 0
    assert not (export_dir / "crf.json").exists()
    predictor = Predictor(export_dir)
    assert predictor.bundle.manifest["decoder"] == "argmax"
    want = tag_sentences(load_tagger_run(run_dir), [text.split() for text in TEXTS])
    assert [list(p.tags) for p in predictor.predict(TEXTS)] == want
