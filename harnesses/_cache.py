"""Where harnesses keep models they train on first use (never inside the repository).

Default: ``$XDG_CACHE_HOME/tailq_loadgen`` or ``~/.cache/tailq_loadgen``; every harness that
trains takes a ``cache_dir=`` argument to put it elsewhere. Files are written under a
temporary name and renamed, so a crash never leaves half a model behind.
"""

import os
import tempfile


def cache_dir(override=None):
    base = override or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "tailq_loadgen")
    os.makedirs(base, exist_ok=True)
    return base


def atomic_write(path, write):
    """Call ``write(tmp_path)`` then rename the result to ``path``."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
