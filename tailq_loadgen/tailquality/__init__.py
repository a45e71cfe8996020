"""Tail-quality statistics: pure functions on arrays. No files, no LoadGen, no plots."""

from ._percentile import (LOADGEN_CONVENTION, PACKAGE_CONVENTION, loadgen_percentile,
                          percentile)

__all__ = ["LOADGEN_CONVENTION", "PACKAGE_CONVENTION", "loadgen_percentile", "percentile"]
