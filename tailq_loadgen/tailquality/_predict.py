"""Monte Carlo synthetic passes, in blocks of samples and passes (spec §4.5–4.6).

For every synthetic pass m: its run-level factors from its own uniforms (``_streams``), then
for every sample its latency from its body (and stall) uniforms, valid at θ when the latency
is ≤ θ and the sample did not fail. The tail quality of the pass is the metric over that
validity column.

Alongside the draws the engine can give, for metrics that are sums of per-sample scores,
each pass's *conditional* law given its run-level factors: the samples are independent given
them, so TQ_m has mean Σ s_i p_im / N and variance Σ s_i² p_im(1 − p_im) / N², where p_im is
the model's probability that sample i is valid in pass m (``cell_cdf``). A prediction's
histogram built from these laws (a Rao–Blackwellised estimate, ``_jsd.conditional_histogram``)
has no per-sample Monte Carlo noise: that is what the convergence measure compares.

Memory: sum metrics are accumulated over blocks of at most ``BLOCK_CELLS`` cells (samples ×
thresholds × passes), so the working set is O(BLOCK_CELLS) whatever N; other metrics need a
whole validity column per pass, so their blocks hold every sample for as few passes as fit.
"""

import dataclasses

import numpy as np

from ._streams import BODY, FAIL, GROUP, GROUP_WIDTH, PASS_BLOCK, PREDICT, RUN, STALL, Streams

BLOCK_CELLS = 1 << 20


@dataclasses.dataclass(frozen=True)
class Prediction:
    """Predicted tail quality per threshold and synthetic pass."""

    values: np.ndarray          # (T, M) TQ of each synthetic pass (None if not drawn)
    cond_mean: np.ndarray       # (T, M) E[TQ_m | pass factors] (None: metric is not a sum)
    cond_var: np.ndarray        # (T, M) Var[TQ_m | pass factors]
    late_share: np.ndarray      # (T, M) E[share of completed samples later than θ | factors]
    lattice: float              # TQ's step (1/N for 0/1 scores), None when it has none
    passes: np.ndarray          # the synthetic pass ids

    @property
    def n(self):
        return int(self.passes.size)


def is_additive(metric):
    """A metric that is a mean of per-sample scores (accuracy, top-k, recall@k, scores)."""
    return hasattr(metric, "scores")


def _chunks(passes, width):
    """Consecutive runs of pass ids within one stream block, at most ``width`` long."""
    out, start = [], 0
    blocks = passes // PASS_BLOCK
    for i in range(1, passes.size + 1):
        if i == passes.size or blocks[i] != blocks[start] or i - start == width:
            out.append(np.arange(start, i))
            start = i
    return out


