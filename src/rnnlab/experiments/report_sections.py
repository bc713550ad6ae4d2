"""The sections of a study report, built as document blocks from stored rows only."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import figures
from .document import Block, CodeBlock, Figure, Heading, Paragraph, Table
from .questions import (
    Condition,
    QuestionAnswer,
    answer_masking_question,
    answer_reference_question,
    answer_seed_questions,
    arrangement_order,
    conditions_of,
)
from .stats import PairedComparison, summarize
from .store_records import EpochRow, RunRow, StudyRow
from .wording import (
    COMPARISON_HEADER,
    MISSING,
    answer_sentence,
    comparison_row,
    interval_text,
    percent,
    points,
)

__all__ = ["condition_sections", "method_section", "protocol_section", "question_sections"]

_ERROR_PREVIEW_CHARS = 200  # a traceback's last line is enough in a table; the store has it all


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "data"


def _flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}, so configs can be compared key by key."""
    if not isinstance(config, dict):
        return {prefix: config}
    flat: dict[str, Any] = {}
    for key, value in config.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _labels(runs: Sequence[RunRow]) -> dict[str, str]:
    """arrangement -> what its runs train (``MS_RST_biGRU+layernorm``); the report shows
    these, while pairing and ordering still go by the arrangement names the questions use."""
    return {run.arrangement: run.label for run in runs}


def protocol_section(study: StudyRow, runs: Sequence[RunRow]) -> list[Block]:
    """What produced the numbers: data, arrangements, runs, epochs, seeds and configs."""
    blocks: list[Block] = [Heading(2, "Data, protocol and configuration")]
    run_indices = sorted({run.run_index for run in runs})
    arrangements = arrangement_order([run.arrangement for run in runs],
                                     study.config.get("condition_order") or ())
    labels = _labels(runs)
    blocks.append(
        Paragraph(
            f"{len(arrangements)} arrangement(s) × {len(run_indices)} run(s) per condition; "
            f"conditions (dataset, masking): {', '.join(map(str, conditions_of(runs))) or 'none'}. "
            f"Arrangements: {', '.join(f'`{labels[name]}`' for name in arrangements) or 'none'}."
        )
    )
    seeds: dict[int, set[int]] = defaultdict(set)
    for run in runs:
        seeds[run.run_index].add(run.seed)
    blocks.append(
        Table(
            ("run index", "seed(s)"),
            tuple((str(index), ", ".join(map(str, sorted(seeds[index])))) for index in run_indices),
            caption="Seeds: run r of every arrangement uses the same seed, so runs pair by index",
        )
    )
    blocks.append(Paragraph("Study configuration as stored:"))
    blocks.append(CodeBlock(json.dumps(study.config, indent=2, sort_keys=True), "json"))
    if runs:
        flat_configs = [_flatten(run.config) for run in runs]
        keys = sorted(set().union(*flat_configs))
        missing = object()
        common = {
            key: flat_configs[0].get(key, missing)
            for key in keys
            if all(
                config.get(key, missing) == flat_configs[0].get(key, missing)
                for config in flat_configs
            )
        }
        varying = [key for key in keys if key not in common]
        blocks.append(Paragraph("Resolved run configuration shared by every run:"))
        blocks.append(CodeBlock(json.dumps(common, indent=2, sort_keys=True, default=str), "json"))
        if varying:
            blocks.append(
                Paragraph("Differs between runs: " + ", ".join(f"`{key}`" for key in varying) + ".")
            )
    return blocks


def status_section(runs: Sequence[RunRow]) -> list[Block]:
    """How many runs are done, and which are not (with the error of failed ones)."""
    counts = {
        status: sum(run.status == status for run in runs)
        for status in ("done", "failed", "running", "pending")
    }
    summary = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    blocks: list[Block] = [Paragraph(f"Runs: {len(runs)} in the store ({summary or 'none'}).")]
    unfinished = [run for run in runs if run.status != "done"]
    if unfinished:
        blocks.append(
            Paragraph(
                f"{len(unfinished)} run(s) have no final result; every table and question "
                "below uses the finished runs only, and pairs only runs both sides finished."
            )
        )
        rows = tuple(
            (
                f"`{run.label}`",
                str(Condition(run.dataset, run.masked)),
                str(run.run_index),
                run.status,
                str(run.attempts),
                (run.error or "").strip().splitlines()[-1][:_ERROR_PREVIEW_CHARS]
                if run.error
                else "",
            )
            for run in unfinished
        )
        header = ("arrangement", "condition", "run", "status", "attempts", "error (last line)")
        blocks.append(Table(header, rows, caption="Runs without a final result"))
    return blocks


