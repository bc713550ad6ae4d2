"""Diagnostics: the leak audit (what each output position can see), gradient flow over
time lags (how far back the loss at the last step reaches) and the gate and state explorer
(every unit's state and gates at every token, and which units follow a pattern)."""

from rnnlab.diagnostics.audit_config import AuditConfig
from rnnlab.diagnostics.contracts import CONTRACT_NAMES, Contract
from rnnlab.diagnostics.explorer_html import explorer_html, write_explorer
from rnnlab.diagnostics.gradient_flow import GradientFlow, LagCurve, gradient_flow
from rnnlab.diagnostics.leak_audit import audit_leaks
from rnnlab.diagnostics.leak_report import LeakReport, Measurement, OutputAudit, Violation
from rnnlab.diagnostics.lstmvis import export_lstmvis
from rnnlab.diagnostics.state_heatmap import heatmap_png
from rnnlab.diagnostics.states import (
    DirectionStates,
    StateTrace,
    trace_layer,
    trace_model,
    trace_run,
)
from rnnlab.diagnostics.unit_search import UnitScore, locate_tokens, rank_units, regex_track

__all__ = [
    "CONTRACT_NAMES",
    "AuditConfig",
    "Contract",
    "DirectionStates",
    "GradientFlow",
    "LagCurve",
    "LeakReport",
    "Measurement",
    "OutputAudit",
    "StateTrace",
    "UnitScore",
    "Violation",
    "audit_leaks",
    "explorer_html",
    "export_lstmvis",
    "gradient_flow",
    "heatmap_png",
    "locate_tokens",
    "rank_units",
    "regex_track",
    "trace_layer",
    "trace_model",
    "trace_run",
    "write_explorer",
]
