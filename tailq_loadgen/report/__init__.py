"""What people read: text summaries, and an HTML report with matplotlib figures."""

from ._summary import format_summary, summarize_run
from ._systems import system_line


def write_report(sections, html_path, systems=None):
    """Write the HTML report (imports matplotlib only when called); ``systems``: a
    compare-systems document, drawn first as the systems-side-by-side section."""
    from ._html import write_report as _write

    return _write(sections, html_path, systems=systems)


__all__ = ["format_summary", "summarize_run", "system_line", "write_report"]
