"""Analyses on stored data (layer 3): measures, effects, throughput and questionnaires.

Import the module you need (``evalkit.analysis.effects``, ``evalkit.analysis.throughput``, …);
this package keeps its top level light so the command line starts fast.
"""

__all__: list[str] = []  # the modules are the public surface
