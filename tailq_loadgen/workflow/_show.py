"""``tailq show DIR``: a run directory's summary, and a routing run's routing section (an
adaptation run's adaptation section).

A `tailq route` run directory has both (the LoadGen run and its ``routing.json``); a
`tailq route --simulate` directory has only ``routing.json`` (no LoadGen ran), and is shown
from that alone."""

import json
import os

from ._metric import summarize
from ._adapt import adapt_lines, adapt_of
from ._route import ROUTING_FILE, routing_lines, routing_of


def show(run_dir, as_json=False):
    """The text `tailq show` prints (``as_json``: the summary as JSON, routing under ``routing``)."""
    from .. import report

    routed = routing_of(run_dir)
    if routed is not None and routed.get("mode") == "simulate":
        summary = {"run_dir": run_dir, "mode": "simulate", "routing": routed}
        if as_json:
            return json.dumps(summary, indent=2)
        head = (f"{run_dir}: simulated routing ({os.path.join(run_dir, ROUTING_FILE)}; "
                "`tailq route --simulate`, no LoadGen run)")
        return "\n".join([head] + routing_lines(routed))
    summary = summarize(run_dir)
    if routed is not None:
        summary["routing"] = routed
    adapted = adapt_of(run_dir)  # a `tailq adapt` run: its adapt.json too
    if adapted is not None:
        summary["adaptation"] = adapted
    if as_json:
        return json.dumps(summary, indent=2)
    lines = [report.format_summary(summary)]
    if routed is not None:
        lines += routing_lines(routed)
    if adapted is not None:
        lines += adapt_lines(adapted)
    return "\n".join(lines)
