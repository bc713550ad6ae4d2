"""``rnnlab diagnose``: see why a recurrent model works or fails (seed 003).

    rnnlab diagnose gradients --cell rnn,gru,lstm     # gradient flow over time lags
    rnnlab diagnose gradients RUN_DIR                 # ... of a trained run
    rnnlab diagnose states RUN_DIR --text "..."       # gate and state explorer (HTML)
    rnnlab diagnose quotes RUN_DIR                    # the quote units of a quotes run

Each view lives in its own module with ``register(views)``, where ``views`` is this command's
sub-parsers; a view whose module is missing is simply not offered.
"""

from __future__ import annotations

import argparse
import importlib

VIEW_MODULES = (
    "rnnlab.cli.diagnose_gradients",
    "rnnlab.cli.diagnose_states",
    "rnnlab.cli.diagnose_quotes",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diagnose", help="gradient flow, gate/state explorer: why a model works or fails",
        description="Diagnostic views of recurrent models, on demo cells or trained runs.")
    views = parser.add_subparsers(dest="view", metavar="VIEW")
    for module_name in VIEW_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        module.register(views)
    parser.set_defaults(handler=lambda args: _no_view(parser))


def _no_view(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
