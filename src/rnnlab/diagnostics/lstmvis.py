"""Export a trace to LSTMVis's input format (Strobelt et al. 2018, github:HendrikStrobelt/LSTMVis).

LSTMVis (``lstm_server.py -dir DATADIR``) opens every folder under ``DATADIR`` that holds an
``lstm.yml``. What its reader (``lstmdata/data_handler.py``) needs, and what this writes::

    DIR/lstm.yml        name, description, files, word_sequence, states (and meta)
    DIR/states.hdf5     one dataset per layer, direction and kind: (tokens, units) float32,
                        named like h_layer1_forward, c_layer1_forward, forget_layer1_forward
    DIR/train.hdf5      word_ids: (tokens,) int64, the token at every position
    DIR/train.dict      "word id" per line; LSTMVis splits each line on whitespace and takes
                        a line starting with a space as the space token
    (optional)          pattern: (tokens,) in train.hdf5, a scalar meta track in [0, 1]

HDF5 names must end in ``.h5``/``.hdf5`` and dictionaries in ``.dict`` for LSTMVis to open them.
Layers are numbered from 1, as LSTMVis numbers them. ``h`` is declared ``type: output``
(LSTMVis's name for the hidden output) with ``transform: none`` (it is in [-1, 1]); ``c``
``type: state``, which LSTMVis maps through tanh by default; gates ``unsigned: true,
transform: none`` (they are in [0, 1]; GRU's ``new`` is a tanh, signed). Words are the
tokens as written in the text, whitespace inside a token made visible (⏎, ⇥, ·), since a
dictionary line cannot hold it; ids count from 1 in order of first appearance, as LSTMVis's
``txt_to_hdf5_dict.py`` does.

h5py is needed (``pip install 'rnnlab[viz]'``); the YAML is written by hand (JSON-style flow
values, which YAML reads), so PyYAML is not.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from rnnlab.diagnostics.states import StateTrace

__all__ = ["export_lstmvis", "lstmvis_words", "require_h5py"]

STATES_FILE, WORDS_FILE, DICT_FILE, CONFIG_FILE = "states.hdf5", "train.hdf5", "train.dict", \
    "lstm.yml"
SIGNED_GATES = {"candidate", "new"}  # tanh-valued
_VISIBLE = {"\n": "⏎", "\r": "⏎", "\t": "⇥"}


def require_h5py():
    try:
        import h5py
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "the LSTMVis export needs h5py: pip install 'rnnlab[viz]' (or pip install h5py)",
            name="h5py") from None
    return h5py


def lstmvis_words(tokens) -> tuple[list[str], list[int], dict[str, int]]:
    """Dictionary-safe words, their ids (from 1, by first appearance) and the dictionary."""
    words, ids, dictionary = [], [], {}
    for token in tokens:
        if token == " ":
            word = " "  # LSTMVis reads a line that starts with a space as the space token
        else:
            word = "".join(_VISIBLE.get(c, "·" if c.isspace() else c) for c in token) or "∅"
        dictionary.setdefault(word, len(dictionary) + 1)
        words.append(word)
        ids.append(dictionary[word])
    return words, ids, dictionary


def _dataset_name(kind: str, direction) -> str:
    module = f"{direction.module.replace('.', '_').replace('#', '_')}_" if direction.module else ""
    return f"{kind}_{module}layer{direction.layer + 1}_{direction.direction}"


def _state_type(kind: str, dataset: str, layer: int, values: np.ndarray) -> dict:
    entry = {"type": {"h": "output", "c": "state"}.get(kind, kind), "layer": layer,
             "path": dataset}
    if kind == "c":
        return entry  # LSTMVis's default: tanh of the cell state
    entry["transform"] = "none"
    if kind not in SIGNED_GATES and values.size and float(values.min()) >= 0:
        entry["unsigned"] = True
    return entry


def _yaml(config: dict) -> str:
    """``config`` as YAML: one top-level key per line, values in JSON flow style."""
    lines = ["# LSTMVis project written by rnnlab (rnnlab.diagnostics.lstmvis)"]
    for key, value in config.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines += [f"  {inner}: {json.dumps(item, ensure_ascii=False)}"
                      for inner, item in value.items()]
        else:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def export_lstmvis(trace: StateTrace, out_dir: str | os.PathLike[str], *, name: str | None = None,
                   kinds: tuple[str, ...] | None = None, track=None) -> Path:
    """Write ``trace`` as an LSTMVis project in ``out_dir`` (created; our four files replaced
    atomically, all or none). kinds: which of h, c and the gates (default: all); track:
    (tokens,) values in [0, 1] to add as the ``pattern`` meta track. Returns ``out_dir``."""
    h5py = require_h5py()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"the LSTMVis folder {str(out)!r} is a file; give a directory")
    _, ids, dictionary = lstmvis_words(trace.tokens)
    if track is not None:
        track = np.asarray(track, dtype=np.float32)
        if track.shape != (len(ids),):
            raise ValueError(f"track must have one value per token ({len(ids)}), got shape "
                             f"{track.shape}")
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".lstmvis-", dir=out))
    try:
        types = []
        with h5py.File(staging / STATES_FILE, "w") as states:
            for direction in trace.directions:
                for kind, values in direction.values.items():
                    if kinds is not None and kind not in kinds:
                        continue
                    dataset = _dataset_name(kind, direction)
                    states.create_dataset(dataset, data=np.asarray(values, dtype=np.float32))
                    types.append(_state_type(kind, dataset, direction.layer + 1, values))
        if not types:
            raise ValueError(f"kinds={list(kinds or ())} selects nothing; the trace has "
                             f"{sorted({k for d in trace.directions for k in d.values})}")
        with h5py.File(staging / WORDS_FILE, "w") as words_file:
            words_file.create_dataset("word_ids", data=np.asarray(ids, dtype=np.int64))
            if track is not None:
                words_file.create_dataset("pattern", data=track)
        with open(staging / DICT_FILE, "w", encoding="utf-8", newline="\n") as stream:
            stream.writelines(f"{word} {index}\n" for word, index in dictionary.items())
        config = {
            "name": name or (trace.source or "rnnlab states"),
            "description": f"states of {trace.source or 'an rnnlab model'} on "
                           f"{len(ids)} tokens",
            "files": {"states": STATES_FILE, "train": WORDS_FILE, "words": DICT_FILE},
            "word_sequence": {"file": "train", "path": "word_ids", "dict_file": "words"},
            "states": {"file": "states", "types": types},
        }
        if track is not None:
            config["meta"] = {"pattern": {"file": "train", "path": "pattern",
                                          "vis": {"type": "scalar", "range": [0, 1]}}}
        (staging / CONFIG_FILE).write_text(_yaml(config), encoding="utf-8")
        # No lstm.yml while the data files change (LSTMVis skips a folder without one), and
        # the new one last: an interrupted export is never read with mismatched files.
        (out / CONFIG_FILE).unlink(missing_ok=True)
        for file in (STATES_FILE, WORDS_FILE, DICT_FILE, CONFIG_FILE):
            os.replace(staging / file, out / file)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
