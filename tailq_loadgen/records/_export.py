"""``tailq export``: the per-sample table as CSV or JSON lines, one row per sample."""

import csv
import json

from .._errors import UserError
from ._schema import COLUMN_NAMES

FORMATS = ("csv", "jsonl")


def export_run(run, fmt, stream):
    """Write every record of ``run`` to ``stream``; outputs as hex (as in LoadGen's accuracy log).

    A null latency (a pass cut off before LoadGen's trace was joined) is written empty in CSV
    and ``null`` in JSON lines.
    """
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: unknown; choose one of {', '.join(FORMATS)}")
    table = run.to_arrow()
    cols = {name: table.column(name).to_pylist() for name in COLUMN_NAMES}
    cols["output"] = [b.hex().upper() for b in cols["output"]]
    rows = zip(*(cols[name] for name in COLUMN_NAMES))
    if fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(COLUMN_NAMES)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
    else:
        for row in rows:
            stream.write(json.dumps(dict(zip(COLUMN_NAMES, row))) + "\n")
    return table.num_rows