def _epochs_text(epoch_counts: Sequence[int]) -> str:
    if not epoch_counts:
        return MISSING
    low, high = min(epoch_counts), max(epoch_counts)
    return str(low) if low == high else f"{low}–{high}"


def _arrangement_rows(
    name: str,
    in_condition: Sequence[RunRow],
    run_indices: Sequence[int],
    epochs_by_run: Mapping[int, Sequence[EpochRow]],
) -> tuple[tuple[str, ...], tuple[str, ...], list[float], tuple[list[int], list[float]]]:
    """One arrangement's summary row, per-run row, run accuracies and learning curve."""
    of_name = [run for run in in_condition if run.arrangement == name]
    finished = {run.run_index: run for run in of_name if run.status == "done"}
    values = [run.test_accuracy for run in finished.values() if run.test_accuracy is not None]
    summary = summarize(values)
    epoch_counts = [
        max(row.epoch for row in epochs_by_run[run.id])
        for run in finished.values()
        if epochs_by_run.get(run.id)
    ]
    label = of_name[0].label if of_name else name
    summary_row = (
        f"`{label}`",
        f"{summary.n}/{len(of_name)}",
        percent(summary.mean),
        percent(summary.std),
        percent(summary.minimum),
        percent(summary.maximum),
        _epochs_text(epoch_counts),
    )
    per_run_row = (
        f"`{label}`",
        *(percent(finished[index].test_accuracy) if index in finished else MISSING
          for index in run_indices),
    )  # fmt: skip
    curve = _mean_valid_curve([epochs_by_run.get(run.id, []) for run in finished.values()])
    return summary_row, per_run_row, values, curve


def condition_sections(
    runs: Sequence[RunRow], epochs: Sequence[EpochRow], declared: Sequence[str] = ()
) -> tuple[list[Block], list[Figure]]:
    """Per condition: accuracy table, per-run table, range plot and learning curves, the
    arrangements in ``declared`` first in its order (see ``arrangement_order``)."""
    epochs_by_run: dict[int, list[EpochRow]] = defaultdict(list)
    for epoch in epochs:
        epochs_by_run[epoch.run_id].append(epoch)
    blocks: list[Block] = []
    figure_blocks: list[Figure] = []
    for condition in conditions_of(runs):
        in_condition = [run for run in runs if Condition(run.dataset, run.masked) == condition]
        run_indices = sorted({run.run_index for run in in_condition})
        summary_rows, per_run_rows = [], []
        accuracies: dict[str, list[float]] = {}
        curves: dict[str, tuple[list[int], list[float]]] = {}
        labels = _labels(in_condition)
        for name in arrangement_order([run.arrangement for run in in_condition], declared):
            label = labels[name]  # the figures' legends name what was trained
            summary_row, per_run_row, accuracies[label], curves[label] = _arrangement_rows(
                name, in_condition, run_indices, epochs_by_run
            )
            summary_rows.append(summary_row)
            per_run_rows.append(per_run_row)
        slug = _slug(str(condition))
        figure_blocks += [
            Figure(
                f"figures/accuracy_{slug}.png",
                figures.accuracy_ranges_png(accuracies, f"Final test accuracy ({condition})"),
                f"Final test accuracy per arrangement ({condition}): runs, min–max, mean",
            ),
            Figure(
                f"figures/learning_curves_{slug}.png",
                figures.learning_curves_png(curves, f"Learning curves ({condition})"),
                f"Validation accuracy per epoch, mean over finished runs ({condition})",
            ),
        ]
        blocks += [
            Heading(2, f"Final test accuracy per arrangement ({condition})"),
            Table(
                ("arrangement", "runs done", "mean (%)", "std (%)", "min (%)", "max (%)", "epochs"),
                tuple(summary_rows),
                caption="Final test accuracy over finished runs (std: sample, n − 1)",
            ),
            Table(
                ("arrangement", *(f"run {index}" for index in run_indices)),
                tuple(per_run_rows),
                caption="Final test accuracy (%) of every run (— = not finished)",
            ),
            *figure_blocks[-2:],
        ]
    return blocks, figure_blocks


