"""The simulator's model on SimPy: a cross-check of the heap engine and its speed baseline.

Same random streams, same policy calls in the same order, so both engines give the same
per-job times (to rounding); SimPy's process machinery makes it several times slower
(measured in benchmarks/routing.py), which is why the heap engine is the default.
"""

import collections

from ._errors import RoutingError
from ._policies import HOLD


def run_simpy(arrival, state, policy, draws):
    try:
        import simpy
    except ImportError:
        raise RoutingError("engine simpy needs the simpy package: pip install simpy") from None
    env = simpy.Environment()
    n = len(arrival)
    start, service, server, correct = [0.0] * n, [0.0] * n, [0] * n, [False] * n
    resources = [simpy.Resource(env, capacity=1) for _ in range(state.servers)]
    held = collections.deque()

    def route(i, s):
        svc, ok = draws[state.type_of[s]].next()
        server[i], service[i], correct[i] = s, svc, ok
        state.assign(s)
        env.process(serve(i, s, svc))

    def serve(i, s, svc):
        with resources[s].request() as req:
            yield req
            start[i] = env.now
            yield env.timeout(svc)
        state.release(s)
        if held and state.load[s] == 0:
            route(held.popleft(), s)

    def arrivals():
        for i, t in enumerate(arrival):
            yield env.timeout(t - env.now)
            s = policy.choose(state)
            if s == HOLD:
                held.append(i)
            else:
                route(i, s)

    env.process(arrivals())
    env.run()
    return start, service, server, correct
