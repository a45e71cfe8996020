"""The run-directory format: writing segments, joining LoadGen's trace, reading runs back."""

from ._analysis_file import (ANALYSIS, read_analysis, read_result, write_analysis,
                             write_result)
from ._export import FORMATS as EXPORT_FORMATS, export_run
from ._import import import_loadgen_dirs, read_first_detail
from ._join import JoinError, JoinReport, finalize_pass
from ._loadgen_logs import (effective_settings, iter_accuracy_log, loadgen_result, read_detail_log,
                            read_trace_samples)
from ._reader import Run, load_run
from ._rundir import (create_run_dir, final_path, loadgen_dir, partial_dir, read_metadata,
                      write_metadata)
from ._io import write_parquet_atomic
from ._verdict import RESULTS, format_metric, format_verdict, read_results, record_verdict, verdict
from ._schema import COLUMN_NAMES, COLUMNS, SAMPLES_SCHEMA, SCHEMA, SCHEMA_VERSION, STATUSES
from ._writer import PassWriter

__all__ = [
    "ANALYSIS", "read_analysis", "read_result", "write_analysis", "write_result",
    "COLUMNS", "COLUMN_NAMES", "EXPORT_FORMATS", "export_run", "JoinError", "JoinReport", "PassWriter", "Run", "SAMPLES_SCHEMA",
    "SCHEMA", "SCHEMA_VERSION", "STATUSES", "create_run_dir", "effective_settings",
    "final_path", "finalize_pass", "load_run", "loadgen_dir", "loadgen_result", "partial_dir",
    "import_loadgen_dirs", "read_detail_log", "read_first_detail", "read_metadata", "read_trace_samples", "write_metadata",
    "write_parquet_atomic",
    "RESULTS", "iter_accuracy_log", "format_metric", "format_verdict", "read_results", "record_verdict", "verdict",
]
