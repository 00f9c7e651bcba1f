"""u and ctrl+r in the TUI reach decisions made from the CLI and compacted, after a restart:
the sentence names what was undone or redone, and the files say it happened."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import ready, statuses

from brewslm_tui.ui.shell.app import build_app
from tests.helpers import run_cli

SIZE = (80, 24)


def cli(root: Path, *args: str) -> None:
    """A decision from the CLI, in its own process (it compacts, as the CLI does by default)."""
    done = run_cli(*args, str(root), env={**os.environ, "BREWSLM_REVIEWER": "ana", "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr


async def press_and_hear(root: Path, *keys: str) -> list[str]:
    """Open the app on `root` (a fresh session: a restart), press `keys`, quit; what it said."""
    app = build_app(root)
    said: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        shown = app.notify
        app.notify = app.review.notify = lambda message, **kw: (said.append(message), shown(message, **kw))[1]
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
    return said


async def test_u_undoes_a_compacted_cli_bulk_rejection_and_ctrl_r_redoes_it(project_dir):
    before = statuses(project_dir)
    cli(
        project_dir,
        "reject",
        "--reason",
        "label_ambiguous",
        "--id",
        "r000001",
        "--id",
        "r000002",
        "--id",
        "r000003",
    )
    rejected = statuses(project_dir)
    assert rejected["r000002"] == "rejected"
    said = await press_and_hear(project_dir, "u")
    assert said[-1] == "undone: reject of 3 rows (label_ambiguous), back to pending"
    assert statuses(project_dir) == before
    said = await press_and_hear(project_dir, "ctrl+r")  # after another restart
    assert said[-1] == "redone: reject of 3 rows (label_ambiguous)"
    assert statuses(project_dir) == rejected
    said = await press_and_hear(project_dir, "ctrl+r")
    assert said[-1] == "nothing to redo"


async def test_u_brings_a_compacted_cli_drop_back_from_dropped_jsonl(project_dir):
    cli(project_dir, "reject", "--reason", "wrong_label", "--id", "r000004", "--id", "r000005")
    rejected = statuses(project_dir)
    cli(project_dir, "drop", "--reason", "wrong_label")
    dropped = statuses(project_dir)
    assert (
        dropped["r000004"] == "dropped"
        and b"r000004" in (project_dir / "data" / "dropped.jsonl").read_bytes()
    )
    said = await press_and_hear(project_dir, "u")
    assert said[-1] == "undone: drop of 2 rows (wrong_label), back to rejected"
    assert statuses(project_dir) == rejected
    said = await press_and_hear(project_dir, "u", "u")  # then the rejection, in the same session
    assert said[-2:] == [
        "undone: reject of 2 rows (wrong_label), back to pending",
        "nothing to undo",
    ]
    said = await press_and_hear(project_dir, "ctrl+r", "ctrl+r")
    assert said[-1] == "redone: drop of 2 rows (wrong_label)"
    assert statuses(project_dir) == dropped
