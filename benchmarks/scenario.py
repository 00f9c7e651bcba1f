"""One benchmark scenario in a fresh process; prints one JSON object on its last stdout line.

    python -m benchmarks.scenario NAME --project DIR --t0 WALLCLOCK [--opt key=value ...]

`--t0` is the parent's `time.time()` taken just before it started this process, so "launch"
figures cover interpreter start and imports, as a user launching the app sees them. Imports
happen inside the scenario functions: a scenario pays only for what it uses. The process ends
with `os._exit` right after printing, so the app's exit-time compaction is not part of any run
(scenarios that decide work on throwaway copies).
"""

from __future__ import annotations

import time

T_SCRIPT = time.time()  # first line of our code: interpreter start-up is T_SCRIPT - t0

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

SIZE = (120, 36)
TARGET_DROP = 100_000


def _wall_to_perf(t_wall: float) -> float:
    return time.perf_counter() - (time.time() - t_wall)


# ------------------------------------------------------------------ the review app
class Launch:
    """Start the app headless and note the first frame that shows queue rows, and the first frame
    at which the header counts and the Rejected groups are complete."""

    def __init__(self, project: str, t0: float, *, force_background: bool = False):
        self.t0_perf = _wall_to_perf(t0)
        self.out: dict = {"python_start_s": T_SCRIPT - t0}
        # as `brewslm-tui open` does: the cache builder (if one is needed) starts before textual
        from brewslm_tui.core.project import load_project
        from brewslm_tui.core.store.store import Store

        if force_background:  # a tiny project opened as a big one is (see sc_launch)
            Store.BACKGROUND_BYTES = 0
            builder = None  # started by the store, so it is still running when the app starts
        else:
            builder = Store.start_early_builder(load_project(project))
        from brewslm_tui.ui.review import row_list

        self.rows_drawn = False
        original = row_list.RowList.render_line
        launch = self

        def render_line(widget, y):
            strip = original(widget, y)
            if (
                not launch.rows_drawn
                and y >= 1
                and getattr(widget.parent, "id", None) == "queue-pane"
                and (widget.scroll_offset.y + y - 1 < len(widget.lines) or not len(widget.lines))
            ):
                launch.rows_drawn = True  # rows on screen (or the queue is empty: nothing to wait for)
            return strip

        row_list.RowList.render_line = render_line
        from brewslm_tui.ui.shell.app import build_app

        self.out["import_s"] = time.perf_counter() - self.t0_perf
        self.app = build_app(project, builder=builder)
        self.out["store_open_s"] = time.perf_counter() - self.t0_perf
        self.out["loaded_at_open"] = bool(getattr(self.app.store, "loaded", True))
        from benchmarks.frames import FrameClock

        self.clock = FrameClock(self.app)
        self.first_paint: float | None = None
        self.complete: float | None = None
        self.clock.hooks.append(self._on_frame)

    def _on_frame(self, t: float) -> None:
        if self.first_paint is None and self.rows_drawn:
            self.first_paint = t
            from benchmarks.frames import memory

            self.out["memory_after_first_paint"] = memory()
            self.out["cpu_s_at_first_paint"] = time.process_time()  # CPU since process start: apart from load
            self.out["loaded_at_first_paint"] = bool(getattr(self.app.store, "loaded", True))
        if self.first_paint is not None and self.complete is None and self.counts_complete():
            self.complete = t

    def counts_complete(self) -> bool:
        """Header shows the store's final counts (all rows loaded), and the Rejected view holds
        every rejected row in its groups, or is marked to catch up when it is shown (the app
        syncs hidden tabs on show; scenario 5 times that)."""
        try:
            app, store = self.app, self.app.store
            if not getattr(store, "loaded", True):
                return False
            header = app.query_one("#header")
            shown = getattr(header, "_last", None)
            if not shown or shown[1] != store.counts():
                return False
            if sum(store.reason_counts().values()) != store.counts()["rejected"]:
                return False
            if "rejected" in getattr(app, "_stale", ()):
                return True
            rows = app.query_one("#rejected-pane").rows
            groups = rows.view.groups()
            return sum(len(s) for _, s in groups) == store.counts()["rejected"] == len(rows.view)
        except Exception:
            return False

    async def wait(self, what: str, timeout: float = 600.0) -> float:
        deadline = time.perf_counter() + timeout
        while getattr(self, what) is None:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no {what} within {timeout} s")
            await asyncio.sleep(0.001)
        return getattr(self, what)

    def since_t0(self, t: float) -> float:
        return t - self.t0_perf

    def queue_rows(self):
        return self.app.query_one("#queue-pane").rows