def predict(model, metric, thetas, passes, seed, *, family=PREDICT, draws=True,
            conditional=True, block_cells=BLOCK_CELLS, group=None):
    """Predicted TQ of the synthetic passes ``passes`` (a count M, or pass ids).

    ``group``: passes m with the same m // group share one draw of the estimate's own error
    (``run_state``'s ``u_group``): each group is one possible full run of ``group`` passes.
    """
    passes = np.arange(passes) if np.ndim(passes) == 0 else np.asarray(passes, dtype=np.int64)
    thetas = np.asarray(thetas, dtype=np.float64)
    log_thetas = np.log(thetas)
    t, n, m = thetas.size, model.n_samples, passes.size
    additive = is_additive(metric)
    conditional = bool(conditional and additive)
    streams = Streams(seed, family)
    fail = np.asarray(model.fail_prob, dtype=np.float64)
    live = 1.0 - fail
    stalls = getattr(model, "has_stalls", False)
    if additive:
        scores = np.asarray(metric.scores, dtype=np.float64)
        width = PASS_BLOCK
        rows = int(np.clip(block_cells // (t * width), 1, n))
    else:
        width = int(np.clip(block_cells // max(n * t, 1), 1, PASS_BLOCK))
        rows = n
    values = np.zeros((t, m)) if draws else None
    cm = np.zeros((t, m)) if conditional else None
    cv = np.zeros((t, m)) if conditional else None
    late = np.zeros((t, m)) if conditional else None
    for cols in _chunks(passes, width):
        pids, c = passes[cols], cols.size
        u_run = streams.passes(RUN, pids, model.run_dims) if model.run_dims else np.zeros((c, 0))
        u_group = (streams.passes(GROUP, pids // group, 2 * model.run_dims, GROUP_WIDTH)
                   if group and model.run_dims else None)
        state = model.run_state(u_run, u_group)
        valid_all = np.empty((n, t, c), dtype=bool) if draws and not additive else None
        for r0 in range(0, n, rows):
            r1 = min(n, r0 + rows)
            if draws:
                valid = _valid(model, streams, r0, r1, state, pids, log_thetas, fail, stalls)
                if additive:
                    flat = valid.reshape(r1 - r0, t * c).astype(np.float64)
                    values[:, cols] += (scores[r0:r1] @ flat).reshape(t, c)
                else:
                    valid_all[r0:r1] = valid
            if conditional:
                q = model.cell_cdf(r0, r1, state, log_thetas)          # (n, T, c)
                p = q * live[r0:r1, None, None]
                s = scores[r0:r1]
                cm[:, cols] += (s @ p.reshape(r1 - r0, -1)).reshape(t, c)
                cv[:, cols] += ((s * s) @ (p * (1 - p)).reshape(r1 - r0, -1)).reshape(t, c)
                late[:, cols] += (live[r0:r1] @ (1 - q).reshape(r1 - r0, -1)).reshape(t, c)
        if valid_all is not None:
            values[:, cols] = metric.evaluate(valid_all.reshape(n, t * c)).reshape(t, c)
    if draws and additive:
        values /= n
    lattice = None
    if conditional:
        cm /= n
        cv /= n * n
        late /= max(live.sum(), 1e-300)
        if np.all((scores == 0) | (scores == 1)):
            lattice = 1.0 / n
    return Prediction(values, cm, cv, late, lattice, passes)


def _valid(model, streams, r0, r1, state, pids, log_thetas, fail, stalls):
    """(r1 − r0, T, c) validity of the cells from their uniforms."""
    u_body = streams.cells(BODY, r0, r1, pids)
    u_stall = streams.cells(STALL, r0, r1, pids) if stalls else None
    y = model.draw_log_latency(r0, r1, state, u_body, u_stall)
    valid = y[:, None, :] <= log_thetas[None, :, None]
    f = fail[r0:r1]
    if np.any(f > 0):
        survived = streams.cells(FAIL, r0, r1, pids) >= f[:, None]
        valid &= survived[:, None, :]
    return valid


def draw_latencies(model, n_passes, seed, family=PREDICT, rows=1 << 14):
    """(N, n_passes) synthetic latencies in the fit's unit (+inf: failed), the Monte Carlo's
    own numbers — for plots and tests."""
    passes = np.arange(n_passes)
    streams = Streams(seed, family)
    out = np.empty((model.n_samples, n_passes))
    stalls = getattr(model, "has_stalls", False)
    for cols in _chunks(passes, PASS_BLOCK):
        pids = passes[cols]
        u_run = streams.passes(RUN, pids, model.run_dims) if model.run_dims else np.zeros((cols.size, 0))
        state = model.run_state(u_run)
        for r0 in range(0, model.n_samples, rows):
            r1 = min(model.n_samples, r0 + rows)
            y = model.draw_log_latency(r0, r1, state, streams.cells(BODY, r0, r1, pids),
                                       streams.cells(STALL, r0, r1, pids) if stalls else None)
            f = model.fail_prob[r0:r1]
            if np.any(f > 0):
                y[streams.cells(FAIL, r0, r1, pids) < f[:, None]] = np.inf
            with np.errstate(over="ignore"):
                out[r0:r1, cols] = np.exp(y)
    return out
