"""One module-naming convention, and each package's public surface pinned.

A module or package whose name starts with ``_`` is private to its package. Every
public module defines ``__all__``, and every name in it exists; the public
surface of each package (its ``__init__``'s ``__all__``) is pinned here, so that
a change to it is a decision, not an accident.
"""

from __future__ import annotations

import importlib
import pkgutil

import evalkit

PACKAGES = {
    "evalkit.analysis": [],
    "evalkit.did": [
        "DidResult",
        "SensitivityResult",
        "Spec",
        "TIDY_COLUMNS",
        "bacon_decomposition",
        "estimate",
        "fit",
        "sensitivity",
    ],
    "evalkit.pipeline": [
        "ProtocolPaths",
        "analyze_protocol",
        "ingest_protocol",
        "make_demo_data",
        "paths_for",
        "report_protocol",
        "run_protocols",
    ],
    "evalkit.report": [
        "DOCUMENTS",
        "KernelSession",
        "ReportContext",
        "load_bundle",
        "output_name",
        "render_qmd",
        "render_reports",
    ],
}


def _public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(evalkit.__path__, "evalkit."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return names


def test_every_public_module_declares_what_it_exports() -> None:
    problems = []
    for name in _public_modules():
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            problems.append(f"{name}: no __all__")
            continue
        problems += [
            f"{name}: __all__ names {n!r}, which it lacks"
            for n in exported
            if not hasattr(module, n)
        ]
    assert not problems, "\n".join(problems)


def test_package_surfaces_are_pinned() -> None:
    for name, expected in PACKAGES.items():
        assert sorted(importlib.import_module(name).__all__) == sorted(expected), name
