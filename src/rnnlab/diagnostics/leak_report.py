"""The result of a leak audit: dependency matrices, violations, verdicts, text, JSON, heatmap.

Built by :func:`rnnlab.diagnostics.leak_audit.audit_leaks`; nothing here runs a model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rnnlab.diagnostics.contracts import Contract

# How many violations the text summary names per output; to_dict() keeps them all.
_WORST_SHOWN = 3


@dataclass(frozen=True)
class Violation:
    """Output ``output`` at position ``out_pos`` depends on the token at ``in_pos``, forbidden."""

    output: str  # name of the model output ("output" when the model returns one tensor)
    out_pos: int
    in_pos: int
    magnitude: float  # in the measurement's own units (Δ output, or gradient norm)
    relative: float  # magnitude / typical allowed dependency: ~1 means "as strong as allowed ones"
    measurement: str  # "substitution" | "gradient"


@dataclass(frozen=True)
class Measurement:
    """One way of measuring dependencies (substitution or gradient) for one output.

    dependency: ``(time, time)`` indexed ``[out_pos, in_pos]``, averaged over the sequences of
    the batch in which ``out_pos`` is a real (non-padding) position.
    """

    method: str  # "substitution" | "gradient"
    dependency: torch.Tensor  # (time, time)
    typical_allowed: float  # median allowed (sequence, t, j) dependency above the noise floor
    tolerance: float  # a forbidden dependency above this is a violation
    max_forbidden: float  # the largest forbidden dependency (≤ tolerance when passed)
    violations: tuple[Violation, ...]  # sorted by magnitude, largest first

    @property
    def passed(self) -> bool:
        return not self.violations

    def flagged_pairs(self) -> set[tuple[int, int]]:
        """The ``(out_pos, in_pos)`` pairs this measurement calls violations."""
        return {(v.out_pos, v.in_pos) for v in self.violations}

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "passed": self.passed,
            "typical_allowed": self.typical_allowed,
            "tolerance": self.tolerance,
            "max_forbidden": self.max_forbidden,
            "dependency": self.dependency.tolist(),
            "violations": [
                {
                    "out_pos": v.out_pos,
                    "in_pos": v.in_pos,
                    "magnitude": v.magnitude,
                    # inf (no allowed dependency to compare with) is not valid JSON
                    "relative": v.relative if math.isfinite(v.relative) else None,
                }
                for v in self.violations
            ],
        }


@dataclass(frozen=True)
class OutputAudit:
    """The audit of one model output against its contract.

    forbidden: ``(time, time)`` bool, pairs forbidden in at least one sequence of the batch.
    """

    name: str
    contract: Contract
    forbidden: torch.Tensor  # (time, time) bool
    measurements: tuple[Measurement, ...]  # substitution first, then gradient, when run

    @property
    def passed(self) -> bool:
        return all(m.passed for m in self.measurements)

    @property
    def verdict(self) -> str:
        return "passed" if self.passed else "leaks"

    @property
    def violations(self) -> list[Violation]:
        """All violations of every measurement, strongest (relative to allowed) first."""
        found = [v for m in self.measurements for v in m.violations]
        return sorted(found, key=lambda v: v.relative, reverse=True)

    def measurement(self, method: str) -> Measurement | None:
        return next((m for m in self.measurements if m.method == method), None)

    def summary_line(self) -> str:
        if not self.measurements:
            return f"{self.name}: not measured"
        if self.passed:
            margins = ", ".join(
                f"{m.method} max forbidden {m.max_forbidden:.2g} <= tolerance {m.tolerance:.2g}"
                for m in self.measurements
            )
            return f"{self.name}: passed [{self.contract.describe()}] ({margins})"
        pairs = set().union(*(m.flagged_pairs() for m in self.measurements))
        counts = ", ".join(f"{m.method} {len(m.violations)}" for m in self.measurements)
        lines = [
            f"{self.name}: LEAKS [{self.contract.describe()}] — {len(pairs)} forbidden "
            f"dependencies ({counts})"
        ]
        for m in self.measurements:
            symbol = "Δ" if m.method == "substitution" else "|∂|"
            for v in m.violations[:_WORST_SHOWN]:
                lines.append(
                    f"    {m.method}: output {v.out_pos} depends on token {v.in_pos} "
                    f"({symbol}={v.magnitude:.3g}, {v.relative:.2g}× typical allowed)"
                )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "contract": self.contract.describe(),
            "verdict": self.verdict,
            "forbidden": self.forbidden.tolist(),
            "measurements": [m.to_dict() for m in self.measurements],
        }


@dataclass(frozen=True)
class LeakReport:
    """Everything :func:`audit_leaks` found, per output and overall."""

    outputs: dict[str, OutputAudit]
    notes: tuple[str, ...] = ()  # e.g. why the gradient measurement was skipped
    settings: dict[str, Any] = field(default_factory=dict)  # the resolved AuditConfig

    @property
    def passed(self) -> bool:
        return all(audit.passed for audit in self.outputs.values())

    @property
    def verdict(self) -> str:
        return "passed" if self.passed else "leaks"

    @property
    def violations(self) -> list[Violation]:
        """Every violation of every output, strongest (relative to allowed) first."""
        found = [v for audit in self.outputs.values() for v in audit.violations]
        return sorted(found, key=lambda v: v.relative, reverse=True)

    def summary(self) -> str:
        """Readable text: one block per output, then the overall verdict."""
        lines = [audit.summary_line() for audit in self.outputs.values()]
        lines += [f"note: {note}" for note in self.notes]
        leaking = [name for name, audit in self.outputs.items() if not audit.passed]
        overall = "passed" if not leaking else f"LEAKS in {', '.join(leaking)}"
        lines.append(f"verdict: {overall}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (plain lists, floats, strings)."""
        return {
            "verdict": self.verdict,
            "passed": self.passed,
            "outputs": {name: audit.to_dict() for name, audit in self.outputs.items()},
            "notes": list(self.notes),
            "settings": dict(self.settings),
        }

    def save_heatmap(self, path: str | Path) -> Path:
        """Save a PNG: one heatmap of each dependency matrix, forbidden region veiled.

        Rows are output positions, columns input positions; violations are marked with a
        red dot. Uses matplotlib's Agg canvas directly, so no GUI and no global backend change.
        """
        import numpy
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.colors import ListedColormap
        from matplotlib.figure import Figure

        panels = [(a, m) for a in self.outputs.values() for m in a.measurements]
        if not panels:
            raise ValueError("the report has no measurements to plot")
        figure = Figure(figsize=(3.6 * len(panels), 3.4), layout="constrained")
        FigureCanvasAgg(figure)
        for index, (audit, m) in enumerate(panels):
            axes = figure.add_subplot(1, len(panels), index + 1)
            image = axes.imshow(m.dependency.numpy(), cmap="viridis", origin="upper")
            # A light veil over the forbidden cells: colour showing through it is a leak.
            veil = numpy.ma.masked_where(~audit.forbidden.numpy(), audit.forbidden.numpy())
            axes.imshow(veil, cmap=ListedColormap(["white"]), alpha=0.55, origin="upper")
            if m.violations:
                axes.scatter(
                    [v.in_pos for v in m.violations],
                    [v.out_pos for v in m.violations],
                    s=6,
                    c="red",
                )
            axes.set_title(f"{audit.name}: {m.method} ({audit.verdict})", fontsize=9)
            axes.set_xlabel("input position j")
            axes.set_ylabel("output position t")
            figure.colorbar(image, ax=axes, shrink=0.8)
        target = Path(path)
        figure.savefig(target, dpi=100)
        return target
