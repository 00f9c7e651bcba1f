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
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks import datagen, report

ROOT = datagen.ROOT
RESULTS = Path(__file__).resolve().parent / "results"
DATATABLE_TIMEOUT = 300.0  # the issue: give the stock DataTable five minutes, then say it did not finish
DEFAULT_TIMEOUT = 900.0


# ------------------------------------------------------------------ processes
def run_process(argv: list[str], *, timeout: float = DEFAULT_TIMEOUT, cwd: Path = ROOT) -> dict:
    """Run argv; wall time from just before the spawn to the reaped exit, peak RSS of the child."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        t0 = time.time()
        argv = [a.replace("{t0}", repr(t0)) for a in argv]
        proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd, env=env)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.time() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {
            "wall_s": wall,
            "returncode": proc.returncode,
            "timed_out": timed_out.is_set(),
            "peak_rss_mb": usage.ru_maxrss / 1024,
            "stdout": out.read().decode("utf-8", "replace"),
            "stderr": err.read().decode("utf-8", "replace"),
        }


def scenario(name: str, project: Path, opts: dict | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> dict:
    """One scenario in a fresh Python process; its JSON result (+ wall_s, peak_rss_mb of the process)."""
    argv = [sys.executable, "-m", "benchmarks.scenario", name, "--project", str(project), "--t0", "{t0}"]
    for key, value in (opts or {}).items():
        argv += ["--opt", f"{key}={value}"]
    proc = run_process(argv, timeout=timeout)
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
    """Per-run values of every figure; summarised as median, min, max."""

    def __init__(self) -> None:
        self.values: dict[str, list] = {}
        self.notes: dict[str, str] = {}

    def add(self, name: str, value) -> None:
        self.values.setdefault(name, []).append(value)

    def summary(self) -> dict:
        out = {}
        for name, values in self.values.items():
            xs = [v for v in values if isinstance(v, (int, float))]
            out[name] = {
                "median": statistics.median(xs) if xs else None,
                "min": min(xs) if xs else None,
                "max": max(xs) if xs else None,
                "runs": values,
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


# ------------------------------------------------------------------ scenarios per size
def bench_size(n: int, repeat: int, quick: bool, keys_n: int, log) -> dict:
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
        r = scenario("launch", project)
        fig.add("launch_cold_s", r.get("first_paint_s"))
        fig.add("complete_cold_s", r.get("counts_complete_s"))
        fig.add("launch_cold_cpu_s", r.get("cpu_s_at_first_paint"))
        fig.add("keys_while_loading_p95_ms", _get(r, "keys_while_loading", "p95"))
        fig.add("anon_mb_cold", _get(r, "memory_after_first_paint", "anon_mb"))
        fig.add("peak_rss_mb_cold", r.get("process_peak_rss_mb"))
        details.setdefault("launch_cold", []).append(r)
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

    log(f"[{label}] brewslm-tui stats / compact x{repeat}")
    for k in range(repeat):
        r = cli("stats", str(project))
        fig.add("stats_s", r["wall_s"] if r["ok"] else None)
        copy = datagen.working_copy(project, tmp / f"compact-{label}-{k}")
        journaled = journal_some_decisions(copy)
        r = cli("compact", str(copy))
        fig.add("compact_s", r["wall_s"] if r["ok"] else None)
        details.setdefault("compact", []).append(
            {"journaled": journaled, "stdout": r["stdout"][-300:], "peak_rss_mb": r["peak_rss_mb"]}
        )
        shutil.rmtree(copy, ignore_errors=True)

    dt_repeat = repeat if n <= 100_000 else 1
    log(f"[{label}] stock DataTable x{dt_repeat} (gives up after {DATATABLE_TIMEOUT:.0f} s)")
    for _ in range(dt_repeat):
        r = scenario("datatable", project, {"n": 4 if quick else 20}, timeout=DATATABLE_TIMEOUT)
        if r.get("timed_out"):
            fig.add("datatable_first_paint_s", f">{DATATABLE_TIMEOUT:.0f} (did not finish)")
        else:
            fig.add("datatable_first_paint_s", r.get("first_paint_s"))
            fig.add("datatable_cursor_p95_ms", _get(r, "cursor", "p95"))
            fig.add("datatable_page_p95_ms", _get(r, "page", "p95"))
            fig.add("datatable_anon_mb", _get(r, "memory_after_first_paint", "anon_mb"))
        details.setdefault("datatable", []).append(r)
    if dt_repeat < repeat:
        fig.notes["datatable_first_paint_s"] = "one run at this size (each takes minutes)"

    vd = shutil.which("vd") or str(Path(sys.executable).with_name("vd"))
    if Path(vd).exists():
        log(f"[{label}] visidata batch load x{repeat}")
        for _ in range(repeat):
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
    project = tmp / "gen"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(datagen.SAMPLE, project, ignore=shutil.ignore_patterns(".brewslm"))
    vocab = {
        "a": _vocab(datagen._PRODUCTS, 60, 1),
        "b": _vocab(datagen._MIDDLES, 40, 2),
        "c": _vocab(datagen._TAILS, 50, 3),
        "d": _vocab(datagen._TAILS[::-1], 50, 4),
    }
    (project / "playbooks" / "bench-template.toml").write_text(TEMPLATE_PLAYBOOK % vocab)
    if url:
        (project / "playbooks" / "bench-openai.toml").write_text(OPENAI_PLAYBOOK % {"url": url})
    return project


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
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                info["ram_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        from importlib.metadata import version

        info["textual"] = version("textual")
        info["rich"] = version("rich")
        info["orjson"] = version("orjson")
        try:
            info["visidata"] = version("visidata")
        except Exception:
            info["visidata"] = None
    except Exception:
        pass
    try:
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        pass
    return info


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# ------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default=None, help="comma-separated row counts, e.g. 10k,100k,1m (default: all three)"
    )
    parser.add_argument("--repeat", type=int, default=None, help="runs per figure (default 3; --quick: 1)")
    parser.add_argument("--quick", action="store_true", help="10k rows only, one run each, fewer keys")
    parser.add_argument(
        "--keys", type=int, default=None, help="keystrokes timed per kind (default 30; --quick: 4)"
    )
    parser.add_argument("--no-generation", action="store_true", help="skip the generation scenarios")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for latest.json / latest.md")
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
    for n in sizes:
        results["sizes"][datagen.size_label(n)] = bench_size(
            n, repeat, args.quick, args.keys or (4 if args.quick else 30), log
        )
        results[f"load_average_after_{datagen.size_label(n)}"] = load_average()
        (args.out / "partial.json").write_text(
            json.dumps(results, indent=1, default=str) + "\n"
        )  # a crash keeps these
    if not args.no_generation:
        results["generation"] = bench_generation(repeat, args.quick, log)
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
