"""Analyses on stored data (layer 3): outcome measures and the confirmatory DiD analysis,
throughput times, handovers, caseload, and questionnaire scoring.

Import the module you need (``evalkit.analysis.effects``, ``evalkit.analysis.throughput``, …);
this package keeps its top level light so the command line starts fast.
"""
