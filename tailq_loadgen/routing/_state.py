"""The pool's state as a policy sees it: how many jobs each server holds, idle servers per type.

One object serves the simulator and a real pool's dispatcher alike. Every query and update is
O(1): per type, servers are kept in buckets by their number of jobs (in service + queued),
with the lowest non-empty bucket tracked; a job's arrival or departure moves one server one
bucket up or down. Not thread-safe: one owner (the dispatcher thread) calls ``assign`` and
``release``, or serialises them with a lock.
"""


class PoolState:
    """Jobs held by each server of a pool with ``servers[k]`` servers of type k."""

    def __init__(self, servers):
        servers = [int(n) for n in servers]
        if not servers or min(servers) < 1:
            raise ValueError("every type needs at least one server")
        self.types = len(servers)
        self.count = servers
        self.first = [sum(servers[:k]) for k in range(self.types)]
        self.type_of = [k for k, n in enumerate(servers) for _ in range(n)]
        self.load = [0] * len(self.type_of)
        # _levels[k][l]: the servers of type k holding l jobs; _pos[s]: s's place in its list.
        self._levels = [[list(range(self.first[k], self.first[k] + n))] for k, n in enumerate(servers)]
        self._pos = [s - self.first[k] for s, k in enumerate(self.type_of)]
        self._min = [0] * self.types
        self.jobs = 0

    @property
    def servers(self):
        return len(self.type_of)

    def idle_count(self, k):
        return len(self._levels[k][0])

    def idle_server(self, k):
        """An idle server of type k (the one freed last), or -1 when none is idle."""
        idle = self._levels[k][0]
        return idle[-1] if idle else -1

    def min_jobs(self, k):
        """The fewest jobs any server of type k holds."""
        return self._min[k]

    def shortest_queue(self, k):
        """A server of type k holding the fewest jobs (idle if one is)."""
        return self._levels[k][self._min[k]][-1]

    def random_server(self, k, u):
        """The server of type k at uniform position ``u`` ∈ [0, 1)."""
        return self.first[k] + int(u * self.count[k])

    def assign(self, s):
        """Server s takes one more job."""
        k = self.type_of[s]
        old = self.load[s]
        self._move(s, k, old, old + 1)
        if old == self._min[k] and not self._levels[k][old]:
            self._min[k] = old + 1
        self.jobs += 1

    def release(self, s):
        """Server s finished one job."""
        k = self.type_of[s]
        old = self.load[s]
        if old == 0:
            raise ValueError(f"server {s} holds no job to release")
        self._move(s, k, old, old - 1)
        if old - 1 < self._min[k]:
            self._min[k] = old - 1
        self.jobs -= 1

    def _move(self, s, k, old, new):
        levels = self._levels[k]
        src = levels[old]
        p = self._pos[s]
        last = src.pop()
        if last != s:
            src[p] = last
            self._pos[last] = p
        if new == len(levels):
            levels.append([])
        dst = levels[new]
        self._pos[s] = len(dst)
        dst.append(s)
        self.load[s] = new

    def snapshot(self):
        """A plain copy of the state: jobs per server, idle servers per type."""
        return {"jobs_per_server": list(self.load),
                "idle_per_type": [self.idle_count(k) for k in range(self.types)],
                "jobs": self.jobs}
