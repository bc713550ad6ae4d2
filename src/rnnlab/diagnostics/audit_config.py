"""How the leak audit measures: :class:`AuditConfig`, shared by the measurements and the audit.

Its own module so the imports run one way: ``audit_config`` <- ``leak_measure`` <- ``leak_audit``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuditConfig:
    """How the audit measures; the defaults keep causal models free of false alarms."""

    replacements: int = 4  # random substitutes per input position; their mean is reported
    seed: int = 0  # seeds the torch.Generator for substitutes and projections
    gradients: bool | None = None  # None: when an embedding is found; True: required
    projections: int = 8  # random projections of output features for the gradient norm
    exact_jacobian_features: int = 16  # up to this many features, use the full Jacobian rows
    rtol: float = 1e-3  # a violation exceeds rtol × the median allowed dependency ...
    noise_rel: float = 1e-5  # ... and noise_rel × the output scale (float32 eps is 1.2e-7)
    audit_padding: bool = False  # also flag real outputs that read padding tokens
    max_rows: int = 4096  # sequences per forward pass; bounds activation memory ...
    max_output_elements: int = 2**25  # ... and output values per pass (128 MB of float32)

    def __post_init__(self) -> None:
        for name in ("replacements", "projections", "max_rows", "max_output_elements"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.rtol < 0 or self.noise_rel < 0:
            raise ValueError(f"rtol and noise_rel must be >= 0, got {self.rtol}, {self.noise_rel}")
