"""The benchmark runner of issue 5: one command, every scenario in a fresh process.

    python -m benchmarks.run [--sizes 10k,100k,1m] [--repeat 3] [--quick]

Generates (and caches) the synthetic projects, runs each scenario `--repeat` times in a new
process (`benchmarks/scenario.py`, or the real `brewslm-tui` / `vd` commands), and reports each
figure as the median of the runs with min and max. Prints the table and writes
`benchmarks/results/latest.json` and `latest.md` (the table with the issue's targets, met or
missed). See `benchmarks/README.md` for what each figure measures and how.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import datagen, native, report

ROOT = datagen.ROOT
RESULTS = Path(__file__).resolve().parent / "results"
SLOW_FSYNC_MS = 4.0  # issue 12: the openai job "with fsync slowed to 4 ms"
DATATABLE_TIMEOUT = 300.0  # the issue: give the stock DataTable five minutes, then say it did not finish
DEFAULT_TIMEOUT = 900.0


# ------------------------------------------------------------------ processes
_BIN: dict = {}  # the run's compiled helpers: folder, launcher argv prefix, its name


def bin_dir() -> Path:
    """This run's folder for the compiled helpers (benchmarks/native.py) and RSS result files."""
    if "dir" not in _BIN:
        _BIN["dir"] = Path(tempfile.mkdtemp(prefix="brewslm-bench-bin-"))
    return _BIN["dir"]


def drop_helpers() -> None:
    """Remove the run's helper folder (compiled helpers, RSS result files)."""
    if "dir" in _BIN:
        shutil.rmtree(_BIN["dir"], ignore_errors=True)
    _BIN.clear()


def launcher() -> tuple[list[str], str]:
    if "launcher" not in _BIN:
        _BIN["launcher"] = native.launcher(bin_dir())
    return _BIN["launcher"]


def run_process(
    argv: list[str], *, timeout: float = DEFAULT_TIMEOUT, cwd: Path = ROOT, env: dict | None = None
) -> dict:
    """Run argv; wall time from just before the spawn to the reaped exit, and the child's OWN
    peak RSS: it is started through a small launcher (native.py), so the runner's RSS at fork
    is not in it. On a timeout the whole process group is killed."""
    prefix, _ = launcher()
    fd, rss_file = tempfile.mkstemp(dir=bin_dir(), prefix="rss-")
    os.close(fd)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        env = dict(
            os.environ,
            PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            **(env or {}),
        )
        t0 = time.time()
        argv = [a.replace("{t0}", repr(t0)) for a in argv]
        proc = subprocess.Popen(
            [*prefix, rss_file, *argv], stdout=out, stderr=err, cwd=cwd, env=env, start_new_session=True
        )
        timed_out = threading.Event()

        def kill() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        def time_out() -> None:
            timed_out.set()
            kill()

        timer = threading.Timer(timeout, time_out)
        timer.start()
        try:
            _, status, _usage = os.wait4(proc.pid, 0)  # (the launcher's usage: includes the runner's RSS)
        except BaseException:  # ctrl+c: its own session does not get the terminal's SIGINT
            kill()
            os.waitpid(proc.pid, 0)
            raise
        finally:
            timer.cancel()
        wall = time.time() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = None
        with contextlib.suppress(OSError, ValueError, IndexError):
            peak = int(Path(rss_file).read_text().split()[0]) / 1024
        os.unlink(rss_file)
        return {
            "wall_s": wall,
            "returncode": proc.returncode,
            "timed_out": timed_out.is_set(),
            "peak_rss_mb": peak,
            "stdout": _tail(out),
            "stderr": _tail(err),
        }


def _tail(f, limit: int = 4 << 20) -> str:
    """The last `limit` bytes a child wrote (a scenario's result is its last line)."""
    size = f.seek(0, os.SEEK_END)
    f.seek(max(0, size - limit))
    return f.read().decode("utf-8", "replace")


