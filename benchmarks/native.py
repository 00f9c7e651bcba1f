"""The benchmark's two small C helpers, compiled with gcc into the run's own temp folder.

- `rss_launch` (`c/rss_launch.c`): every child is started through it, so its peak RSS is its
  own. A child's `ru_maxrss` on Linux starts at its parent's RSS at fork; from the runner
  (hundreds of MB at 5M rows) even `/bin/true` would report the runner's size.
- `slow_fsync.so` (`c/slow_fsync.c`): an `LD_PRELOAD` shim that adds a delay to every
  `fsync`/`fdatasync` of one process: a slow disk, without touching the product's code.

Without gcc the launcher falls back to a `python -S` one (its ~9 MB is then the floor of
every peak RSS figure; `rss_floor_mb` in the results says which) and the slow-disk figures
say "not measured".
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

SOURCES = Path(__file__).resolve().parent / "c"

# the same protocol as rss_launch.c: RESULT_FILE PROGRAM [ARGS...]
PY_LAUNCHER = (
    "import os,sys\n"
    "pid=os.fork()\n"
    "if pid==0:\n"
    "    try: os.execvp(sys.argv[2],sys.argv[2:])\n"
    "    finally: os._exit(127)\n"
    "_,st,ru=os.wait4(pid,0)\n"
    "open(sys.argv[1],'w').write(f'{ru.ru_maxrss} {st}\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(st) if os.WIFEXITED(st) else 128+os.WTERMSIG(st))\n"
)


class BuildError(Exception):
    """gcc is missing or a helper did not compile; str() says which."""


def build(name: str, folder: Path) -> Path:
    """Compile `c/<name>.c` into folder (once per folder): the executable, or the .so for a shim."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise BuildError("no C compiler (gcc) on PATH")
    shared = name == "slow_fsync"
    target = folder / (f"{name}.so" if shared else name)
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    flags = ["-shared", "-fPIC"] if shared else []
    proc = subprocess.run(
        [gcc, "-O2", *flags, "-o", str(target), str(SOURCES / f"{name}.c"), *(["-ldl"] if shared else [])],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BuildError(f"gcc could not build {name}: {proc.stderr.strip()[-300:]}")
    return target


def launcher(folder: Path) -> tuple[list[str], str]:
    """The argv prefix that starts a child through a small launcher, and which launcher it is."""
    try:
        return [str(build("rss_launch", folder))], "rss_launch (C)"
    except BuildError:
        return [sys.executable, "-S", "-c", PY_LAUNCHER], "python -S launcher (gcc missing)"
