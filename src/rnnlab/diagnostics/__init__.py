"""Diagnostics: the leak audit (what each output position can see), and more to come."""

from rnnlab.diagnostics.audit_config import AuditConfig
from rnnlab.diagnostics.contracts import CONTRACT_NAMES, Contract
from rnnlab.diagnostics.leak_audit import audit_leaks
from rnnlab.diagnostics.leak_report import LeakReport, Measurement, OutputAudit, Violation

__all__ = [
    "CONTRACT_NAMES",
    "AuditConfig",
    "Contract",
    "LeakReport",
    "Measurement",
    "OutputAudit",
    "Violation",
    "audit_leaks",
]
