"""tailq_loadgen: tail quality for MLPerf LoadGen runs.

The public face is small: ``load_run`` reads a run directory, ``run_capture`` makes one.
Everything else lives in the sub-packages ``capture``, ``records``, ``tailquality`` and the
``tailq`` command line.
"""

from ._errors import RunAborted, RunFailed, UserError
from ._version import __version__
from .records import Run, load_run


def run_capture(*args, **kwargs):
    """Run a harness under LoadGen (see :func:`tailq_loadgen.capture.run_capture`)."""
    from .capture import run_capture as _run_capture  # imports LoadGen only when capturing
    return _run_capture(*args, **kwargs)


__all__ = ["Run", "RunAborted", "RunFailed", "UserError", "__version__", "load_run", "run_capture"]
