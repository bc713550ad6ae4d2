"""A tiny document model rendered twice: as Markdown and as a self-contained HTML page.

The report is built once as a list of blocks; each renderer walks the same list, so
the two files cannot drift apart. Figures are PNG bytes: Markdown links the file
under ``figures/``, HTML embeds it as a base64 ``data:`` URI (no external files).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Block",
    "CodeBlock",
    "Figure",
    "Heading",
    "Paragraph",
    "Table",
    "to_html",
    "to_markdown",
]


@dataclass(frozen=True)
class Heading:
    level: int  # 1 = title
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str  # plain text; `code` spans in backticks are kept as code


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    file_name: str  # relative to the report directory, e.g. "figures/accuracy.png"
    png: bytes
    caption: str


@dataclass(frozen=True)
class CodeBlock:
    text: str
    language: str = ""


Block = Heading | Paragraph | Table | Figure | CodeBlock


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Table):
            lines = [
                "| " + " | ".join(map(_markdown_cell, block.header)) + " |",
                "|" + "|".join("---" for _ in block.header) + "|",
                *("| " + " | ".join(map(_markdown_cell, row)) + " |" for row in block.rows),
            ]
            if block.caption:
                lines.insert(0, f"*{block.caption}*\n")
            parts.append("\n".join(lines))
        elif isinstance(block, Figure):
            parts.append(f"![{block.caption}]({block.file_name})\n\n*{block.caption}*")
        else:
            parts.append(f"```{block.language}\n{block.text}\n```")
    return "\n\n".join(parts) + "\n"


def _inline_html(text: str) -> str:
    """Escape, then turn `code` spans (as in the Markdown) into <code> elements."""
    pieces = html.escape(text).split("`")
    return "".join(
        f"<code>{piece}</code>" if position % 2 else piece for position, piece in enumerate(pieces)
    )


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
caption { caption-side: top; text-align: left; font-style: italic; padding: 0.25rem 0; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; }
pre { background: #f6f6f6; padding: 0.75rem; overflow-x: auto; font-size: 0.85rem; }
"""


def to_html(blocks: Sequence[Block], title: str) -> str:
    body = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline_html(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline_html(block.text)}</p>")
        elif isinstance(block, Table):
            caption = f"<caption>{_inline_html(block.caption)}</caption>" if block.caption else ""
            header = "".join(f"<th>{_inline_html(cell)}</th>" for cell in block.header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{_inline_html(cell)}</td>" for cell in row) + "</tr>"
                for row in block.rows
            )
            body.append(f"<table>{caption}<thead><tr>{header}</tr></thead>{rows}</table>")
        elif isinstance(block, Figure):
            data = base64.b64encode(block.png).decode("ascii")
            caption = _inline_html(block.caption)
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
                f"<figcaption>{caption}</figcaption></figure>"
            )
        else:
            body.append(f"<pre><code>{html.escape(block.text)}</code></pre>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
