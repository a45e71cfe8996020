"""What people read: text summaries, and an HTML report with matplotlib figures."""

from ._summary import format_summary, summarize_run


def write_report(sections, html_path):
    """Write the HTML report (imports matplotlib only when called)."""
    from ._html import write_report as _write

    return _write(sections, html_path)


__all__ = ["format_summary", "summarize_run", "write_report"]
