"""Random numbers that keep their meaning: one stream per purpose and block (spec §5).

Every uniform a synthetic pass uses is addressed by (family, purpose, sample block, pass
block) and drawn from its own ``SeedSequence(seed).spawn``-style child, so:

* synthetic pass m's numbers depend on (seed, m) only — never on ``mc``, on how the passes
  are chunked, or on which other draws were made (a conditional draw cannot shift another
  purpose's numbers);
* a refit after more real passes reuses every pass's uniforms (common random numbers), and
  the models map a uniform to the same *quantile* of their laws whatever k is;
* a sample's numbers do not depend on the sample-block size used for memory
  (``Generator.random((n, PASS_BLOCK))`` fills row-major, so rows are the same whatever n).

Families keep independent jobs independent: the estimate's own prediction, the comparison's
draws for the law of the minimum, and fresh passes for noise floors never share numbers.
"""

import warnings

import numpy as np
from scipy.stats import qmc

SAMPLE_BLOCK = 8192   # rows per stream block (fixed: part of the numbers' address)
PASS_BLOCK = 64       # synthetic passes per stream block (fixed, likewise)
RUN_WIDTH = 8         # run-level uniforms drawn per pass (the first run_dims are used)
GROUP_WIDTH = 16      # uniforms per group of passes that share one draw of the estimate's error

# families
PREDICT, COMPARE, FLOOR = 0, 1, 2
# purposes
BODY, STALL, FAIL, RUN, GROUP = 1, 2, 3, 4, 5
_PASS_ROW = 2 ** 32 - 1  # the row key of per-pass streams (no sample block has it)


def _entropy(seed):
    if isinstance(seed, np.random.SeedSequence):
        return seed.entropy
    if isinstance(seed, (int, np.integer)) and seed >= 0:
        return int(seed)
    raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


class Streams:
    """Uniforms addressed by (family, purpose, rows, passes) under one seed."""

    def __init__(self, seed, family=PREDICT):
        self.seed = seed
        self.entropy = _entropy(seed)
        self.family = int(family)

    def with_family(self, family):
        return Streams(self.seed, family)

    def _gen(self, *key):
        return np.random.default_rng(np.random.SeedSequence(self.entropy,
                                                            spawn_key=(self.family,) + key))

    def cells(self, purpose, row0, row1, passes):
        """(row1 − row0, len(passes)) uniforms in [0, 1) for samples row0…row1−1."""
        passes = np.asarray(passes, dtype=np.int64)
        out = np.empty((row1 - row0, passes.size))
        blocks = passes // PASS_BLOCK
        for b in np.unique(blocks):
            cols = np.flatnonzero(blocks == b)
            within = passes[cols] - b * PASS_BLOCK
            for s in range(row0 // SAMPLE_BLOCK, (row1 - 1) // SAMPLE_BLOCK + 1):
                lo, hi = max(row0, s * SAMPLE_BLOCK), min(row1, (s + 1) * SAMPLE_BLOCK)
                u = self._gen(purpose, int(s), int(b)).random((hi - s * SAMPLE_BLOCK, PASS_BLOCK))
                out[lo - row0:hi - row0][:, cols] = u[lo - s * SAMPLE_BLOCK:, within]
        return out

    def passes(self, purpose, passes, dims, width=RUN_WIDTH):
        """(len(passes), dims) uniforms in (0, 1) for per-pass (run-level) draws.

        Always RUN_WIDTH columns are drawn and the first ``dims`` kept, so a model with more
        run-level factors (a second stall band) leaves the others' numbers as they were. In
        the PREDICT family they are a scrambled Sobol' sequence (point m is the same whatever
        mc): the run-level factors are then spread evenly over their laws, and the predicted
        distribution's Monte Carlo error falls faster than 1/√mc. The COMPARE and FLOOR
        families use independent draws, which the order-statistic and noise-floor arguments
        need."""
        if dims > width:
            raise ValueError(f"at most {width} run-level uniforms, got {dims}")
        passes = np.asarray(passes, dtype=np.int64)
        out = np.empty((passes.size, dims))
        blocks = passes // PASS_BLOCK
        for b in np.unique(blocks):
            cols = np.flatnonzero(blocks == b)
            if self.family == PREDICT and purpose == RUN:
                engine = qmc.Sobol(width, scramble=True, seed=self._gen(purpose, _PASS_ROW))
                if b:
                    engine.fast_forward(int(b) * PASS_BLOCK)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # balance needs 2^m points
                    u = engine.random(PASS_BLOCK)
            else:
                u = self._gen(purpose, _PASS_ROW, int(b)).random((PASS_BLOCK, width))
            out[cols] = u[passes[cols] - b * PASS_BLOCK, :dims]
        # open interval: quantile functions are finite everywhere on it
        return np.clip(out, 2.0 ** -53, 1 - 2.0 ** -53)
