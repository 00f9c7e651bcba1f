"""CPU profiles of the benchmark's hot spots, to see where a missed target's time goes.

    python -m benchmarks.profile launch  [--size 1m] [--cold]
    python -m benchmarks.profile key j   [--size 100k]      # any key: j, pagedown, a, x, 2, space ...
    python -m benchmarks.profile drop    [--size 1m]        # Store.drop of 100k rejected rows
    python -m benchmarks.profile compact [--size 1m]        # Store.compact after journaled decisions
    python -m benchmarks.profile generate [--count 5000]    # template generation job
    python -m benchmarks.profile first-row [--size 1m]      # job start to its first rows landed
    python -m benchmarks.profile stats|check|export [--size 1m]   # the CLI command, in process
    python -m benchmarks.profile swap    [--size 1m]        # a key pressed during the background swap

cProfile with `time.process_time` as its clock, so other work on the machine does not show up
as time spent; per-call overhead still inflates tight loops, so read the shares, and the plain
CPU figure printed first (measured without the profiler).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks import datagen

SIZE = (120, 36)


def _print(profile: cProfile.Profile, top: int, *more: cProfile.Profile) -> None:
    for sort, restrict in (("cumulative", "brewslm_tui"), ("tottime", None)):
        out = io.StringIO()
        stats = pstats.Stats(profile, *more, stream=out).sort_stats(sort)
        stats.print_stats(*([restrict] if restrict else []), top)
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


def _cpu(label: str, fn):
    c = time.process_time()
    result = fn()
    print(f"{label}: {(time.process_time() - c) * 1000:.1f} ms CPU (no profiler)")
    return result


def profile_launch(project: Path, cold: bool, top: int) -> None:
    """Imports, build_app and the app's start, up to the first frame with queue rows."""
    if cold:
        shutil.rmtree(project / ".brewslm" / "index", ignore_errors=True)
    profile = cProfile.Profile(time.process_time)
    c0 = time.process_time()
    profile.enable()
    from benchmarks.frames import FrameClock
    from brewslm_tui.ui.shell.app import build_app

    c1 = time.process_time()
    app = build_app(project)
    c2 = time.process_time()
    clock = FrameClock(app)
    seen: list[float] = []

    def first(t: float) -> None:
        try:
            rows = app.query_one("#queue-pane").rows
        except Exception:
            return
        if not seen and rows.size.height > 1:
            seen.append(time.process_time())
            profile.disable()

    clock.hooks.append(first)

    async def main() -> None:
        async with app.run_test(headless=True, size=SIZE):
            while not seen:
                await asyncio.sleep(0.005)

    asyncio.run(main())
    print(
        f"CPU: imports {c1 - c0:.3f} s, build_app {c2 - c1:.3f} s, app start to first paint {seen[0] - c2:.3f} s "
        "(with the profiler on)"
    )
    _print(profile, top)


def profile_key(project: Path, key: str, top: int) -> None:
    """One key in the Queue (after a few unprofiled presses of the same key to warm caches)."""
    from benchmarks import frames
    from brewslm_tui.ui.shell.app import build_app

    app = build_app(project)
    clock = frames.FrameClock(app)

    def effect():
        rows = app.query_one("#queue-pane").rows
        cursor, version, screens = rows.cursor, app.store.version, len(app.screen_stack)
        tab = app.query_one("#tabs").active
        return lambda: (
            (rows.cursor, app.store.version, len(app.screen_stack), app.query_one("#tabs").active)
            != (cursor, version, screens, tab)
            or (key == "space")
        )

    async def main() -> None:
        async with app.run_test(headless=True, size=SIZE):
            await frames.settle(app, clock)
            if key in ("j", "down", "pagedown", "a", "space"):
                for _ in range(3):
                    await frames.press(app, clock, key, effect=effect())
            profile = cProfile.Profile(time.process_time)
            done = effect()
            await frames.settle(app, clock)
            profile.enable()
            result = await frames.press(app, clock, key, effect=done)
            profile.disable()
            print(f"key {key}: {result}")
            _print(profile, top)

    asyncio.run(main())


def profile_drop(project: Path, top: int) -> None:
    from benchmarks.scenario import TARGET_DROP, _prepare_rejected

    prep, store = _prepare_rejected(str(project), TARGET_DROP)
    slots = prep["slots"]
    _cpu("ids of the slots (id_of each)", lambda: [store.id_of(i) for i in slots])
    _cpu("prev states (_states_of)", lambda: store._states_of(slots))
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    store.drop(slots)
    profile.disable()
    _print(profile, top)


def profile_compact(project: Path, top: int) -> None:
    from benchmarks.run import journal_some_decisions
    from brewslm_tui.core.project import load_project
    from brewslm_tui.core.store.store import Store

    print("journaled:", journal_some_decisions(project))
    store = Store.open(load_project(project))
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    report = store.compact()
    profile.disable()
    print(report)
    _print(profile, top)


