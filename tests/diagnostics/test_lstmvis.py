"""The LSTMVis export, read back with h5py the way LSTMVis's server reads a project.

``read_like_lstmvis`` follows lstmdata/data_handler.py of github:HendrikStrobelt/LSTMVis
(LSTMDataHandler.__init__, get_words, get_states): the files named in lstm.yml, HDF5 ones by
their .h5/.hdf5 ending and dictionaries by .dict; a dictionary line is "word id", or starts
with a space for the space token; every state type's ``file::path`` must exist.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rnnlab.diagnostics.lstmvis import export_lstmvis, lstmvis_words
from rnnlab.diagnostics.states import trace_layer, trace_model
from rnnlab.diagnostics.unit_search import regex_track
from tests.diagnostics.planted import (
    PLANTED_UNIT,
    QUOTE_PATTERN,
    QUOTED_TEXT,
    PlantedCharModel,
    encode,
)

h5py = pytest.importorskip("h5py")
yaml = pytest.importorskip("yaml")


def read_like_lstmvis(directory: Path) -> dict:
    config = yaml.load((directory / "lstm.yml").read_text(), Loader=yaml.FullLoader)
    files = {key: h5py.File(directory / name, "r") for key, name in config["files"].items()
             if name.endswith((".h5", ".hdf5"))}
    id_to_word = {}
    for name in config["files"].values():
        if name.endswith((".dict", ".txt")):
            for line in (directory / name).read_text().splitlines(keepends=True):
                if len(line.split()) == 2:
                    word, index = line.split()
                    id_to_word[int(index)] = word
                elif line[0] == " ":
                    id_to_word[int(line.strip())] = " "
    sequence = config["word_sequence"]
    word_ids = files[sequence["file"]][sequence["path"]][()]
    states = {}
    default = config["states"]["file"]
    for entry in config["states"]["types"]:
        source = files[entry.get("file", default)][entry["path"]]
        assert source.ndim == 2 and source.shape[0] == len(word_ids)
        states[entry["path"]] = (entry, source[()])
    meta = {name: files[info["file"]][info["path"]][()]
            for name, info in (config.get("meta") or {}).items()}
    result = {"config": config, "words": [id_to_word[i] for i in word_ids.tolist()],
              "states": states, "meta": meta}
    for file in files.values():
        file.close()
    return result


@pytest.fixture(scope="module")
def planted_trace():
    traced = trace_model(PlantedCharModel(), encode(QUOTED_TEXT), tokens=tuple(QUOTED_TEXT))
    return replace(traced, text=QUOTED_TEXT,
                   spans=tuple((i, i + 1) for i in range(len(QUOTED_TEXT))), source="planted")


def test_the_export_reads_back_in_the_layout_lstmvis_reads(planted_trace, tmp_path):
    track = regex_track(QUOTED_TEXT, QUOTE_PATTERN, planted_trace.spans)
    export_lstmvis(planted_trace, tmp_path / "planted", track=track)
    assert sorted(p.name for p in (tmp_path / "planted").iterdir()) == [
        "lstm.yml", "states.hdf5", "train.dict", "train.hdf5"]
    project = read_like_lstmvis(tmp_path / "planted")
    assert "".join(project["words"]) == QUOTED_TEXT  # the space token survives the dict
    entry, h = project["states"]["h_rnn_layer1_forward"]
    assert entry == {"type": "output", "layer": 1, "path": "h_rnn_layer1_forward",
                     "transform": "none"}
    np.testing.assert_array_equal(h, planted_trace.states("h"))
    forget_entry, _ = project["states"]["forget_rnn_layer1_forward"]
    assert forget_entry["unsigned"] is True and forget_entry["transform"] == "none"
    assert project["states"]["c_rnn_layer1_forward"][0]["type"] == "state"  # LSTMVis tanh
    np.testing.assert_array_equal(project["meta"]["pattern"], track)
    assert project["config"]["meta"]["pattern"]["vis"] == {"type": "scalar", "range": [0, 1]}
    # LSTMVis finds the quote cell by thresholding: on exactly inside the quotations.
    assert ((h[:, PLANTED_UNIT] > 0.3) == track.astype(bool)).all()


def test_layers_directions_and_kinds_are_named_from_one(tmp_path):
    import torch

    import rnnlab

    torch.manual_seed(0)
    trace = trace_layer(rnnlab.GRU(3, 4, num_layers=2, bidirectional=True), torch.randn(5, 3),
                        tokens=("a\nb", "\t", "", "x y", " "))
    export_lstmvis(trace, tmp_path, kinds=("h", "update"))
    project = read_like_lstmvis(tmp_path)
    assert sorted(project["states"]) == sorted(
        f"{kind}_layer{layer}_{direction}" for kind in ("h", "update") for layer in (1, 2)
        for direction in ("forward", "backward"))
    assert project["states"]["h_layer2_backward"][0]["layer"] == 2
    assert project["words"] == ["a⏎b", "⇥", "∅", "x·y", " "]


def test_words_get_ids_from_one_by_first_appearance():
    words, ids, dictionary = lstmvis_words(["b", "a", "b", "\n"])
    assert ids == [1, 2, 1, 3] and dictionary == {"b": 1, "a": 2, "⏎": 3}
    assert words == ["b", "a", "b", "⏎"]


def test_a_second_export_replaces_the_first_whole(planted_trace, tmp_path):
    export_lstmvis(planted_trace, tmp_path, track=[0] * (len(QUOTED_TEXT) - 1) + [1])
    export_lstmvis(planted_trace, tmp_path, kinds=("c",))
    project = read_like_lstmvis(tmp_path)
    assert list(project["states"]) == ["c_rnn_layer1_forward"] and project["meta"] == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "lstm.yml", "states.hdf5", "train.dict", "train.hdf5"]  # no staging left behind


def test_bad_exports_are_refused_and_write_nothing(planted_trace, tmp_path):
    with pytest.raises(ValueError, match="selects nothing"):
        export_lstmvis(planted_trace, tmp_path / "a", kinds=("update",))
    assert list((tmp_path / "a").iterdir()) == []
    with pytest.raises(ValueError, match="one value per token"):
        export_lstmvis(planted_trace, tmp_path / "b", track=[0, 1])
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        export_lstmvis(planted_trace, tmp_path / "file")
