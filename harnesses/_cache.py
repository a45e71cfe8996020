"""Where harnesses keep models they train on first use (never inside the repository).

Default: ``$XDG_CACHE_HOME/tailq_loadgen`` or ``~/.cache/tailq_loadgen``; every harness that
trains takes a ``cache_dir=`` argument to put it elsewhere. Files are written under a
temporary name and renamed, so a crash never leaves half a model behind.
"""

import os
import tempfile
import time

import numpy as np


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


def cached_arrays(path, what, train, log=print, accuracy_label="test accuracy"):
    """The arrays stored at ``path`` (an ``.npz``), or on first use ``train()``'s: it returns
    ``({name: array}, accuracy)``, and the arrays are written atomically for the next call."""
    if os.path.exists(path):
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    log(f"training {what} (first use; cached at {path}) …")
    t0 = time.perf_counter()
    arrays, acc = train()
    atomic_write(path, lambda tmp: np.savez(open(tmp, "wb"), **arrays))
    log(f"trained in {time.perf_counter() - t0:.1f} s; {accuracy_label} {acc:.4f}")
    return arrays
