"""Issue 14, "the CLI, thin and consistent": every option's help states its default, `make demo`
runs a file that exists, ``cli/`` only parses and calls, and ``--threads`` has one helper."""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest

from rnnlab.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "src" / "rnnlab" / "cli"


def _options(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*path, name))
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            yield path, parser, action


def test_every_option_of_every_command_has_help_that_states_its_default():
    missing = []
    options = list(_options(build_parser()))
    for path, parser, action in options:
        text = parser.formatter_class(parser.prog)._get_help_string(action) if action.help else ""
        if not text or (action.option_strings and "default" not in text.lower()):
            missing.append(f"rnnlab {' '.join(path)} {'/'.join(action.option_strings)}")
    assert len(options) > 150  # every command is walked, sub-commands included
    assert not missing, missing


@pytest.mark.parametrize("command, expected", [
    (["lm", "nextword"], ["--epochs EPOCHS training epochs (default: 8)",
                          "--vocab-size VOCAB_SIZE vocabulary size, the four special tokens "
                          "included (default: 5000)",
                          "--batch-size BATCH_SIZE reviews per batch (default: 16)"]),
    (["evaluate"], ["which split of the data to score (default: test)"]),
    (["train"], ["--no-progress no progress bar", "(default: off)"]),
])
def test_help_shows_the_defaults_the_issue_names(command, expected, capsys):
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for piece in expected:
        assert piece in text


def test_make_demo_runs_a_file_that_exists():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", makefile, flags=re.M)
    assert recipe, "the Makefile has a demo target"
    scripts = re.findall(r"\b(examples/\S+\.py)\b", recipe.group(1))
    assert scripts and all((REPO / script).is_file() for script in scripts), scripts


def _modules():
    return {path.name: ast.parse(path.read_text(encoding="utf-8")) for path in CLI.glob("*.py")}


def test_cli_modules_define_no_models_and_copy_no_registry():
    for name, tree in _modules().items():
        classes = [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                   and any("Module" in ast.unparse(base) for base in node.bases)]
        assert not classes, f"cli/{name} defines model classes {classes}"
        functions = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        assert "load_corpus" not in functions, f"cli/{name} defines load_corpus"
        copies = [ast.unparse(node) for node in tree.body if isinstance(node, ast.Assign)
                  and "CELL" in ast.unparse(node.value)]
        assert not copies, f"cli/{name} keeps its own copy of the cell registry: {copies}"


def test_threads_is_added_only_through_the_common_helpers():
    for name, tree in _modules().items():
        if name == "common.py":
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument"
                    and any(isinstance(arg, ast.Constant) and arg.value == "--threads"
                            for arg in node.args)):
                pytest.fail(f"cli/{name} adds --threads itself; use cli.common's helper")


@pytest.mark.parametrize("command", [["evaluate", "RUN"], ["lm", "eval", "RUN"],
                                     ["lm", "nextword"], ["audit", "--model", "seed000"]])
def test_commands_that_run_models_take_threads(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--threads", "0"])
    assert exit_info.value.code == 2
    assert "argument --threads: must be an integer >= 1, got '0'" in capsys.readouterr().err


def test_the_moved_pieces_live_in_their_layers():
    from rnnlab.data.lm_sources import load_corpus
    from rnnlab.models.config import CLASSIFIER_CELLS
    from rnnlab.models.next_word_lstm import NextWordLSTM, audit_demo_model
    from rnnlab.train.lm_run import load_corpus as old_path

    assert old_path is load_corpus  # the old import path still works
    assert {"lstm", "gru", "peephole", "layernorm", "rnn"} <= set(CLASSIFIER_CELLS)
    model, contract = audit_demo_model("bilstm-lm", vocab_size=11)
    assert isinstance(model, NextWordLSTM) and contract == "forward"
    with pytest.raises(ValueError, match="leaky only applies to the seed000 model"):
        audit_demo_model("causal-lm", leaky=True)
