"""Workflows that join the rooms: analyse a run (and, later, estimate, full, compare)."""

from ._analyze import analyze_run, format_analysis
from ._inputs import PassMatrix, pass_matrix
from ._metric import run_quality, summarize

__all__ = ["PassMatrix", "analyze_run", "format_analysis", "pass_matrix", "run_quality", "summarize"]
