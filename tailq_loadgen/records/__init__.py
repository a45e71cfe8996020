"""The run-directory format: its one writer (``RunDirectory``), typed metadata, segments,
LoadGen's trace join, stored scores, and the one reader (``load_run``)."""

from ._analysis_file import (ANALYSIS, read_analysis, read_result, write_analysis,
                             write_result)
from ._export import FORMATS as EXPORT_FORMATS, export_run
from ._import import import_loadgen_dirs, read_first_detail
from ._io import TextLines, read_json, read_text, require_regular_file, write_parquet_atomic
from ._join import JoinError, JoinReport, finalize_pass
from ._loadgen_logs import (effective_settings, iter_accuracy_log, loadgen_result, read_detail_log,
                            read_trace_samples)
from ._migrate import source_args, source_text
from ._metadata import KEYS as METADATA_KEYS, MetadataError, declare as declare_metadata_key
from ._reader import Run, load_run
from ._rundir import (RunDirectory, final_path, is_live, loadgen_dir, now, one_line, partial_dir,
                      quality_path, read_metadata, status_of)
from ._schema import (COLUMN_NAMES, COLUMNS, QUALITY_SCHEMA, SAMPLES_SCHEMA, SCHEMA, SCHEMA_VERSION,
                      STATUSES, build_table)
from ._scoring import pass_outputs, store_pass_quality
from ._verdict import RESULTS, format_metric, format_verdict, read_results, record_verdict, verdict
from ._writer import PassWriter, WriteFailed

__all__ = [
    "ANALYSIS", "COLUMNS", "COLUMN_NAMES", "EXPORT_FORMATS", "JoinError", "JoinReport",
    "METADATA_KEYS", "MetadataError", "PassWriter", "QUALITY_SCHEMA", "RESULTS", "Run",
    "RunDirectory", "SAMPLES_SCHEMA", "SCHEMA", "SCHEMA_VERSION", "STATUSES", "TextLines",
    "WriteFailed", "build_table", "declare_metadata_key", "effective_settings", "export_run",
    "final_path", "finalize_pass", "format_metric", "format_verdict", "import_loadgen_dirs",
    "is_live", "iter_accuracy_log", "load_run", "loadgen_dir", "loadgen_result", "now",
    "one_line", "partial_dir", "pass_outputs", "quality_path", "read_analysis",
    "read_detail_log", "read_first_detail", "read_json", "read_metadata", "read_result",
    "read_results", "read_text", "read_trace_samples", "record_verdict",
    "require_regular_file", "source_args", "source_text", "status_of", "store_pass_quality",
    "verdict", "write_analysis", "write_parquet_atomic", "write_result",
]