class SwapKey:
    """A key pressed while the background load finishes: when the app calls
    `store.finish_loading()` (the swap to the full columns, on the event loop), `j` is posted
    first, so it waits behind the swap as a key typed at that moment does. With `hold` (the
    forced mode of tiny projects) the builder's end is noticed only `hold` s after the first
    paint, so the swap comes after it."""

    def __init__(self, launch: Launch, hold: float = 0.0) -> None:
        self.launch, self.hold = launch, hold
        self.rows = None  # the Queue's row list, once painted
        self.mark: tuple | None = None
        self.before: int | None = None
        self.swap_ms: float | None = None
        self.deferred_pending: int | None = None
        store = launch.app.store
        finish, refresh = store.finish_loading, store.refresh

        def finish_loading():
            from benchmarks import frames

            if self.rows is None and launch.first_paint is not None:
                self.rows = launch.queue_rows()
            if self.mark is None and self.rows is not None:  # (a swap before the first paint: no key)
                self.before = self.rows.cursor
                # parts built after the first frame (ui/shell/deferred.py) still coming: the key
                # waits for them too (their mounts and layouts), not for the swap alone
                self.deferred_pending = len(launch.app.query("Deferred"))
                self.mark = frames.send_key(launch.app, launch.clock, "j")
            t = time.perf_counter()
            try:
                return finish()
            finally:
                self.swap_ms = (time.perf_counter() - t) * 1000

        def held_refresh():
            first = launch.first_paint
            if not store.loaded and (first is None or time.perf_counter() < first + self.hold):
                return range(len(store), len(store))
            return refresh()

        store.finish_loading = finish_loading
        if hold:
            store.refresh = held_refresh

    async def result(self) -> dict | None:
        from benchmarks import frames

        if self.mark is None:
            return None
        before = self.before
        out = await frames.timed_effect(
            self.launch.app, self.launch.clock, self.mark, effect=lambda: self.rows.cursor != before
        )
        out["swap_ms"] = self.swap_ms
        out["deferred_parts_pending"] = self.deferred_pending
        out["swap_after_first_paint_s"] = self.mark[0] - self.launch.first_paint
        return out


async def sc_launch(args, opts) -> dict:
    """Scenarios 1, 2, 6: first paint with rows, complete counts and groups, memory, first key;
    keys while the rest loads in the background, and one key pressed during the swap."""
    from benchmarks import frames

    force = opts.get("force_background") == "1"
    launch = Launch(args.project, args.t0, force_background=force)
    swap = SwapKey(launch, hold=0.3 if force else 0.0) if not launch.out["loaded_at_open"] else None
    async with launch.app.run_test(headless=True, size=SIZE):
        first = await launch.wait("first_paint")
        out = launch.out
        out["first_paint_s"] = launch.since_t0(first)
        rows = launch.queue_rows()
        loading = []  # "UI responsive meanwhile": keys pressed while the background load runs
        deadline = time.perf_counter() + float(opts.get("complete_timeout", 60))
        while not getattr(launch.app.store, "loaded", True) and time.perf_counter() < deadline:
            if len(loading) == 10:  # enough of those: wait for the swap (and its key)
                await asyncio.sleep(0.001)
                continue
            before = rows.cursor
            press = await frames.press(
                launch.app, launch.clock, "j", effect=lambda before=before: rows.cursor != before
            )
            loading.append(press["ms"])
        out["keys_while_loading"] = frames.summarize(loading) if loading else None
        if swap is not None:  # at once: the frames after it are the swap's and the key's
            out["swap_key"] = await swap.result()
        try:
            complete = await launch.wait("complete", timeout=float(opts.get("complete_timeout", 60)))
            out["counts_complete_s"] = launch.since_t0(complete)
        except TimeoutError as error:
            out["counts_complete_s"] = None
            out["counts_error"] = str(error)
        before = rows.cursor
        key = await frames.press(launch.app, launch.clock, "j", effect=lambda: rows.cursor != before)
        out["first_key_ms"] = key["ms"]
        out["rows"] = len(launch.app.store)
        out["memory_end"] = frames.memory()
    return out


