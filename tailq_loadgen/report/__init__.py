"""What people read: text summaries now; HTML and PNG reports (matplotlib) later."""

from ._summary import format_summary, summarize_run

__all__ = ["format_summary", "summarize_run"]