def profile_generate(count: int, top: int) -> None:
    from benchmarks.run import generation_project
    from brewslm_tui.core.generation.jobs import run_generation_job
    from brewslm_tui.core.project import load_project

    tmp = Path(tempfile.mkdtemp(prefix="brewslm-profile-"))
    try:
        project = load_project(generation_project(tmp, None))
        c = time.process_time()
        t = time.perf_counter()
        asyncio.run(run_generation_job(project, "bench-template", count=count, seed=3))
        print(
            f"{count} rows: {time.perf_counter() - t:.2f} s wall, {time.process_time() - c:.2f} s CPU (no profiler)"
        )
        project = load_project(generation_project(tmp, None))
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        asyncio.run(run_generation_job(project, "bench-template", count=count, seed=3))
        profile.disable()
        _print(profile, top)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def profile_first_row(project: Path, top: int) -> None:
    """A 1,000-row template job on the size's project, profiled from its start to its first
    rows landed (the dedup index over every prompt is built before that). The job runs parts in
    threads (`asyncio.to_thread`): each such call gets its own profile (thread CPU time), merged
    into the one printed."""
    from benchmarks.run import FIRST_ROW_COUNT, write_bench_playbooks
    from brewslm_tui.core.generation.jobs import run_generation_job
    from brewslm_tui.core.project import load_project

    write_bench_playbooks(project, None)
    profile = cProfile.Profile(time.thread_time)
    in_threads: list[cProfile.Profile] = []
    to_thread = asyncio.to_thread
    marks: list[float] = []

    async def profiled_to_thread(fn, /, *args, **kwargs):
        def run():
            thread_profile = cProfile.Profile(time.thread_time)
            if len(marks) == 1:  # (not after the first rows landed)
                in_threads.append(thread_profile)
            return thread_profile.runcall(fn, *args, **kwargs)

        return await to_thread(run)

    def on_event(event) -> None:
        if event.kind == "rows_landed" and len(marks) == 1:
            profile.disable()
            marks.append(time.perf_counter())

    asyncio.to_thread = profiled_to_thread  # this profiling process only
    try:
        marks.append(time.perf_counter())
        profile.enable()
        asyncio.run(
            run_generation_job(
                load_project(project), "bench-template", count=FIRST_ROW_COUNT, on_event=on_event
            )
        )
        profile.disable()
    finally:
        asyncio.to_thread = to_thread
    if len(marks) > 1:
        print(f"first rows landed after {marks[1] - marks[0]:.3f} s (with the profiler on)")
    _print(profile, top, *in_threads)


def profile_cli(project: Path, command: str, top: int) -> None:
    """`brewslm-tui stats|check|export` in this process (imports included), output discarded."""
    import contextlib
    import os

    from brewslm_tui.cli import main as cli_main

    argv = [command, str(project)]
    if command == "export":
        argv += ["-o", str(project.parent / "export.jsonl")]
    profile = cProfile.Profile(time.process_time)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        profile.enable()
        code = cli_main(argv)
        profile.disable()
    print(f"brewslm-tui {' '.join(argv)}: exit {code}")
    _print(profile, top)


def profile_swap(project: Path, top: int) -> None:
    """A cold launch; the profile runs from the swap to the full columns (a key posted just
    before it, as in the benchmark) until that key's repaint has settled."""
    from benchmarks.scenario import Launch, SwapKey

    shutil.rmtree(project / ".brewslm" / "index", ignore_errors=True)
    launch = Launch(str(project), time.time())
    if launch.out["loaded_at_open"]:
        print("the store was complete at open (a small file, or the builder was done): no swap")
        return
    swap = SwapKey(launch)
    profile = cProfile.Profile(time.process_time)
    finish = launch.app.store.finish_loading

    def finish_loading():
        profile.enable()
        return finish()

    launch.app.store.finish_loading = finish_loading

    async def main() -> None:
        async with launch.app.run_test(headless=True, size=SIZE):
            await launch.wait("first_paint")
            swap.rows = launch.queue_rows()
            while not launch.app.store.loaded:
                await asyncio.sleep(0.001)
            result = await swap.result()
            profile.disable()
            print(f"key during the swap: {result}")
            _print(profile, top)

    asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.splitlines()[0])
    parser.add_argument(
        "what",
        choices=(
            "launch",
            "key",
            "drop",
            "compact",
            "generate",
            "first-row",
            "stats",
            "check",
            "export",
            "swap",
        ),
    )
    parser.add_argument("key", nargs="?", default="j")
    parser.add_argument("--size", default="100k")
    parser.add_argument("--cold", action="store_true", help="launch: without the column cache")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    if args.what == "generate":
        profile_generate(args.count, args.top)
        return 0
    source = datagen.ensure_project(datagen.parse_size(args.size))
    work = Path(tempfile.mkdtemp(prefix="brewslm-profile-"))
    try:
        # a job appends: its copy has the rows copied, not hard-linked
        project = datagen.working_copy(source, work / "project", link=args.what != "first-row")
        if args.what == "launch":
            profile_launch(project, args.cold, args.top)
        elif args.what == "key":
            profile_key(project, args.key, args.top)
        elif args.what == "drop":
            profile_drop(project, args.top)
        elif args.what == "first-row":
            profile_first_row(project, args.top)
        elif args.what in ("stats", "check", "export"):
            profile_cli(project, args.what, args.top)
        elif args.what == "swap":
            profile_swap(project, args.top)
        else:
            profile_compact(project, args.top)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
