"""A fixed load split: a plan's shares, enforced by smooth weighted round-robin (InfAdapter).

InfAdapter splits the load among its variants by weights (the planner's shares). ``Split``
sends query i to variant k by **smooth weighted round-robin** (nginx's: every decision adds
each active variant's weight to its running credit, picks the largest credit — ties to the
lower index — and takes the total weight off the winner), which is deterministic and keeps
every variant's count within one query of share × queries at all times: no seed, and no
random excess that a seeded draw would add to the realised split. Within the variant it
takes an idle server, else one holding the fewest jobs, **among the variant's first
``active[k]`` servers only** — so a pool built once with every segment's servers (``tailq
adapt``) can change ``active`` and the shares between tests without being rebuilt.

The object has the policy interface of :mod:`._policies` (``choose(state)``, ``snapshot``,
``describe``, ``pool``, ``target``, ``gains``), so the routing simulator and the real pool
SUT run it alike. It never returns ``HOLD``.
"""

import math

import numpy as np

from ._errors import RoutingError
from ._model import Target
from ._policies import Policy


def _shares(pool, shares):
    try:
        w = np.array(shares, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise RoutingError(f"split shares {shares!r}: give one number per variant") from None
    if w.size != len(pool):
        raise RoutingError(f"{w.size} split shares for {len(pool)} variants: give one per variant")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise RoutingError(f"split shares {w.tolist()}: must be finite, ≥ 0, and not all 0")
    if abs(w.sum() - 1.0) > 1e-6:
        raise RoutingError(f"split shares {w.tolist()} sum to {w.sum():.6g}; they must sum to 1")
    return w / w.sum()


def _active(pool, active):
    if active is None:
        return [int(n) for n in pool.servers]
    out = []
    for k, a in enumerate(active):
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not 0 <= a <= pool.servers[k]:
            raise RoutingError(f"active servers of {pool.names[k]}: {a!r}; must be a whole number "
                               f"in 0…{int(pool.servers[k])} (the servers deployed)")
        out.append(int(a))
    if len(out) != len(pool):
        raise RoutingError(f"{len(out)} active counts for {len(pool)} variants: give one per variant")
    return out


class Split(Policy):
    """Variant k with share ``shares[k]`` (smooth WRR), then the least-loaded of its first
    ``active[k]`` servers (idle first). ``phase``: a seed for the starting credits (None:
    all 0). ``target`` only names what summaries check the run
    against; by default the accuracy the split promises, Σ share_k · a_k."""

    name = "split"
    meets_target = True

    def __init__(self, pool, shares, active=None, target=None, phase=None):
        w = _shares(pool, shares)
        act = _active(pool, active)
        dead = [pool.names[k] for k in range(len(pool)) if w[k] > 0 and act[k] == 0]
        if dead:
            raise RoutingError(f"split sends load to {', '.join(dead)}, which has no active "
                               "server; give it a share of 0 or activate a server")
        if target is None:
            level = float(np.dot(w, pool.accuracy))
            target = Target(min(1.0, max(level * (1 - 1e-12), 1e-12)))
        super().__init__(pool, target)
        self.shares = tuple(float(x) for x in w)
        self.active = tuple(act)
        self._w = w.tolist()
        self._live = [k for k in range(len(pool)) if w[k] > 0]
        # ``phase`` (a seed) starts each credit at a draw in [0, w_k): a different but equally
        # even sequence; every variant's count stays within 2 queries of share × decisions
        start = (np.random.default_rng(phase).random(len(pool)) * w if phase is not None
                 else np.zeros(len(pool)))
        self._credit = start.tolist()
        self._first = [int(f) for f in pool.first_server]

    def _pick_variant(self):
        credit, w = self._credit, self._w
        best, best_c = -1, -math.inf
        for k in self._live:
            credit[k] += w[k]
            if credit[k] > best_c:
                best, best_c = k, credit[k]
        credit[best] -= 1.0  # the weights sum to 1
        return best

    def choose(self, state):
        k = self._pick_variant()
        self.chosen[k] += 1
        first = self._first[k]
        load = state.load
        best, best_load = first, load[first]
        for s in range(first + 1, first + self.active[k]):
            if best_load == 0:
                break
            if load[s] < best_load:
                best, best_load = s, load[s]
        return best

    def snapshot(self):
        return {**super().snapshot(), "credit": list(self._credit)}

    def describe(self):
        return {**super().describe(), "rule": "smooth weighted round-robin, then least-loaded "
                "active server", "shares": list(self.shares), "active": list(self.active)}
