"""Replace several files as one atomic step, with a redo record.

Compaction changes `synthetic.jsonl`, `dropped.jsonl` and the journal together; a crash between
two `os.replace` calls must not leave a mix. So every new file is first written in full beside
its target and fsynced; then an *intent* naming each (temp, target) pair is written atomically;
then the temps are renamed into place and the intent is removed. On the next start (and before
any write), `recover()` finishes an intent it finds: renames whose temp still exists are redone,
the others were done already. Without an intent, leftover temps are discarded: the old files
are whole and the journal still holds every decision. Recovery is idempotent.

`recover()` runs under the write lock at every writable open and before a job's append, so it
is also where temp files of writers that died (`.NAME.PID.tmp` in `.brewslm/` and its folders)
are removed: nothing a killed process staged stays behind for long.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from brewslm_tui.core.store import fsio
from brewslm_tui.core.store.jsonl import fsync_dir, remove_stale_temps, replace_durably, write_durably

INTENT_NAME = "commit.intent"


class MultiFileCommit:
    """Stage new contents for several files, then `apply()` them all or (after a crash) none/all."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.intent = state_dir / INTENT_NAME
        self._staged: list[tuple[Path, Path]] = []

    def stage(self, target: Path, chunks) -> None:
        fsio.makedirs(target.parent)
        tmp = write_durably(target, chunks)
        self._staged.append((tmp, target))

    def apply(self, before_rename=None) -> None:
        """Write the intent, rename every staged file into place, remove the intent.

        `before_rename` is a test hook called between steps (crash-injection tests kill there).
        """
        for _, target in self._staged:
            fsync_dir(target.parent)
        # relative to the project folder: an intent must still be finished after the folder was
        # moved or copied (a restore from backup, an rsync to another box)
        root = self.state_dir.parent
        pairs = [[os.path.relpath(tmp, root), os.path.relpath(target, root)] for tmp, target in self._staged]
        replace_durably(self.intent, [orjson.dumps({"renames": pairs})])
        for tmp, target in self._staged:
            if before_rename:
                before_rename(target)
            fsio.replace(tmp, target)
            fsync_dir(target.parent)
        fsio.unlink(self.intent)
        fsync_dir(self.state_dir)


def recover(state_dir: Path, targets: list[Path]) -> bool:
    """Finish an interrupted commit, or discard its leftovers. Returns True if it redid renames.

    Only the temps of `targets` (the files a compaction replaces) are discarded: other writers'
    temp files (an export, a job record) are none of its business.
    """
    intent = state_dir / INTENT_NAME
    redone = False
    if intent.exists():
        try:
            pairs = orjson.loads(intent.read_bytes())["renames"]
        except (ValueError, KeyError, TypeError):
            pairs = None  # the intent itself was torn: it was never complete, so nothing was renamed
        root = state_dir.parent
        for tmp, target in pairs or []:
            if os.path.exists(root / tmp):  # (paths of older versions were absolute: join keeps them)
                fsio.replace(root / tmp, root / target)
                fsync_dir((root / target).parent)
                redone = True
        fsio.unlink(intent)
        fsync_dir(state_dir)
    for target in [*targets, intent]:
        if target.parent.exists():
            for leftover in target.parent.glob(f".{target.name}.*.tmp"):
                fsio.remove_quietly(leftover)
    remove_stale_temps(_state_folders(state_dir), names=STATE_FILES)
    for legacy in LEGACY_NOTES:  # lock notes now live in the lock files themselves
        if (state_dir / legacy).exists():
            fsio.remove_quietly(state_dir / legacy)
    return redone


LEGACY_NOTES = ("session.holder", "write.holder")


# files of `.brewslm/` only a holder of the write lock writes: this process's own temps of them
# are leftovers too (a failed write whose cleanup failed), not a write in progress
STATE_FILES = frozenset({INTENT_NAME, "journal.jsonl", "session.holder", "write.holder"})


def _state_folders(state_dir: Path) -> list[Path]:
    """The app's own folders: every temp in them is ours. (In a data folder only the temps of the
    files a compaction replaces are: an export or a user's tool may be writing others there.)"""
    return [state_dir, *(state_dir / sub for sub in ("jobs", "index", "quarantine", "journal-archive"))]
