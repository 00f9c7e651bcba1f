"""The theme's colours for the Rich `Text` the insight views draw (Balance, Runs).

Rich styles cannot name Textual's theme variables (`$warning`), and the ANSI names used before
("yellow", "cyan") are the terminal's: bold yellow on a light theme's white background could
not be read. `theme_colours(app)` gives the current theme's hex colours by role; the views draw
again when the theme changes.
"""

from __future__ import annotations

from collections.abc import Mapping

# the roles the views colour by, and the ANSI fallbacks (no app: tests, text output)
ROLES = {
    "warning": "yellow",
    "success": "green",
    "error": "red",
    "primary": "cyan",
    "secondary": "magenta",
}


def theme_colours(app) -> dict[str, str]:
    """role -> a colour of the app's current theme (the ANSI name where it has none)."""
    variables: Mapping[str, str] = {}
    try:
        variables = app.theme_variables
    except Exception:  # no app running (a view drawn outside one)
        variables = {}
    return {role: str(variables.get(role) or fallback) for role, fallback in ROLES.items()}