def scenario(
    name: str,
    project: Path,
    opts: dict | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    env: dict | None = None,
) -> dict:
    """One scenario in a fresh Python process; its JSON result (+ wall_s, peak_rss_mb of the process)."""
    argv = [sys.executable, "-m", "benchmarks.scenario", name, "--project", str(project), "--t0", "{t0}"]
    for key, value in (opts or {}).items():
        argv += ["--opt", f"{key}={value}"]
    proc = run_process(argv, timeout=timeout, env=env)
    if proc["timed_out"]:
        return {
            "ok": False,
            "timed_out": True,
            "error": f"did not finish in {timeout:.0f} s",
            "wall_s": proc["wall_s"],
        }
    lines = [line for line in proc["stdout"].splitlines() if line.startswith("{")]
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        result = {"ok": False, "error": f"no result (exit {proc['returncode']}): {proc['stderr'][-1500:]}"}
    result["wall_s"] = proc["wall_s"]
    result["process_peak_rss_mb"] = proc["peak_rss_mb"]
    if not result.get("ok"):
        print(f"    ! {name} on {project.name}: {result.get('error')}", file=sys.stderr)
    return result


def cli(*args: str, timeout: float = DEFAULT_TIMEOUT) -> dict:
    exe = Path(sys.executable).with_name("brewslm-tui")
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "brewslm_tui"]
    proc = run_process(argv + list(args), timeout=timeout)
    proc["ok"] = proc["returncode"] == 0 and not proc["timed_out"]
    if not proc["ok"]:
        print(
            f"    ! brewslm-tui {' '.join(args)}: exit {proc['returncode']} {proc['stderr'][-500:]}",
            file=sys.stderr,
        )
    return proc


# ------------------------------------------------------------------ figures
class Figures:
    """Per-run values of every figure, each with the 1-minute load average when it was taken;
    summarised as median, min, max (and the load's range beside them)."""

    def __init__(self) -> None:
        self.values: dict[str, list] = {}
        self.loads: dict[str, list] = {}
        self.notes: dict[str, str] = {}

    def add(self, name: str, value) -> None:
        self.values.setdefault(name, []).append(value)
        self.loads.setdefault(name, []).append(load_average_1m())

    def summary(self) -> dict:
        out: dict[str, dict[str, Any]] = {}
        for name, values in self.values.items():
            xs = [v for v in values if isinstance(v, (int, float))]
            out[name] = {
                "median": statistics.median(xs) if xs else None,
                "min": min(xs) if xs else None,
                "max": max(xs) if xs else None,
                "runs": values,
                "load": self.loads.get(name),
            }
            if name in self.notes:
                out[name]["note"] = self.notes[name]
        return out


def _get(d: dict, *path, default=None):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def drop_index(project: Path) -> None:
    shutil.rmtree(project / ".brewslm" / "index", ignore_errors=True)


def work_dir() -> Path:
    path = Path(tempfile.gettempdir()) / f"brewslm-bench-{os.getpid()}"
    path.mkdir(exist_ok=True)
    return path


