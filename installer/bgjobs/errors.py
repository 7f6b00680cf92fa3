"""Errors that the CLI reports as one line (no traceback)."""


class BgjobsError(Exception):
    """An expected failure: the message is the one line a user sees."""
