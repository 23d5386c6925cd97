"""evalkit: pre-registered, reproducible evaluations of pilots for young people (16–27).

The package is layered (see DESIGN.md): ``cli`` → ``pipeline`` → ``report`` and
``analysis`` → ``did`` → ``protocol`` and ``ingest``. Import the layer you need;
this top level only carries the version and the error tree.
"""

from __future__ import annotations

from evalkit.errors import (
    DataValidationError,
    EstimationError,
    EvalkitError,
    EvalkitWarning,
    IngestError,
    ProtocolError,
    ReportError,
)

__version__ = "0.1.0"

__all__ = [
    "DataValidationError",
    "EstimationError",
    "EvalkitError",
    "EvalkitWarning",
    "IngestError",
    "ProtocolError",
    "ReportError",
    "__version__",
]