def journal_some_decisions(project: Path) -> dict:
    """Before a compaction run: single decisions, one bulk reject and one bulk drop, journaled."""
    from brewslm_tui.core.project import load_project
    from brewslm_tui.core.rows import PENDING, REJECTED
    from brewslm_tui.core.store.store import Store
    from brewslm_tui.core.store.views import RowView

    with Store.open(load_project(project)) as store:
        pending = RowView(store, statuses={PENDING})
        n = len(pending)
        singles = [pending[k] for k in range(0, n, max(1, n // 200))][:200]
        for k, slot in enumerate(singles):
            if k % 2:
                store.approve([slot])
            else:
                store.reject([slot], datagen.REASONS[k % 7])
        bulk = [pending[k] for k in range(1, n, 100)]
        store.reject(bulk, "duplicate")
        rejected = RowView(store, statuses={REJECTED})
        drop = [rejected[k] for k in range(0, len(rejected), 10)]
        store.drop(drop)
        return {"single": len(singles), "bulk_reject": len(bulk), "drop": len(drop)}


FASTDATATABLE_MISSING = "not measured: textual-fastdatatable is not installed (pip install -e '.[bench]', or pip install textual-fastdatatable)"
DATATABLE_MAX_ROWS = 1_000_000
FIRST_ROW_COUNT = 1000  # a job of the playbook's usual size: its first batch lands whole


def reference_table(fig: Figures, details: dict, name: str, project: Path, repeat: int, quick: bool) -> None:
    """A reference table app (`datatable`: the stock one; `fastdatatable`: the Arrow-backed peer)
    on the same rows: first paint, cursor and page key p95, memory; given up after DATATABLE_TIMEOUT."""
    for _ in range(repeat):
        r = scenario(name, project, {"n": 4 if quick else 20}, timeout=DATATABLE_TIMEOUT)
        if r.get("timed_out"):
            fig.add(f"{name}_first_paint_s", f">{DATATABLE_TIMEOUT:.0f} (did not finish)")
        else:
            fig.add(f"{name}_first_paint_s", r.get("first_paint_s"))
            fig.add(f"{name}_cursor_p95_ms", _get(r, "cursor", "p95"))
            fig.add(f"{name}_page_p95_ms", _get(r, "page", "p95"))
            fig.add(f"{name}_anon_mb", _get(r, "memory_after_first_paint", "anon_mb"))
            fig.add(f"{name}_peak_rss_mb", r.get("process_peak_rss_mb"))
        details.setdefault(name, []).append(r)


# ------------------------------------------------------------------ scenarios per size
def bench_size(n: int, repeat: int, quick: bool, keys_n: int, log, *, force_background: bool = False) -> dict:
    label = datagen.size_label(n)
    t = time.time()
    project = datagen.ensure_project(n)
    log(f"[{label}] project ready in {time.time() - t:.1f} s: {project}")
    fig = Figures()
    details: dict = {}
    tmp = work_dir()

    log(f"[{label}] launch, cold (no column cache) x{repeat}")
    for _ in range(repeat):
        drop_index(project)
        r = scenario("launch", project, {"force_background": 1} if force_background else None)
        fig.add("launch_cold_s", r.get("first_paint_s"))
        fig.add("complete_cold_s", r.get("counts_complete_s"))
        fig.add("launch_cold_cpu_s", r.get("cpu_s_at_first_paint"))
        fig.add("keys_while_loading_p95_ms", _get(r, "keys_while_loading", "p95"))
        fig.add("anon_mb_cold", _get(r, "memory_after_first_paint", "anon_mb"))
        fig.add("swap_key_ms", _get(r, "swap_key", "ms"))
        fig.add("swap_ms", _get(r, "swap_key", "swap_ms"))
        fig.add("swap_deferred_parts", _get(r, "swap_key", "deferred_parts_pending"))
        fig.add("peak_rss_mb_cold", r.get("process_peak_rss_mb"))
        fig.add("own_peak_rss_mb_cold", r.get("own_peak_rss_mb"))
        details.setdefault("launch_cold", []).append(r)
    if force_background:
        fig.notes["swap_key_ms"] = (
            "forced background mode (--force-background): a tiny project opened as a big one"
        )
    log(f"[{label}] launch, warm (column cache present) x{repeat}")
    for _ in range(repeat):
        r = scenario("launch", project)
        fig.add("launch_warm_s", r.get("first_paint_s"))
        fig.add("complete_warm_s", r.get("counts_complete_s"))
        fig.add("launch_warm_cpu_s", r.get("cpu_s_at_first_paint"))
        fig.add("launch_warm_import_s", r.get("import_s"))
        fig.add("launch_warm_store_open_s", r.get("store_open_s"))
        fig.add("anon_mb_warm", _get(r, "memory_after_first_paint", "anon_mb"))
        fig.add("peak_rss_mb_warm", r.get("process_peak_rss_mb"))
        fig.add("first_key_ms", r.get("first_key_ms"))
        details.setdefault("launch_warm", []).append(r)

    if importlib.util.find_spec("textual_fastdatatable") is None:
        details["fastdatatable"] = FASTDATATABLE_MISSING
        log(f"[{label}] textual-fastdatatable: {FASTDATATABLE_MISSING}")
    else:
        log(f"[{label}] textual-fastdatatable (Arrow-backed peer) x{repeat}")
        reference_table(fig, details, "fastdatatable", project, repeat, quick)

    log(f"[{label}] generate: job start to first rows landed (template, {FIRST_ROW_COUNT:,} rows) x{repeat}")
    for k in range(repeat):  # a job appends: a real copy of the rows, not the hard link
        copy = datagen.working_copy(project, tmp / f"gen-{label}-{k}", link=False)
        write_bench_playbooks(copy, None)
        # the first job on a copied file builds the prompt index (a new inode: like the first
        # job after a compaction); the next one finds it, grown by the first job's rows
        r = scenario("generate", copy, {"playbook": "bench-template", "count": FIRST_ROW_COUNT})
        fig.add("generate_first_row_index_build_s", r.get("first_row_s"))
        details.setdefault("generate_first_row_index_build", []).append(r)
        r = scenario("generate", copy, {"playbook": "bench-template", "count": FIRST_ROW_COUNT, "seed": 8})
        fig.add("generate_first_row_s", r.get("first_row_s"))
        fig.add("generate_first_row_process_s", r.get("first_row_from_process_start_s"))
        details.setdefault("generate_first_row", []).append(r)
        shutil.rmtree(copy, ignore_errors=True)

    log(f"[{label}] keystrokes ({keys_n} per kind) x{repeat}")
    for k in range(repeat):
        copy = datagen.working_copy(project, tmp / f"keys-{label}-{k}")
        r = scenario("keys", copy, {"n": keys_n})
        for kind in ("cursor", "page", "space", "approve", "reject_open", "reject_pick"):
            fig.add(f"key_{kind}_p95_ms", _get(r, kind, "p95"))
            fig.add(f"key_{kind}_median_ms", _get(r, kind, "median"))
            fig.add(f"key_{kind}_first_p95_ms", _get(r, kind, "first_frame", "p95"))
            fig.add(f"key_{kind}_cpu_median_ms", _get(r, kind, "cpu", "median"))
        r.pop("raw", None)
        details.setdefault("keys", []).append(r)
        shutil.rmtree(copy, ignore_errors=True)
        copy = datagen.working_copy(project, tmp / f"approve-{label}-{k}")
        r = scenario("approve_core", copy, {"n": keys_n})
        fig.add("store_approve_median_ms", _get(r, "approve", "median"))
        fig.add("store_approve_p95_ms", _get(r, "approve", "p95"))
        details.setdefault("approve_core", []).append(r)
        shutil.rmtree(copy, ignore_errors=True)

    log(f"[{label}] bulk drop of {min(n, 100_000):,} selected rejected rows (core, then UI) x{repeat}")
    for k in range(repeat):
        copy = datagen.working_copy(project, tmp / f"drop-{label}-{k}")
        r = scenario("drop_core", copy)
        fig.add("drop_core_s", r.get("drop_s"))
        fig.add("bulk_reject_s", r.get("bulk_reject_s"))
        details.setdefault("drop_core", []).append(r)
        copy = datagen.working_copy(project, tmp / f"drop-{label}-{k}")
        r = scenario("drop_ui", copy)
        fig.add("drop_ui_ms", r.get("drop_ms"))
        fig.add("drop_confirm_ms", r.get("confirm_ms"))
        fig.add("drop_ui_first_ms", _get(r, "drop", "first_ms"))
        details.setdefault("drop_ui", []).append(r)
        shutil.rmtree(copy, ignore_errors=True)

    log(f"[{label}] Rejected view, grouped x{repeat}")
    for k in range(repeat):
        copy = datagen.working_copy(project, tmp / f"rej-{label}-{k}")
        r = scenario("rejected", copy)
        fig.add("rejected_open_ms", r.get("open_ms"))
        fig.add("rejected_open_after_reject_ms", r.get("open_after_reject_ms"))
        fig.add("rejected_open_first_ms", _get(r, "open", "first_ms"))
        fig.add("rejected_open_after_reject_first_ms", _get(r, "open_after_reject", "first_ms"))
        fig.add("rejected_core_groups_ms", r.get("core_groups_ms"))
        details.setdefault("rejected", []).append(r)
        shutil.rmtree(copy, ignore_errors=True)

    log(f"[{label}] brewslm-tui stats / check / export / compact x{repeat}")
    for k in range(repeat):
        exported = tmp / f"export-{label}.jsonl"
        for command, extra in (("stats", ()), ("check", ()), ("export", ("-o", str(exported)))):
            r = cli(command, str(project), *extra)
            fig.add(f"{command}_s", r["wall_s"] if r["ok"] else None)
            fig.add(f"{command}_peak_rss_mb", r["peak_rss_mb"] if r["ok"] else None)
        exported.unlink(missing_ok=True)
        copy = datagen.working_copy(project, tmp / f"compact-{label}-{k}")
        journaled = journal_some_decisions(copy)
        r = cli("compact", str(copy))
        fig.add("compact_s", r["wall_s"] if r["ok"] else None)
        fig.add("compact_peak_rss_mb", r["peak_rss_mb"] if r["ok"] else None)
        details.setdefault("compact", []).append(
            {"journaled": journaled, "stdout": r["stdout"][-300:], "peak_rss_mb": r["peak_rss_mb"]}
        )
        shutil.rmtree(copy, ignore_errors=True)

    if n > DATATABLE_MAX_ROWS:
        details["datatable"] = (
            f"not run above {DATATABLE_MAX_ROWS:,} rows (it took 2 minutes and 2 GB at 1M; it would not finish)"
        )
    else:
        dt_repeat = repeat if n <= 100_000 else 1
        log(f"[{label}] stock DataTable x{dt_repeat} (gives up after {DATATABLE_TIMEOUT:.0f} s)")
        reference_table(fig, details, "datatable", project, dt_repeat, quick)
        if dt_repeat < repeat:
            fig.notes["datatable_first_paint_s"] = "one run at this size (each takes minutes)"

    vd = shutil.which("vd") or str(Path(sys.executable).with_name("vd"))
    if Path(vd).exists():
        vd_repeat = repeat if n <= 1_000_000 else 1
        log(f"[{label}] visidata batch load x{vd_repeat}")
        for _ in range(vd_repeat):
            r = run_process(
                [vd, "-b", str(project / "data" / "synthetic.jsonl"), "-o", "/dev/null"],
                timeout=DATATABLE_TIMEOUT,
            )
            ok = r["returncode"] == 0 and not r["timed_out"]
            fig.add("visidata_load_s", r["wall_s"] if ok else f">{DATATABLE_TIMEOUT:.0f} (did not finish)")
            fig.add("visidata_peak_rss_mb", r["peak_rss_mb"] if ok else None)
    else:
        details["visidata"] = "not installed (pip install visidata, or the `bench` extra)"

    shutil.rmtree(tmp, ignore_errors=True)
    return {"rows": n, "figures": fig.summary(), "details": details}


# ------------------------------------------------------------------ generation
TEMPLATE_PLAYBOOK = """\
# Benchmark playbook: vocabularies large enough that 50k rows are unique (dedup keeps them).
description = "benchmark: many distinct template rows"
generator = "template"
count = 1000
seed = 5

[template]
prompt = "Classify the sentiment of this product review as positive, negative, neutral or mixed.\\n\\nReview: {text}"

[template.slots]
a = %(a)s
b = %(b)s
c = %(c)s
d = %(d)s

[[hard_cases]]
name = "bench"
weight = 1

[hard_cases.templates]
positive = ["The {a} {b}. {c} {d}", "Got the {a} and it {b}. {d} {c}"]
negative = ["The {a} {b}. {c} {d}", "Bought the {a}: it {b}. {d} {c}"]
neutral = ["The {a} {b}. {c} {d}", "Our {a} {b}. {c} {d}"]
mixed = ["The {a} {b}. {c} {d}", "My {a} {b}, and yet: {c} {d}"]
"""

OPENAI_PLAYBOOK = """\
description = "benchmark: an instant local chat-completions server"
generator = "openai"
count = 1000

[limits]
batch_rows = 25

[openai]
base_url = "%(url)s"
model = "instant"
concurrency = 64
retries = 0
timeout = 30.0
rows_per_request = 10
examples = 0
"""


def _vocab(words: tuple, n: int, salt: int) -> str:
    out = []
    for k in range(n):
        out.append(f"{words[k % len(words)]} #{salt}{k}")
    return json.dumps(out)


def generation_project(tmp: Path, url: str | None) -> Path:
    """A fresh copy of the sentiment sample with the benchmark playbooks."""
    project = tmp / "gen"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(datagen.SAMPLE, project, ignore=shutil.ignore_patterns(".brewslm"))
    write_bench_playbooks(project, url)
    return project


def write_bench_playbooks(project: Path, url: str | None) -> None:
    """bench-template (rows unique against any benchmark project) and, with a url, bench-openai."""
    vocab = {
        "a": _vocab(datagen._PRODUCTS, 60, 1),
        "b": _vocab(datagen._MIDDLES, 40, 2),
        "c": _vocab(datagen._TAILS, 50, 3),
        "d": _vocab(datagen._TAILS[::-1], 50, 4),
    }
    (project / "playbooks" / "bench-template.toml").write_text(TEMPLATE_PLAYBOOK % vocab)
    if url:
        (project / "playbooks" / "bench-openai.toml").write_text(OPENAI_PLAYBOOK % {"url": url})


def bench_generation(repeat: int, quick: bool, log) -> dict:
    fig = Figures()
    details: dict = {}
    tmp = work_dir()
    count = 2000 if quick else 50_000
    log(f"[generation] template generator, {count:,} rows x{repeat}")
    for _ in range(repeat):
        project = generation_project(tmp, None)
        r = scenario("generate", project, {"playbook": "bench-template", "count": count})
        fig.add("template_rows_per_s", r.get("landed_per_s"))
        details.setdefault("template", []).append(r)
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.instant_server"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None  # (stdout=PIPE)
        port = int(server.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        requests = 100 if quick else 2000
        log(f"[generation] openai generator vs an instant local server, {requests:,} requests x{repeat}")
        for _ in range(repeat):
            project = generation_project(tmp, url + "/v1")
            r = scenario(
                "generate", project, {"playbook": "bench-openai", "count": requests * 10, "server": url}
            )
            fig.add("openai_job_requests_per_s", r.get("requests_per_s"))
            fig.add("openai_job_rows_per_s", r.get("landed_per_s"))
            details.setdefault("openai_job", []).append(r)
            r = scenario(
                "openai_client", project, {"playbook": "bench-openai", "count": requests * 10, "server": url}
            )
            fig.add("openai_client_requests_per_s", r.get("requests_per_s"))
            details.setdefault("openai_client", []).append(r)
        try:
            shim = native.build("slow_fsync", bin_dir())
        except native.BuildError as error:
            details["openai_job_slow_fsync"] = f"not measured: {error}"
            log(f"[generation] slow fsync: not measured: {error}")
            shim = None
        if shim is not None:
            log(f"[generation] the same openai job with every fsync slowed by {SLOW_FSYNC_MS:g} ms x{repeat}")
            for _ in range(repeat):
                project = generation_project(tmp, url + "/v1")
                r = scenario(
                    "generate",
                    project,
                    {"playbook": "bench-openai", "count": requests * 10, "server": url},
                    env={"LD_PRELOAD": str(shim), "SLOW_FSYNC_MS": str(SLOW_FSYNC_MS)},
                )
                fig.add("openai_job_slow_fsync_requests_per_s", r.get("requests_per_s"))
                fig.add("slow_fsync_probe_ms", _get(r, "slow_fsync", "probe_ms"))
                fig.add("openai_job_slow_fsync_calls", _get(r, "slow_fsync", "calls_in_job"))
                details.setdefault("openai_job_slow_fsync", []).append(r)
    finally:
        server.kill()
        server.wait()
    shutil.rmtree(tmp, ignore_errors=True)
    return {"figures": fig.summary(), "details": details}


# ------------------------------------------------------------------ machine
def machine_info() -> dict:
    info: dict = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None
            )
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    info["ram_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        from importlib.metadata import version

        info["textual"] = version("textual")
        info["rich"] = version("rich")
        info["orjson"] = version("orjson")
        for package in ("visidata", "textual-fastdatatable", "pyarrow"):
            try:
                info[package] = version(package)
            except Exception:
                info[package] = None
    except Exception:
        pass
    with contextlib.suppress(OSError):
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    return info


def rss_launcher() -> dict:
    """Which launcher measures the children's peak RSS, and its floor (a /bin/true through it)."""
    _, name = launcher()
    true = shutil.which("true") or "/bin/true"
    return {"rss_launcher": name, "rss_floor_mb": run_process([true])["peak_rss_mb"]}


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def load_average_1m() -> float | None:
    load = load_average()
    return load[0] if load else None


# ------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default=None,
        help="comma-separated row counts, e.g. 10k,100k,1m (the default) or 100k,1m,5m (5m is opt-in: "
        "a 2.3 GB file, about 3 minutes to generate)",
    )
    parser.add_argument("--repeat", type=int, default=None, help="runs per figure (default 3; --quick: 1)")
    parser.add_argument("--quick", action="store_true", help="10k rows only, one run each, fewer keys")
    parser.add_argument(
        "--keys", type=int, default=None, help="keystrokes timed per kind (default 30; --quick: 4)"
    )
    parser.add_argument("--no-generation", action="store_true", help="skip the generation scenarios")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for latest.json / latest.md")
    parser.add_argument(
        "--force-background",
        action="store_true",
        help="open even a small project in the background-load mode, its swap held until 0.3 s after the "
        "first paint, so the swap-key figure exists at tiny sizes (the smoke test); not for real figures",
    )
    args = parser.parse_args(argv)
    sizes = [
        datagen.parse_size(s) for s in (args.sizes or ("10k" if args.quick else "10k,100k,1m")).split(",")
    ]
    repeat = args.repeat or (1 if args.quick else 3)
    started = time.time()

    def log(message: str) -> None:
        print(f"{time.time() - started:7.1f}s  {message}", file=sys.stderr, flush=True)

    results: dict = {
        "machine": machine_info(),
        "config": {"sizes": sizes, "repeat": repeat, "quick": args.quick, "keys": args.keys},
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
        "load_average_start": load_average(),
        "sizes": {},
        "generation": None,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    results["machine"].update(rss_launcher())
    try:
        for n in sizes:
            results["sizes"][datagen.size_label(n)] = bench_size(
                n,
                repeat,
                args.quick,
                args.keys or (4 if args.quick else 30),
                log,
                force_background=args.force_background,
            )
            results[f"load_average_after_{datagen.size_label(n)}"] = load_average()
            (args.out / "partial.json").write_text(
                json.dumps(results, indent=1, default=str) + "\n"
            )  # a crash keeps these
        if not args.no_generation:
            results["generation"] = bench_generation(repeat, args.quick, log)
    finally:
        drop_helpers()
    results["load_average_end"] = load_average()
    results["seconds"] = time.time() - started
    results["table"] = report.rows(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (args.out / "partial.json").unlink(missing_ok=True)
    markdown = report.markdown(results)
    (args.out / "latest.md").write_text(markdown)
    if args.out.resolve() == RESULTS.resolve():
        report.update_readme(Path(__file__).resolve().parent / "README.md", markdown)
    print(report.text(results))
    log(f"wrote {args.out / 'latest.json'} and {args.out / 'latest.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
