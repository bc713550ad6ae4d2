"""The torch-free predictor, end to end: a tiny trained run, exported to ONNX, predicted with
onnxruntime and NumPy, in this process and in one where ``import torch`` fails."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from rnnlab.data import EncodingConfig, VocabConfig, encode_dataset, load_dataset
from rnnlab.export import export_run
from rnnlab.serving import Predictor
from rnnlab.train import classifier_config_for, load_run, predict_texts, train_classifier

pytestmark = pytest.mark.slow

TEXTS = ["a wonderful, moving film", "dull and awful", "ok", "",
         "the plot was thin but the acting was great and the music even better " * 3]
# A meta-path finder that refuses torch: the fresh interpreter behaves as one without it.
NO_TORCH = textwrap.dedent(
    """
    import sys

    class NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError(f"{name} is blocked in this test (the predictor must not "
                                  "import torch)")
            return None

    sys.meta_path.insert(0, NoTorch())
    """
)


def run_without_torch(body: str) -> list[str]:
    """Run ``body`` in a fresh interpreter where importing torch fails (checked first);
    its stdout lines, after asserting it exited 0 and never loaded a torch module."""
    code = NO_TORCH + textwrap.dedent(
        """
        try:
            import torch
        except ImportError:
            pass
        else:
            raise SystemExit("torch was importable: the test proves nothing")
        """
    ) + textwrap.dedent(body) + textwrap.dedent(
        """
        print(sorted(m for m in sys.modules if m.split(".")[0] == "torch"))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    *lines, modules = done.stdout.strip().splitlines()
    assert modules == "[]"
    return lines


@pytest.fixture(scope="module")
def run_and_export(tmp_path_factory):
    """A one-epoch masked GRU (pre padding, maxlen 20) and its ONNX export."""
    root = tmp_path_factory.mktemp("serving")
    data = encode_dataset(load_dataset("imdb-short"), vocab_config=VocabConfig(max_size=300),
                          encoding=EncodingConfig(maxlen=20))
    config = classifier_config_for(data, "SS_RSF_GRU", masked=True, embedding_size=5,
                                   hidden_size=6, dense_size=7)
    train_classifier(config, data, seed=0, out_dir=root / "run", epochs=1, progress=False)
    export_run(root / "run", root / "export", "onnx")
    return root / "run", root / "export"


def test_predictor_equals_the_runs_own_pytorch_predictions(run_and_export):
    run_dir, export_dir = run_and_export
    want = predict_texts(load_run(run_dir, "classifier"), TEXTS)
    got = Predictor(export_dir, batch_size=2).predict(TEXTS)  # 3 batches, ragged last one
    assert [p.label for p in got] == [p.label for p in want]
    for mine, theirs in zip(got, want, strict=True):
        assert mine.probabilities == pytest.approx(theirs.probabilities, abs=1e-5)
    # not a constant model: the texts get different probabilities
    assert len({round(p.probability, 6) for p in got}) > 2


def test_batch_tokenisation_trims_a_masked_batch_to_its_longest_text(run_and_export):
    predictor = Predictor(run_and_export[1])
    ids, lengths = predictor.encode(["ok", "dull and awful"])
    assert ids.shape == (2, 3) and lengths.tolist() == [1, 3]
    assert ids[0, :2].tolist() == [0, 0]  # pre padding
    ids, lengths = predictor.encode(TEXTS[-1:])
    assert ids.shape == (1, 20) and lengths.tolist() == [20]  # truncated to maxlen


def test_predictor_runs_where_torch_cannot_be_imported(run_and_export):
    run_dir, export_dir = run_and_export
    lines = run_without_torch(
        f"""
        import json
        from rnnlab.serving import Predictor
        predictions = Predictor({str(export_dir)!r}).predict({TEXTS!r})
        print(json.dumps([[p.label, p.probabilities] for p in predictions]))
        """
    )
    want = predict_texts(load_run(run_dir, "classifier"), TEXTS)
    for (label, probabilities), theirs in zip(json.loads(lines[0]), want, strict=True):
        assert label == theirs.label
        assert probabilities == pytest.approx(theirs.probabilities, abs=1e-5)


def test_cli_predict_with_a_model_runs_where_torch_cannot_be_imported(run_and_export):
    _, export_dir = run_and_export
    code = NO_TORCH + textwrap.dedent(
        f"""
        from rnnlab.cli import main
        sys.exit(main(["predict", "--model", {str(export_dir)!r}, "dull and awful", "ok"]))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line.split("\t")[2] for line in lines] == ["dull and awful", "ok"]
    assert all(line.split("\t")[0] in ("neg", "pos") for line in lines)
