"""A plan's layout on the real pool SUT: deploy once, run segments with different splits."""

import numpy as np
import pytest

from tailq_loadgen import harnesses, records
from tailq_loadgen._errors import UserError
from tailq_loadgen.workflow import _plan_deploy as pd
from tailq_loadgen.workflow import _route

NAMES = ("synth-exp-2ms", "synth-exp-4ms", "synth-exp-8ms")


def test_two_segments_on_one_deployment(tmp_path):
    lay_a = pd.PoolLayout(NAMES[:2], (1, 1), (1, 1), (0.6, 0.4), (0.7, 0.8), (0.002, 0.004))
    lay_b = pd.PoolLayout(NAMES[1:], (2, 1), (1, 1), (0.75, 0.25), (0.8, 0.9), (0.004, 0.008))
    union = pd.union_layout([lay_a, lay_b])
    hs = [harnesses.get_harness(n) for n in union.variants]
    session, harness = pd.deploy_plan(union, hs, out=str(tmp_path / "run"), qps=100.0,
                                      queries=300, count=100, log=lambda *a: None)
    with session:
        passes = []
        for seed, lay in enumerate((lay_a, lay_b)):
            active, shares = pd.segment_of(union, lay)
            passes.append((pd.verify_segment(session, union, 100.0, seed, active=active,
                                             shares=shares), active, shares))
    run = records.load_run(str(tmp_path / "run"))
    from tailq_loadgen.workflow import _plan_verify

    m = _plan_verify.measure_pass(run, passes[1][0], harness, 1.0, union,
                                  planned_shares=passes[1][2])
    assert m["shares"][NAMES[0]]["planned"] == 0.0 and m["shares"][NAMES[0]]["measured"] == 0.0
    assert m["status_not_ok"] == 0 and 0 < m["tail_quality"] <= 1
    for index, active, shares in passes:
        sel, correct = _route.scored_pass(run, index, harness, session.total)
        assert sel.size == 300
        variant = run["variant"][sel]
        got = np.array([np.sum(variant == v) for v in union.variants])
        assert np.all(np.abs(got - 300 * np.array(shares)) <= 2)  # smooth WRR: exact up to 2
        server = run["server"][sel]
        for k, v in enumerate(union.variants):  # inactive servers serve nothing
            assert np.all(server[variant == v] < max(active[k], 1))


def test_harnesses_must_match_the_layout(tmp_path):
    lay = pd.PoolLayout(NAMES[:2], (1, 1), (1, 1), (0.5, 0.5), (0.7, 0.8), (0.002, 0.004))
    hs = [harnesses.get_harness(NAMES[1]), harnesses.get_harness(NAMES[0])]
    with pytest.raises(UserError, match="harnesses given"):
        pd.deploy_plan(lay, hs, out=str(tmp_path / "r"), qps=10.0, queries=100)
