"""Exceptions that the CLI turns into one-line messages and exit codes."""


class UserError(Exception):
    """Bad input from the user: the message names the input and what to do. Exit code 2."""

    exit_code = 2


class RunAborted(Exception):
    """A capture ended early (watchdog, Ctrl-C); what was captured is on disk. Exit code 3
    (130 when the user interrupted it)."""

    exit_code = 3

    def __init__(self, message, run_dir=None, interrupted=False):
        super().__init__(message)
        self.run_dir = run_dir
        if interrupted:
            self.exit_code = 130


class RunFailed(Exception):
    """A run could not be written (a full disk, an I/O error): the run directory says
    ``failed`` with the reason and keeps what reached the disk. Exit code 4."""

    exit_code = 4

    def __init__(self, message, run_dir=None):
        super().__init__(message)
        self.run_dir = run_dir
