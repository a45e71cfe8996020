"""Errors of the routing room: bad input that the CLI maps to a one-line message and exit 2."""

from .._errors import UserError


class RoutingError(UserError, ValueError):
    """Bad routing input (target, load, policy, pool). A ValueError, and a UserError for the CLI."""


class TargetUnreachable(RoutingError):
    """The quality target lies above every variant's accuracy (or q_k(τ))."""


class LoadNotCarried(RoutingError):
    """The pool cannot carry the load while meeting the target (or at all)."""

    def __init__(self, message, max_load):
        super().__init__(message)
        self.max_load = max_load


class UnknownPolicy(RoutingError):
    """A policy name that is not one of ``POLICIES`` (or ``single:`` with an unknown variant)."""
