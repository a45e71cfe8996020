"""Harnesses (backend + dataset + post-processor + metric), registered by name."""

from ._base import Harness
from ._registry import (FAMILIES, HEADER, REGISTRY, Family, HarnessSpec, check_harness,
                        family_of, get_family, get_harness, harness_takes, list_harnesses,
                        parse_harness_args)

__all__ = ["FAMILIES", "Family", "HEADER", "Harness", "HarnessSpec", "REGISTRY", "check_harness",
           "family_of", "get_family", "get_harness", "harness_takes", "list_harnesses",
           "parse_harness_args"]
