"""``rnnlab audit``: can any output position see tokens its contract forbids?

    rnnlab audit runs/lm                      # a trained LM run: contract "forward"
    rnnlab audit runs/bilm                    # a next-word run: forward <= t, backward >= t
    rnnlab audit --model seed000 --leaky      # seed 000's bug, untrained: flagged
    rnnlab audit --model seed000              # the fixed model: passes
    rnnlab audit --model bilstm-lm            # a bidirectional LSTM as next-word model: flagged

The exit code is 0 when every output keeps its contract, 1 when a leak is found.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnlab.cli.common import add_threads_option, apply_threads, int_at_least
from rnnlab.models.next_word_lstm import AUDIT_DEMO_MODELS as DEMO_MODELS

_POSITIVE = int_at_least(1)

_DEMO_VOCAB = 50


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit", help="leak audit: does any output see tokens it must not?",
        description="Measures how every output position depends on every input token (token "
                    "substitution, and gradients through the embedding) and reports each "
                    "dependency the declared contract forbids.")
    parser.add_argument("run", nargs="?", metavar="RUN_DIR",
                        help="a run directory: a language model (rnnlab lm train --out) or "
                             "seed 000's next-word model (rnnlab lm nextword --out)")
    parser.add_argument("--model", choices=DEMO_MODELS,
                        help="audit an untrained demonstration model instead of a run "
                             "(default: not set, give RUN_DIR)")
    parser.add_argument("--leaky", action="store_true",
                        help="with --model seed000: reproduce the seed's go_backwards bug "
                             "(default: off)")
    parser.add_argument("--contract", default=None,
                        help="forward | backward | none (default: what the model declares)")
    parser.add_argument("--batch", type=_POSITIVE, default=4,
                        help="sequences to audit on (default 4)")
    parser.add_argument("--time", type=_POSITIVE, default=24,
                        help="tokens per sequence (default 24)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the tokens and the model (default 0)")
    parser.add_argument("--json", metavar="FILE",
                        help="write the full report as JSON (default: not written)")
    parser.add_argument("--heatmap", metavar="PNG",
                        help="save the dependency heatmap(s) (default: not saved)")
    add_threads_option(parser)
    parser.set_defaults(handler=run_audit)


def run_audit(args: argparse.Namespace) -> int:
    import torch

    from rnnlab.diagnostics import audit_leaks
    from rnnlab.train.run_files import dumps_json

    apply_threads(args)
    if (args.run is None) == (args.model is None):
        raise ValueError("give either RUN_DIR (a trained LM run) or --model "
                         f"{{{','.join(DEMO_MODELS)}}}, not both or neither")
    if args.leaky and args.model != "seed000":
        raise ValueError("--leaky only applies to --model seed000")
    if args.model is not None:
        from rnnlab.models.next_word_lstm import audit_demo_model

        model, contract = audit_demo_model(args.model, leaky=args.leaky, seed=args.seed,
                                           vocab_size=_DEMO_VOCAB)
        vocab = _DEMO_VOCAB
        what = f"untrained {args.model}{' (leaky)' if args.leaky else ''}"
    else:
        from rnnlab.diagnostics.nextword_leaks import load_audit_target

        target = load_audit_target(args.run)
        model, contract, vocab = target.model, target.contract, target.vocab_size
        what = target.description
    if args.contract is not None:
        contract = args.contract
    generator = torch.Generator().manual_seed(args.seed)
    ids = torch.randint(0, vocab, (args.batch, args.time), generator=generator)
    report = audit_leaks(model, ids, contract, vocab_size=vocab)
    print(f"leak audit of {what}: {args.batch} sequences × {args.time} tokens")
    print(report.summary())
    if args.model is None and target.next_word and not report.passed:
        from rnnlab.diagnostics.nextword_leaks import leak_flag

        print(leak_flag(report))
    if args.json:
        Path(args.json).write_text(dumps_json(report.to_dict(), indent=2), encoding="utf-8")
    if args.heatmap:
        report.save_heatmap(args.heatmap)
        print(f"heatmap: {args.heatmap}")
    return 0 if report.passed else 1
