"""Who is deciding: the name every journal entry records as `by` (and a decided row as `reviewed_by`).

`BREWSLM_REVIEWER` when set (a shared training box where everyone is `ubuntu`), else the login
name; a process with neither (no passwd entry in a container) is named by its uid, never left
blank, so an audit can still tell two reviewers apart.
"""

from __future__ import annotations

import getpass
import os

REVIEWER_ENV = "BREWSLM_REVIEWER"


def current_reviewer() -> str:
    name = os.environ.get(REVIEWER_ENV, "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"