async def sc_keys(args, opts) -> dict:
    """Scenario 3: keystroke to repaint for cursor, page, space, approve, reject (x + reason)."""
    from benchmarks import frames

    n = int(opts.get("n", 40))
    launch = Launch(args.project, args.t0)
    app = launch.app
    samples: dict[str, list] = {
        k: [] for k in ("cursor", "page", "space", "approve", "reject_open", "reject_pick")
    }
    async with app.run_test(headless=True, size=SIZE):
        await launch.wait("first_paint")
        rows = launch.queue_rows()
        store = app.store

        async def timed(kind: str, key: str, effect) -> None:
            samples[kind].append(await frames.press(app, launch.clock, key, effect=effect))

        def moved_from(c):
            return lambda: rows.cursor != c

        for k in range(2 * n):
            await timed("cursor", "j" if k % 2 else "down", moved_from(rows.cursor))
        for _ in range(n):
            await timed("page", "pagedown", moved_from(rows.cursor))
        for _ in range(n):
            picked = len(rows.selected)
            await timed("space", "space", lambda picked=picked: len(rows.selected) != picked)
        await frames.press(app, launch.clock, "escape", effect=lambda: not rows.selected)
        for _ in range(n):
            version = store.version
            await timed("approve", "a", lambda version=version: store.version != version)
        pane = rows.parent  # x asks for the reason in place (the Queue pane's `asking`)
        for k in range(n):
            await timed("reject_open", "x", lambda: pane.asking is not None)
            version = store.version
            await timed(
                "reject_pick",
                str(1 + k % 7),
                lambda version=version: store.version != version and pane.asking is None,
            )
        counts = store.counts()
    out = {k: frames.summarize_presses(v) for k, v in samples.items()}
    out["raw"] = samples
    out["counts_after"] = counts
    return out


async def sc_rejected(args, opts) -> dict:
    """Scenario 5: open the Rejected view (grouped): right after launch, and after a reject in the
    Queue (the view catches up when shown); plus the core grouping from scratch."""
    from benchmarks import frames

    launch = Launch(args.project, args.t0)
    app = launch.app
    out: dict = {}
    async with app.run_test(headless=True, size=SIZE):
        await launch.wait("first_paint")
        tabs = app.query_one("#tabs")
        out["rejected_rows"] = app.store.counts()["rejected"]

        def shown() -> bool:  # the tab is up and its grouped rows are the store's rejected rows
            panes = app.query("#rejected-pane")
            return (
                tabs.active == "rejected"
                and bool(panes)
                and len(panes.first().rows.view) == app.store.counts()["rejected"]
            )

        out["open"] = await frames.press(app, launch.clock, "2", effect=shown)
        out["open_ms"] = out["open"]["ms"]
        await frames.press(app, launch.clock, "1", effect=lambda: tabs.active == "queue")
        version = app.store.version
        queue = app.query_one("#queue-pane")
        await frames.press(app, launch.clock, "x", effect=lambda: queue.asking is not None)
        await frames.press(
            app, launch.clock, "1", effect=lambda: app.store.version != version and queue.asking is None
        )
        out["open_after_reject"] = await frames.press(app, launch.clock, "2", effect=shown)
        out["open_after_reject_ms"] = out["open_after_reject"]["ms"]
        from brewslm_tui.core.rows import REJECTED
        from brewslm_tui.core.store.views import RowView

        t = time.perf_counter()
        groups = RowView(app.store, statuses={REJECTED}).groups()
        out["core_groups_ms"] = (time.perf_counter() - t) * 1000
        out["groups"] = len(groups)
    return out


