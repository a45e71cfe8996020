"""A small layer over ``scipy.optimize.milp`` (HiGHS): rows are built one at a time, the
objective is maximised, and ties are broken the same way exact enumeration breaks them.

HiGHS stops within an absolute gap of 1e-6 even with ``mip_rel_gap = 0``; IPA's γ = 1e-6 makes
objective differences of that size meaningful, so the objective is scaled to a largest
coefficient of 1e4 before solving (gaps and feasibility tolerances then sit ~1e-10 below any
difference we break ties on).

Ties: after the optimum v* is found, the objective is held at ≥ v* − tol and the tie-break
objectives are minimised one after another, each result then fixed (they are integer rank
sums, so fixing is exact). Enumeration visits configurations in the same lexicographic order
and keeps the first within tol of the best, so both solvers choose the same configuration.
"""

import numpy as np
from scipy import optimize, sparse

OBJECTIVE_SCALE = 1e4
OPTIONS = {"mip_rel_gap": 0.0, "presolve": True}


def tie_tolerance(value):
    """Objective values closer than this are a tie (relative 1e-9, absolute below 1)."""
    return 1e-9 * max(1.0, abs(value))


class Model:
    """Variables with bounds and integrality, rows ``lo ≤ a·x ≤ hi``."""

    def __init__(self):
        self.lb, self.ub, self.integral = [], [], []
        self.rows, self.cols, self.vals, self.row_lo, self.row_hi = [], [], [], [], []

    def add_vars(self, n, lb=0.0, ub=1.0, integral=True):
        start = len(self.lb)
        self.lb += [lb] * n
        self.ub += [ub] * n
        self.integral += [1 if integral else 0] * n
        return np.arange(start, start + n)

    def add_row(self, cols, vals, lo=-np.inf, hi=np.inf):
        r = len(self.row_lo)
        cols = np.asarray(cols, dtype=np.int64).ravel()
        vals = np.broadcast_to(np.asarray(vals, dtype=np.float64), cols.shape)
        self.rows += [r] * cols.size
        self.cols += cols.tolist()
        self.vals += vals.tolist()
        self.row_lo.append(lo)
        self.row_hi.append(hi)

    @property
    def n_vars(self):
        return len(self.lb)

    def _constraint(self, extra):
        rows, cols, vals = list(self.rows), list(self.cols), list(self.vals)
        lo, hi = list(self.row_lo), list(self.row_hi)
        for vec, l, h in extra:
            nz = np.flatnonzero(vec)
            rows += [len(lo)] * nz.size
            cols += nz.tolist()
            vals += vec[nz].tolist()
            lo.append(l)
            hi.append(h)
        a = sparse.csr_array((vals, (rows, cols)), shape=(len(lo), self.n_vars))
        return optimize.LinearConstraint(a, lo, hi)

    def _solve(self, cost, extra):
        res = optimize.milp(cost, integrality=np.array(self.integral),
                            bounds=optimize.Bounds(self.lb, self.ub),
                            constraints=self._constraint(extra), options=dict(OPTIONS))
        return res

    def maximise(self, objective, tie_breaks=()):
        """Maximise ``objective``·x, then minimise each tie-break vector in turn. Returns
        (x, number of HiGHS solves), or (None, solves) when the rows cannot all hold."""
        objective = np.asarray(objective, dtype=np.float64)
        scale = OBJECTIVE_SCALE / max(np.abs(objective).max(initial=0.0), 1e-300)
        res = self._solve(-scale * objective, [])
        solves = 1
        if res.status != 0 or res.x is None:
            return None, solves
        best = float(objective @ res.x)
        extra = [(scale * objective, scale * (best - tie_tolerance(best)), np.inf)]
        x = res.x
        for tb in tie_breaks:
            tb = np.asarray(tb, dtype=np.float64)
            r = self._solve(tb, extra)
            solves += 1
            if r.status != 0 or r.x is None:  # numerically lost the incumbent: keep what we have
                break
            x = r.x
            extra.append((tb, -np.inf, float(np.round(tb @ r.x)) + 0.5))
        return x, solves
