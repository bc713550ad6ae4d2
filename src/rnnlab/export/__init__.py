"""rnnlab.export: trained runs as ONNX or ``torch.export`` programs, with their sidecars.

    >>> from rnnlab.export import export_run               # doctest: +SKIP
    >>> export_run("runs/x", "exports/x", "onnx")           # doctest: +SKIP

See :mod:`rnnlab.export.bundle` for the directory layout. Names load lazily:
:mod:`rnnlab.export.bundle` (read by the torch-free predictor) never imports torch.
"""

from typing import TYPE_CHECKING

from rnnlab._lazy import attach

_EXPORTS = {
    "FORMATS": "rnnlab.export.run",
    "export_run": "rnnlab.export.run",
    "export_classifier": "rnnlab.export.run",
    "export_language_model": "rnnlab.export.run",
    "export_tagger": "rnnlab.export.run",
    "ValidationError": "rnnlab.export.validation",
    "Bundle": "rnnlab.export.bundle",
    "read_bundle": "rnnlab.export.bundle",
}
__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from rnnlab.export.bundle import Bundle as Bundle
    from rnnlab.export.bundle import read_bundle as read_bundle
    from rnnlab.export.run import FORMATS as FORMATS
    from rnnlab.export.run import export_classifier as export_classifier
    from rnnlab.export.run import export_language_model as export_language_model
    from rnnlab.export.run import export_run as export_run
    from rnnlab.export.run import export_tagger as export_tagger
    from rnnlab.export.validation import ValidationError as ValidationError