def _prepare_rejected(project_dir: str, want: int) -> dict:
    """Make sure at least `want` rows are rejected (one bulk reject of pending rows if needed);
    returns the timing of that reject and the slots to drop."""
    from brewslm_tui.core.project import load_project
    from brewslm_tui.core.rows import APPROVED, PENDING, REJECTED
    from brewslm_tui.core.store.store import Store
    from brewslm_tui.core.store.views import RowView

    project = load_project(project_dir)
    store = Store.open(project)
    out: dict = {"rows": len(store)}
    want = min(want, len(store))
    rejected = RowView(store, statuses={REJECTED})
    need = want - len(rejected)
    if need > 0:
        others = RowView(store, statuses={PENDING, APPROVED})
        slots = [others[k] for k in range(min(need, len(others)))]
        t = time.perf_counter()
        store.reject(slots, "low_quality")
        out["bulk_reject_s"] = time.perf_counter() - t
        out["bulk_reject_rows"] = len(slots)
        rejected = RowView(store, statuses={REJECTED})
    out["slots"] = [rejected[k] for k in range(min(want, len(rejected)))]
    return out, store


def sc_drop_core(args, opts) -> dict:
    """Scenario 4 (core): Store.drop of 100k selected rejected rows; durable when it returns
    (one journal entry, fsync'd)."""
    prep, store = _prepare_rejected(args.project, TARGET_DROP)
    slots = prep.pop("slots")
    journal = store.journal.path
    size_before = os.path.getsize(journal) if os.path.exists(journal) else 0
    t = time.perf_counter()
    decision = store.drop(slots)
    prep["drop_s"] = time.perf_counter() - t
    prep["dropped"] = decision.count
    prep["journal_entry_bytes"] = os.path.getsize(journal) - size_before
    return prep


def sc_approve_core(args, opts) -> dict:
    """`store.approve` of one row, n times (each one fsync'd journal entry, durable on return):
    the core's share of an approve key."""
    from benchmarks import frames
    from brewslm_tui.core.project import load_project
    from brewslm_tui.core.rows import PENDING
    from brewslm_tui.core.store.store import Store
    from brewslm_tui.core.store.views import RowView

    n = int(opts.get("n", 50))
    with Store.open(load_project(args.project)) as store:
        pending = RowView(store, statuses={PENDING})
        times = []
        for k in range(min(n, len(pending))):
            slot = pending[k]
            t = time.perf_counter()
            store.approve([slot])
            times.append((time.perf_counter() - t) * 1000)
    return {"approve": frames.summarize(times)}


async def sc_drop_ui(args, opts) -> dict:
    """Scenario 4 (UI): 100k rows selected in the Rejected view, `d`, then `y`: until repainted."""
    from benchmarks import frames

    prep, store = _prepare_rejected(args.project, TARGET_DROP)
    slots = prep.pop("slots")
    store.close()
    launch = Launch(args.project, args.t0)
    app = launch.app
    async with app.run_test(headless=True, size=SIZE):
        await launch.wait("first_paint")
        tabs = app.query_one("#tabs")
        await frames.press(app, launch.clock, "2", effect=lambda: tabs.active == "rejected")
        pane = app.query_one("#rejected-pane")
        pane.rows.selected = set(slots)  # what `space` on groups / shift+arrows would build up
        pane.rows._selection_changed()
        prep["confirm"] = await frames.press(app, launch.clock, "d", effect=lambda: len(app.screen_stack) > 1)
        prep["confirm_ms"] = prep["confirm"]["ms"]
        before = app.store.counts()["dropped"]
        prep["drop"] = await frames.press(
            app,
            launch.clock,
            "y",
            effect=lambda: (
                app.store.counts()["dropped"] >= before + len(slots) and len(app.screen_stack) == 1
            ),
        )
        prep["drop_ms"] = prep["drop"]["ms"]
        prep["dropped"] = app.store.counts()["dropped"] - before
    return prep


