"""brewslm-tui: synthetic playbook jobs and a keyboard review queue, in the terminal."""

__version__ = "0.1.0"
