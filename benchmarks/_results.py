"""Writes one benchmark's section of benchmarks/RESULTS.md, leaving the other sections as they are."""

import datetime
import os
import platform
import re

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
HEADER = ("# Benchmark results\n\nWritten by the scripts in `benchmarks/`; each section is "
          "replaced when its script runs again. Figures are ratios against a baseline measured "
          "in the same run, on the machine named in the section.\n")


def machine_line():
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), None)
    except OSError:
        pass
    return (f"{datetime.date.today().isoformat()}, {cpu or platform.processor()}, "
            f"{os.cpu_count()} logical CPUs, Python {platform.python_version()}")


def write_section(name, body):
    text = open(RESULTS).read() if os.path.exists(RESULTS) else HEADER
    section = f"<!-- {name} -->\n## {name}\n\n{body.strip()}\n<!-- /{name} -->\n"
    pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->\n", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    with open(RESULTS, "w") as f:
        f.write(text)


def table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)