# ------------------------------------------------------------------ references
async def _reference_table(args, opts, make_app) -> dict:
    """A reference table app over the same rows: process start to the first frame with rows,
    then down / pagedown to repaint. `make_app(path)` -> (app, the table widget's class)."""
    from benchmarks import frames

    t0_perf = _wall_to_perf(args.t0)
    app, table_class = make_app(os.path.join(args.project, "data", "synthetic.jsonl"))
    out: dict = {"import_s": time.perf_counter() - t0_perf}
    clock = frames.FrameClock(app)
    state: dict = {"first": None}

    def on_frame(t: float) -> None:
        if state["first"] is None:
            try:
                table = app.query_one(table_class)
            except Exception:
                return
            if table.row_count and table.size.height > 1:
                state["first"] = t
                state["memory"] = frames.memory()

    clock.hooks.append(on_frame)
    async with app.run_test(headless=True, size=SIZE):
        while state["first"] is None:
            await asyncio.sleep(0.005)
        out["first_paint_s"] = state["first"] - t0_perf
        out["memory_after_first_paint"] = state["memory"]
        table = app.query_one(table_class)
        out["rows"] = table.row_count
        n = int(opts.get("n", 20))
        cursor, page = [], []
        for _ in range(2 * n):
            row = table.cursor_row
            cursor.append(
                (await frames.press(app, clock, "down", effect=lambda row=row: table.cursor_row != row))["ms"]
            )
        for _ in range(n):
            row = table.cursor_row
            page.append(
                (await frames.press(app, clock, "pagedown", effect=lambda row=row: table.cursor_row != row))[
                    "ms"
                ]
            )
        out["cursor"] = frames.summarize(cursor)
        out["page"] = frames.summarize(page)
        out["memory_end"] = frames.memory()
    return out


def _stock_datatable_app(path: str):
    """A stock Textual DataTable filled with every row (Text cells: untrusted strings are not markup)."""
    import orjson
    from rich.text import Text
    from textual.app import App
    from textual.widgets import DataTable

    class TableApp(App):
        def compose(self):
            yield DataTable(cursor_type="row")

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_columns("status", "prompt", "completion", "run")
            with open(path, "rb") as f:
                table.add_rows(
                    (r["review_status"], Text(r["prompt"]), Text(r["completion"]), Text(r["run_id"]))
                    for r in map(orjson.loads, f)
                )
            table.focus()

    return TableApp(), DataTable


def _fastdatatable_app(path: str):
    """`textual-fastdatatable` over an Arrow table of the same columns, read by pyarrow's
    multithreaded JSON reader (the peer's fastest way in: C++ parsing, no Python per row);
    markup off, as untrusted text must be."""
    import pyarrow as pa
    import pyarrow.json as pa_json
    from textual.app import App
    from textual_fastdatatable import ArrowBackend, DataTable

    columns = ("review_status", "prompt", "completion", "run_id")
    schema = pa.schema([(name, pa.string()) for name in columns])

    class FastTableApp(App):
        def compose(self):
            table = pa_json.read_json(
                path,
                parse_options=pa_json.ParseOptions(
                    explicit_schema=schema, unexpected_field_behavior="ignore"
                ),
            )
            yield DataTable(
                backend=ArrowBackend(table),
                column_labels=["status", "prompt", "completion", "run"],
                cursor_type="row",
                render_markup=False,
            )

        def on_mount(self) -> None:
            self.query_one(DataTable).focus()

    return FastTableApp(), DataTable


async def sc_datatable(args, opts) -> dict:
    """Reference: the stock Textual DataTable with every row."""
    return await _reference_table(args, opts, _stock_datatable_app)


async def sc_fastdatatable(args, opts) -> dict:
    """Reference: textual-fastdatatable (Arrow-backed), the peer of issue 12."""
    return await _reference_table(args, opts, _fastdatatable_app)


