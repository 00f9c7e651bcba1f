"""The `command` generator: the user's own executable prints candidates as JSONL.

How a user plugs in their own generation (a vLLM offline batch, a script over an internal
API): `[command] argv = ["{python}", "scripts/gen.py", "--n", "{count}"]`. No shell is
involved; the command runs in the project folder. It gets the task spec (`task_spec`: shape,
labels or fields, scoring, limits, count, seed, hard cases, instructions) as one JSON object
on stdin and in `BREWSLM_TASK_SPEC`, plus `BREWSLM_COUNT`, `BREWSLM_SEED` and
`BREWSLM_PROJECT`. Placeholders in argv: `{count}`, `{seed}`, `{project}` (its folder),
`{playbook}` (the playbook file) and `{python}` (this Python).

It prints one JSON object per line on stdout, read as they come (`{"prompt": ..,
"completion": ..}`, extra keys land on the row); a line that is not a JSON object is an
`unparseable_line` issue. Its stderr is kept (the tail) for the diagnostic; a non-zero exit
fails the job with that tail. When the job has enough rows the command is terminated
(SIGTERM, then SIGKILL after a grace period), which is not a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from brewslm_tui.core.generation.generators import (
    RAW_KEEP,
    Generator,
    GeneratorFailed,
    GenRequest,
    Issue,
    Item,
    task_spec,
)

STDERR_TAIL_LINES = 30
STDERR_TAIL_CHARS = 4000
GRACE_SECONDS = 3.0
LINE_LIMIT = 8 * 1024 * 1024
PLACEHOLDERS = ("count", "seed", "project", "playbook", "python")


class CommandSettings(BaseModel):
    """`[command]`: the argv to run (no shell), extra environment, an optional time limit."""

    model_config = ConfigDict(extra="forbid", strict=True)

    argv: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    timeout: float | None = Field(None, gt=0)  # seconds for the whole command
    stdin: bool = True  # send the task spec as JSON on stdin

    @field_validator("argv")
    @classmethod
    def _argv(cls, value: list[str]) -> list[str]:
        if not value[0].strip():
            raise ValueError("argv[0] must name the program to run")
        return value


def resolve_argv(argv: list[str], request_like: dict[str, str], root: Path) -> list[str]:
    """argv with placeholders filled and a relative program path taken from the project folder."""
    out = []
    for arg in argv:
        for key in PLACEHOLDERS:
            arg = arg.replace("{" + key + "}", request_like[key])
        out.append(arg)
    prog = out[0]
    if "/" in prog and not os.path.isabs(prog):
        out[0] = str(root / prog)
    return out


def check_program(argv0: str, root: Path) -> str | None:
    """Why `argv0` cannot run, or None; used when a command playbook is loaded."""
    if argv0 == "{python}":
        return None
    if "/" in argv0:
        path = Path(argv0) if os.path.isabs(argv0) else root / argv0
        if not path.is_file():
            return f"no such file: {path}"
        if not os.access(path, os.X_OK):
            return f'{path} is not executable (chmod +x it, or run it with argv = ["{{python}}", "{argv0}", ...])'
        return None
    if shutil.which(argv0) is None:
        return f"{argv0!r} is not a program on PATH"
    return None


class CommandGenerator(Generator):
    """Candidates from a child process's stdout, one JSON object a line."""

    name = "command"

    def __init__(self, request: GenRequest) -> None:
        super().__init__(request)
        self.settings: CommandSettings = self.playbook_settings("command")
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._stderr_task: asyncio.Task | None = None
        self._stopping = False

    def notes(self) -> str | None:
        if not self.stderr_tail:
            return None
        return "\n".join(self.stderr_tail)[-STDERR_TAIL_CHARS:]

    async def stream(self) -> AsyncIterator[Item]:
        req, s = self.request, self.settings
        project = req.project
        spec = task_spec(project, req.playbook, req.count, req.seed)
        spec_json = orjson.dumps(spec).decode()
        argv = resolve_argv(
            s.argv,
            {
                "count": str(req.count),
                "seed": str(req.seed),
                "project": str(project.root),
                "playbook": str(req.playbook.path),
                "python": sys.executable,
            },
            project.root,
        )
        env = {
            **os.environ,
            **s.env,
            "BREWSLM_TASK_SPEC": spec_json,
            "BREWSLM_COUNT": str(req.count),
            "BREWSLM_SEED": str(req.seed),
            "BREWSLM_PROJECT": str(project.root),
        }
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=project.root,
                env=env,
                limit=LINE_LIMIT,
                stdin=asyncio.subprocess.PIPE if s.stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise GeneratorFailed(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
        proc = self.proc
        self._stderr_task = asyncio.create_task(self._read_stderr())
        if s.stdin:
            assert proc.stdin is not None
            try:
                proc.stdin.write(spec_json.encode() + b"\n")
                await proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass  # a command that does not read stdin may exit before we finish writing
            finally:
                proc.stdin.close()
        # A deadline per read, not `asyncio.timeout` around the loop: this is an async generator,
        # and a timeout scope that spans a `yield` would cancel the consumer's code instead.
        loop = asyncio.get_running_loop()
        deadline = None if s.timeout is None else loop.time() + s.timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - loop.time())

        assert proc.stdout is not None
        try:
            while True:
                try:
                    line = await asyncio.wait_for(proc.stdout.readline(), left())
                except ValueError:  # a line longer than LINE_LIMIT
                    yield Issue("unparseable_line", f"a line longer than {LINE_LIMIT} bytes")
                    await asyncio.wait_for(proc.stdout.read(LINE_LIMIT), left())
                    continue
                if not line:
                    break
                item = _parse_line(line)
                if item is not None:
                    yield item
            rc = await asyncio.wait_for(proc.wait(), left())
            await self._stderr_done()
        except TimeoutError:
            await self.aclose()
            raise GeneratorFailed(
                f"the command ran longer than its time limit ({s.timeout:g} s, command.timeout) "
                "and was stopped"
            ) from None
        finally:
            await self.aclose()
        if rc != 0 and not self._stopping:
            how = f"was killed by signal {-rc}" if rc < 0 else f"exited with status {rc}"
            tail = self.notes()
            raise GeneratorFailed(
                f"the command {os.path.basename(argv[0])} {how}"
                + (
                    f"; its stderr ends with: {_last_line(tail)}"
                    if tail
                    else " and printed nothing on stderr"
                )
            )

    async def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                return
            self.stderr_tail.append(line.decode("utf-8", "replace").rstrip("\r\n")[:500])

    async def _stderr_done(self) -> None:
        if self._stderr_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 2.0)

    async def aclose(self) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            self._stopping = True
            _signal_group(proc, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), GRACE_SECONDS)
            except TimeoutError:
                _signal_group(proc, signal.SIGKILL)
                await proc.wait()
        if self._stderr_task is not None and not self._stderr_task.done():
            await self._stderr_done()
            self._stderr_task.cancel()


def _signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    """Signal the command and anything it started (it runs in its own session)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)


def _parse_line(line: bytes) -> Item | None:
    text = line.strip()
    if not text:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return Issue("unparseable_line", text[:RAW_KEEP].decode("utf-8", "replace"))
    if not isinstance(value, dict):
        return Issue("unparseable_line", text[:RAW_KEEP].decode("utf-8", "replace"))
    return value


def _last_line(tail: str | None) -> str:
    lines = [ln for ln in (tail or "").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""
