"""Exceptions that carry their exit code, so every command ends the same way.

Exit codes (DESIGN): 0 done/PASS, 1 gate FAIL or a failed step, 2 bad usage or bad input,
3 waiting for time or for the operator (state saved), 4 another iteration holds the lock.
"""

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_BAD_INPUT = 2
EXIT_WAITING = 3
EXIT_LOCKED = 4


class ReversalError(Exception):
    """Base: the message is a complete, one-paragraph explanation for the operator."""

    exit_code = EXIT_FAIL


class InputError(ReversalError):
    """Bad usage or bad input: names the file/field and what was expected."""

    exit_code = EXIT_BAD_INPUT


class StepFailed(ReversalError):
    """A step of the loop could not complete (the platform refused, a check failed)."""

    exit_code = EXIT_FAIL


class Waiting(ReversalError):
    """Nothing is wrong, but the run must pause (time to pass, operator input); state is saved."""

    exit_code = EXIT_WAITING


class LockHeld(ReversalError):
    """Another iteration holds the project lock."""

    exit_code = EXIT_LOCKED
