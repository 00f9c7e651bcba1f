"""Errors a user sees. `str(error)` is one or two plain lines that say what to do; never a traceback."""


class BrewError(Exception):
    """Base of every error meant for the user (CLI prints it to stderr, the TUI as a notification)."""


class ProjectError(BrewError):
    """A bad project file or playbook: the message names the file, the field (or line) and the problem."""


class LockBusy(BrewError):
    """Another process holds the project lock; the message names it (pid and command)."""


class ReadOnly(BrewError):
    """A write was attempted on a store opened read-only."""
