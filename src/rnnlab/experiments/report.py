"""Write a study's report (Markdown and a self-contained HTML page) from the result store.

::

    out_dir/
      report.md          tables and answers; figures linked from figures/
      report.html        the same content; figures embedded as data: URIs
      figures/*.png      accuracy ranges and learning curves per condition, differences

The report reads the store only (never a model or a checkpoint), so it can be written
while a study is still running, after a crash, or from one finished run: missing and
failed runs are listed, and statistics use what is finished.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from rnnlab._atomic import write_atomically

from .document import Block, Heading, Paragraph, to_html, to_markdown
from .report_sections import (
    condition_sections,
    method_section,
    protocol_section,
    question_sections,
    status_section,
)
from .store import ResultStore

__all__ = ["ReportPaths", "write_report"]


@dataclass(frozen=True)
class ReportPaths:
    markdown: Path
    html: Path
    figures: tuple[Path, ...]


def write_report(
    store_path: str | os.PathLike[str], study_name: str, out_dir: str | os.PathLike[str]
) -> ReportPaths:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` for ``study_name``.

    Raises:
        FileNotFoundError: if ``store_path`` does not exist.
        LookupError: if the store has no such study (the message lists those it has).
    """
    store_path = Path(store_path)
    if not store_path.is_file():
        raise FileNotFoundError(f"store_path {store_path} does not exist (no result store)")
    with ResultStore(store_path) as store:
        study = store.study(study_name)
        runs, epochs = store.snapshot(study.id)

    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    blocks: list[Block] = [
        Heading(1, f"Study report: {study.name}"),
        Paragraph(
            f"Generated {generated} from the result store `{store_path}` "
            f"(study created {study.created_at})."
        ),
        *status_section(runs),
    ]
    if study.config.get("kind") == "toy":  # a toy-task study: loss curves and baselines
        from .toy_report import toy_method_section, toy_sections

        accuracy_blocks, accuracy_figures = toy_sections(runs, epochs)
        answer_blocks, answer_figures, method = [], [], toy_method_section()
    else:
        # a study of named conditions (transfer): each against the first, e.g. "baseline"
        # (stores written before condition_order existed: the first name in sorted order)
        conditions = study.config.get("conditions") or {}
        order = [name for name in study.config.get("condition_order") or conditions
                 if name in conditions]  # the first declared condition the study has
        reference = order[0] if order else None
        accuracy_blocks, accuracy_figures = condition_sections(runs, epochs, order)
        answer_blocks, answer_figures = question_sections(runs, reference, order)
        method = method_section()
    blocks += [*accuracy_blocks, *answer_blocks, *protocol_section(study, runs), *method]

    out_dir = Path(out_dir)
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    figure_paths = []
    for figure in [*accuracy_figures, *answer_figures]:
        path = out_dir / figure.file_name
        write_atomically(path, figure.png)
        figure_paths.append(path)
    markdown_path, html_path = out_dir / "report.md", out_dir / "report.html"
    write_atomically(markdown_path, to_markdown(blocks).encode("utf-8"))
    title = f"Study report: {study.name}"
    write_atomically(html_path, to_html(blocks, title).encode("utf-8"))
    return ReportPaths(markdown_path, html_path, tuple(figure_paths))
