"""Tail-quality statistics: pure functions on arrays. No files, no LoadGen, no plots.

Every stochastic function takes ``rng`` (int seed or ``numpy.random.Generator``) or
``seed``; results are small immutable objects with ``as_dict()``.
"""

from ._analysis import (Analysis, ConvergenceStep, ConvergenceTracker, ThresholdResult, analyze,
                        check_options, histogram_dict, mean_standard_error, predict_tq)
from ._drift import DriftCheck, drift_check
from ._early_stopping import EarlyStopping, early_stopping, min_passing
from ._jsd import (DEFAULT_BIN_WIDTH, histogram, jsd, jsd_from_probs, noise_floor, rjsd,
                   rjsd_public_code)
from ._mlperf import mlperf_query_count
from ._model import (MODELS, PlainKDEModel, PooledLatencyModel, fit_plain_kde, fit_pooled,
                     silverman_bandwidth, size_groups)
from ._observed import no_limit_quality, observed_tq, validity
from ._percentile import (LOADGEN_CONVENTION, PACKAGE_CONVENTION, loadgen_percentile,
                          percentile)
from ._summary import TQStats, expected_min_of, tq_stats
from ._systems import Difference, better_sentence, dominance, system_difference  # issue 14
from ._thresholds import (Threshold, ThresholdError, parse_threshold, parse_thresholds,
                          resolve_thresholds)

__all__ = [
    "Analysis", "ConvergenceStep", "ConvergenceTracker", "DEFAULT_BIN_WIDTH", "DriftCheck", "EarlyStopping", "early_stopping", "min_passing", "LOADGEN_CONVENTION",
    "MODELS", "PACKAGE_CONVENTION", "PlainKDEModel", "PooledLatencyModel", "TQStats",
    "Threshold", "ThresholdError", "ThresholdResult", "analyze", "check_options",
    "mean_standard_error", "histogram_dict", "drift_check",
    "expected_min_of", "fit_plain_kde", "fit_pooled", "histogram", "jsd", "jsd_from_probs",
    "loadgen_percentile", "mlperf_query_count", "no_limit_quality", "noise_floor",
    "observed_tq", "parse_threshold", "parse_thresholds", "percentile", "predict_tq",
    "resolve_thresholds", "rjsd", "rjsd_public_code", "silverman_bandwidth", "size_groups",
    "tq_stats", "validity",
    "Difference", "better_sentence", "dominance", "system_difference",
]
