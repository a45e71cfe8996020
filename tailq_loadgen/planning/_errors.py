"""Errors a user can cause when planning. Each is a ``ValueError`` whose message is one line
that names the bad input and says what to do, and a ``UserError``, which the CLI maps to that
line and exit code 2 (as the routing room's errors are)."""

from .._errors import UserError


class PlanningError(UserError, ValueError):
    """Base class of every planning error."""


class ProfileError(PlanningError):
    """A profile record that makes no sense (no samples, a negative time, accuracy outside [0, 1])."""


class MissingProfileError(PlanningError):
    """A variant, stage, batch size or thread count the plan needs has no profile."""


class SLOInfeasibleError(PlanningError):
    """No configuration meets the latency SLO, whatever the load."""


class CapacityError(PlanningError):
    """The load is above what any configuration that meets the SLO can carry within the limits."""