# ------------------------------------------------------------------ generation
async def sc_generate(args, opts) -> dict:
    """Scenario 8 and the job start: a generation job through `run_generation_job` (validation,
    dedup, appends): rows landed per second, and the job's start to its first rows landed (the
    first `rows_landed` event: the rows are appended and fsync'd), from the call and from the
    process start."""
    t0_perf = _wall_to_perf(args.t0)
    from brewslm_tui.core.generation.jobs import run_generation_job
    from brewslm_tui.core.project import load_project

    project = load_project(args.project)
    count = int(opts["count"])
    server = opts.get("server")
    before = _server_requests(server) if server else 0
    first_landed: list[float] = []

    def on_event(event) -> None:
        if event.kind == "rows_landed" and not first_landed:
            first_landed.append(time.perf_counter())

    fsyncs_before = _slow_fsync_calls()
    t = time.perf_counter()
    record = await run_generation_job(
        project, opts["playbook"], count=count, seed=int(opts.get("seed", 7)), on_event=on_event
    )
    elapsed = time.perf_counter() - t
    out = {
        "state": record.state,
        "counts": record.counts,
        "elapsed_s": elapsed,
        "rows_per_second_record": record.rows_per_second,
        "landed_per_s": record.counts.get("landed", 0) / elapsed,
        "first_row_s": first_landed[0] - t if first_landed else None,
        "first_row_from_process_start_s": first_landed[0] - t0_perf if first_landed else None,
    }
    if server:
        requests = _server_requests(server) - before
        out["requests"] = requests
        out["requests_per_s"] = requests / elapsed
    if fsyncs_before is not None:
        out["slow_fsync"] = {
            "calls_in_job": _slow_fsync_calls() - fsyncs_before,
            "probe_ms": _fsync_probe_ms(),
        }
    return out


def _slow_fsync_calls() -> int | None:
    """fsync/fdatasync calls so far, when the slow-disk shim (benchmarks/c/slow_fsync.c) is preloaded."""
    if "slow_fsync" not in os.environ.get("LD_PRELOAD", ""):
        return None
    import ctypes

    counter = ctypes.CDLL(None).slow_fsync_calls
    counter.restype = ctypes.c_ulong
    return int(counter())


def _fsync_probe_ms() -> float:
    """One fsync of a small temp file, timed: proof that the shim slows this process's fsyncs."""
    import tempfile

    with tempfile.TemporaryFile() as f:
        f.write(b"x")
        f.flush()
        t = time.perf_counter()
        os.fsync(f.fileno())
        return (time.perf_counter() - t) * 1000


async def sc_openai_client(args, opts) -> dict:
    """The openai generator alone (no job: no validation, dedup or appends): its request ceiling."""
    from brewslm_tui.core.generation.generators import GenRequest, generator_class
    from brewslm_tui.core.generation.playbooks import get_playbook
    from brewslm_tui.core.project import load_project

    project = load_project(args.project)
    book = get_playbook(project, opts["playbook"])
    count = int(opts["count"])
    server = opts["server"]
    generator = generator_class("openai")(GenRequest(project, book, count, 7, []))
    before = _server_requests(server)
    t = time.perf_counter()
    items = 0
    async for _ in generator.stream():
        items += 1
    elapsed = time.perf_counter() - t
    requests = _server_requests(server) - before
    return {"items": items, "requests": requests, "elapsed_s": elapsed, "requests_per_s": requests / elapsed}


def _server_requests(base: str) -> int:
    import urllib.request

    with urllib.request.urlopen(base.rstrip("/") + "/stats", timeout=10) as resp:
        return json.loads(resp.read())["requests"]


def _own_peak_rss_mb() -> float | None:
    """VmHWM: this process's own peak RSS (no children), without importing textual for it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


SCENARIOS = {
    "launch": sc_launch,
    "keys": sc_keys,
    "rejected": sc_rejected,
    "drop_core": sc_drop_core,
    "approve_core": sc_approve_core,
    "drop_ui": sc_drop_ui,
    "datatable": sc_datatable,
    "fastdatatable": sc_fastdatatable,
    "generate": sc_generate,
    "openai_client": sc_openai_client,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name", choices=sorted(SCENARIOS))
    parser.add_argument("--project", required=True)
    parser.add_argument("--t0", type=float, default=T_SCRIPT)
    parser.add_argument("--opt", action="append", default=[])
    args = parser.parse_args()
    opts = dict(o.split("=", 1) for o in args.opt)
    try:
        result = SCENARIOS[args.name](args, opts)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        result["ok"] = True
        result["own_peak_rss_mb"] = _own_peak_rss_mb()
    except BaseException as error:  # the parent reports it; one failed scenario must not stop the rest
        result = {
            "ok": False,
            "error": f"{type(error).__name__}: {error}",
            "trace": traceback.format_exc()[-3000:],
        }
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
