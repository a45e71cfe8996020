"""Tail-quality statistics: pure functions on arrays. No files, no LoadGen, no plots.

Every stochastic function takes ``seed`` (a non-negative integer; the numbers of each
purpose come from their own streams, ``_streams``); results are small immutable objects
with ``as_dict()``.
"""

from ._analysis import (Analysis, ConvergenceStep, ConvergenceTracker, ThresholdResult, analyze,
                        check_options, histogram_dict, predict_tq)
from ._comparison import (FLOOR_DRAWS, compare_prediction, fresh_floor, fresh_sets, jsd_check,
                          mean_check, min_interval, split_half)
from ._drift import DriftCheck, drift_check
from ._early_stopping import EarlyStopping, early_stopping, min_passing
from ._jsd import (DEFAULT_BIN_WIDTH, conditional_histogram, histogram, jsd, jsd_from_probs,
                   rjsd, rjsd_public_code)
from ._mlperf import mlperf_query_count
from ._model import (DEFAULT_MODEL, MODELS, LogLatencyModel, PlainKDEModel, fit_plain_kde,
                     fit_pooled, fit_pooled_robust, fit_stall_mixture, silverman_bandwidth,
                     size_groups)
from ._observed import no_limit_quality, observed_tq, validity
from ._percentile import (LOADGEN_CONVENTION, PACKAGE_CONVENTION, loadgen_percentile,
                          percentile)
from ._predict import Prediction, is_additive, predict
from ._selfcheck import holdout, in_sample
from ._summary import TQStats, expected_min_of, tq_stats
from ._systems import Difference, better_sentence, dominance, system_difference  # issue 14
from ._thresholds import (Threshold, ThresholdError, parse_threshold, parse_thresholds,
                          resolve_thresholds)
from ._uncertainty import mean_standard_error, standard_error_df

__all__ = [
    "Analysis", "ConvergenceStep", "ConvergenceTracker", "DEFAULT_BIN_WIDTH", "DEFAULT_MODEL",
    "DriftCheck", "EarlyStopping", "FLOOR_DRAWS", "LOADGEN_CONVENTION", "LogLatencyModel", "MODELS",
    "PACKAGE_CONVENTION", "PlainKDEModel", "Prediction", "TQStats", "Threshold",
    "ThresholdError", "ThresholdResult", "analyze", "check_options", "compare_prediction", "conditional_histogram",
    "drift_check", "early_stopping", "expected_min_of", "fit_plain_kde", "fit_pooled",
    "fit_pooled_robust", "fit_stall_mixture", "fresh_floor", "histogram", "histogram_dict",
    "holdout", "in_sample", "is_additive", "jsd", "jsd_check", "jsd_from_probs",
    "loadgen_percentile", "mean_check", "mean_standard_error", "min_interval", "fresh_sets",
    "min_passing", "mlperf_query_count", "no_limit_quality", "observed_tq", "parse_threshold",
    "parse_thresholds", "percentile", "predict", "predict_tq", "resolve_thresholds", "rjsd",
    "rjsd_public_code", "silverman_bandwidth", "size_groups", "split_half", "standard_error_df", "tq_stats",
    "validity",
    "Difference", "better_sentence", "dominance", "system_difference",
]