def _mean_valid_curve(runs_epochs: Sequence[Sequence[EpochRow]]) -> tuple[list[int], list[float]]:
    """Mean validation accuracy per epoch over the runs that recorded it."""
    by_epoch: dict[int, list[float]] = defaultdict(list)
    for run_epochs in runs_epochs:
        for row in run_epochs:
            if row.valid_accuracy is not None:
                by_epoch[row.epoch].append(row.valid_accuracy)
    epoch_numbers = sorted(by_epoch)
    return epoch_numbers, [float(np.mean(by_epoch[epoch])) for epoch in epoch_numbers]


def question_sections(runs: Sequence[RunRow], reference: str | None = None,
                      declared: Sequence[str] = ()) -> tuple[list[Block], list[Figure]]:
    """Q1-Q3 (and Q4 when the store has masked and unmasked runs) as paired comparisons;
    for a study of named conditions, every condition against ``reference`` instead of Q1-Q3,
    in their ``declared`` order."""
    asked = (answer_seed_questions(runs) if reference is None
             else answer_reference_question(runs, reference, declared=declared))
    answers: list[QuestionAnswer] = [*asked, *answer_masking_question(runs)]
    labels = _labels(runs)
    blocks: list[Block] = [Heading(2, "The questions, answered by paired comparisons")]
    if answers:
        blocks.append(_answers_table(answers))
    if reference is None and not any(answer.question.key != "Q4" for answer in answers):
        blocks.append(
            Paragraph("Q1–Q3 cannot be asked: the study has no pair of arrangements they compare.")
        )
    for answer in answers:
        blocks.append(
            Heading(3, f"{answer.question.key}. {answer.question.title} ({answer.scope})")
        )
        blocks.append(Paragraph(answer_sentence(answer)))
        blocks.append(
            Table(
                COMPARISON_HEADER,
                tuple(_labelled(comparison_row(comparison), comparison, labels)
                      for comparison in answer.comparisons),
                caption="Differences are right − left in percentage points, paired by run index",
            )
        )
        if answer.absent_pairs:
            absent = "; ".join(f"`{labels.get(right, right)}` vs `{labels.get(left, left)}`"
                               for left, right in answer.absent_pairs)
            blocks.append(Paragraph(f"Not in this study, so not compared: {absent}."))
    if not any(answer.question.key == "Q4" for answer in answers):
        blocks.append(Heading(3, "Q4. Does masking the padding matter?"))
        blocks.append(
            Paragraph("Not asked: no arrangement in this study has both masked and unmasked runs.")
        )
    figure = Figure(
        "figures/differences.png",
        figures.differences_png(answers),
        "Paired differences (right − left) with 95 % intervals; diamonds are pooled answers",
    )
    return [*blocks, figure], [figure]


def _labelled(row: tuple[str, ...], comparison: PairedComparison,
              labels: Mapping[str, str]) -> tuple[str, ...]:
    """A comparison row whose left and right cells name what was trained."""
    left, right = (labels.get(name, name) for name in (comparison.left, comparison.right))
    return (f"`{left}`", f"`{right}`", *row[2:])


def _answers_table(answers: Sequence[QuestionAnswer]) -> Table:
    rows = tuple(
        (
            answer.question.key,
            f"{answer.question.right_label} vs {answer.question.left_label}",
            answer.scope,
            points(answer.pooled.mean_difference),
            interval_text(answer.pooled.interval),
            answer.pooled.pair_wins,
            answer.pooled.run_wins,
            answer.pooled.verdict.value if answer.pooled.pairs_compared else "no paired runs",
        )
        for answer in answers
    )
    header = ("question", "right vs left", "condition", "pooled difference (points)",
              "95 % CI (points)", "pairs won", "runs won", "verdict")  # fmt: skip
    return Table(header, rows, caption="Answers at a glance (details below)")


def method_section() -> list[Block]:
    return [
        Heading(2, "Method"),
        Paragraph(
            "Accuracy is the final test accuracy of each finished run. Runs are paired by run "
            "index: run r of every arrangement starts from seed s_r, so a paired difference "
            "(right − left) removes the luck both sides share. Each pair gets the mean of its "
            "differences and a 95 % Student-t interval (n − 1 degrees of freedom); with one "
            'paired run there is no interval. The verdict is "better" or "worse" only when '
            'the whole interval is above or below 0, otherwise "no clear difference".'
        ),
        Paragraph(
            "A question's pooled answer treats the run as the unit: for every run index "
            "present in all of the question's pairs, the pairs' differences are averaged, and "
            "the pooled difference and its t interval are taken over these per-run averages "
            "(with complete runs the pooled difference equals the mean of the per-pair mean "
            "differences). Win counts: pairs whose mean difference is positive, and paired "
            "runs that the right side wins."
        ),
    ]
