"""Errors the engine raises on purpose; anything else is a bug or a failure of the machine."""


class BadInput(ValueError):
    """Input the user can fix (data, teacher, constraint): the CLI exits 2 with this one-line message."""


class Cancelled(RuntimeError):
    """The callback asked the run to stop; a checkpoint was written first, so the run can resume."""
