"""Harnesses (backend + dataset + post-processor + metric), registered by name."""

from ._base import Harness
from ._registry import HEADER, REGISTRY, HarnessSpec, get_harness, list_harnesses, parse_harness_args

__all__ = ["HEADER", "Harness", "HarnessSpec", "REGISTRY", "get_harness", "list_harnesses",
           "parse_harness_args"]
