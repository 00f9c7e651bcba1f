"""The results table: each figure per size (median, min-max), the issue's target, met or missed."""

from __future__ import annotations

from typing import Any

SIZES_12 = ("100k", "1m", "5m")


def targets(op: str, *goals, issue: int = 12, sizes=SIZES_12) -> dict:
    """{size: (op, goal, issue)} for the sizes with a goal (None: no target at that size)."""
    return {size: (op, goal, issue) for size, goal in zip(sizes, goals, strict=False) if goal is not None}


def issue5(op: str, at_100k, at_1m) -> dict:
    """A target of issue 5 that issue 12 did not restate (shown as such)."""
    return targets(op, at_100k, at_1m, issue=5)


# (key, label, unit, {size: (op, goal, issue)})  op "<=": lower is better, ">=": higher is better.
# The targets are issue 12's "Targets" table; issue 5's stand where issue 12 says nothing.
ROWS = [
    (
        "launch_cold_s",
        "launch to first interactive screen, cold (no column cache)",
        "s",
        targets("<=", 0.4, 0.45, 0.5),
    ),
    (
        "launch_warm_s",
        "launch to first interactive screen, warm (column cache)",
        "s",
        targets("<=", 0.4, 0.45, 0.5),
    ),
    ("launch_cold_cpu_s", "  cold, CPU time of the process to first paint (load-independent)", "s", {}),
    ("launch_warm_cpu_s", "  warm, CPU time of the process to first paint", "s", {}),
    (
        "launch_warm_import_s",
        "  warm, process start to imports done (python + textual + app modules)",
        "s",
        {},
    ),
    ("launch_warm_store_open_s", "  warm, process start to store open (build_app returned)", "s", {}),
    ("complete_cold_s", "launch to complete counts and groups, cold", "s", issue5("<=", 0.6, 3.0)),
    ("complete_warm_s", "launch to complete counts and groups, warm", "s", issue5("<=", 0.6, 3.0)),
    (
        "keys_while_loading_p95_ms",
        "any key while the background load runs: j to repaint p95, cold",
        "ms",
        targets("<=", 20, 20, 20),
    ),
    (
        "swap_key_ms",
        "any key while the background load finishes: j during the swap to the full columns",
        "ms",
        targets("<=", 20, 20, 20),
    ),
    ("swap_ms", "  the swap itself (store.finish_loading, on the event loop)", "ms", {}),
    ("swap_deferred_parts", "  parts built after the first frame still pending at the swap", "parts", {}),
    ("first_key_ms", "first key after first paint (j), to repaint settled", "ms", {}),
    ("key_cursor_p95_ms", "key to repaint p95: cursor (j/down), settled", "ms", targets("<=", 8, 8, 8)),
    ("key_cursor_first_p95_ms", "  same, first frame (row list moved)", "ms", {}),
    ("key_page_p95_ms", "key to repaint p95: pagedown, settled", "ms", targets("<=", 8, 8, 8)),
    ("key_page_first_p95_ms", "  same, first frame", "ms", {}),
    (
        "key_approve_p95_ms",
        "key to repaint p95: a (approve, durable), settled",
        "ms",
        targets("<=", 12, 12, 12),
    ),
    ("key_approve_first_p95_ms", "  same, first frame", "ms", {}),
    (
        "key_reject_open_p95_ms",
        "key to repaint p95: x (the pane asks for the reason), settled",
        "ms",
        targets("<=", 12, 12, 12),
    ),
    (
        "key_reject_pick_p95_ms",
        "key to repaint p95: reason key (reject, durable), settled",
        "ms",
        targets("<=", 12, 12, 12),
    ),
    ("key_reject_pick_first_p95_ms", "  same, first frame", "ms", {}),
    ("key_space_p95_ms", "key to repaint p95: space (select), settled", "ms", {}),
    ("key_cursor_cpu_median_ms", "CPU time per cursor key (median)", "ms", {}),
    ("store_approve_median_ms", "core: store.approve of one row, durable (median)", "ms", {}),
    ("store_approve_p95_ms", "  same, p95", "ms", {}),
    ("key_approve_cpu_median_ms", "CPU time per approve key (median)", "ms", {}),
    (
        "drop_core_s",
        "bulk-drop 100k selected rejected rows, durable (Store.drop)",
        "s",
        issue5("<=", 0.25, 0.25),
    ),
    (
        "drop_ui_ms",
        "bulk-drop 100k in the UI: y in the confirm dialog to repaint",
        "ms",
        issue5("<=", 250, 250),
    ),
    ("drop_ui_first_ms", "  same, first frame", "ms", {}),
    ("drop_confirm_ms", "  d (confirm dialog with per-reason counts) to repaint", "ms", {}),
    (
        "rejected_open_ms",
        "Rejected view (grouped): key 2 to repaint, right after launch",
        "ms",
        targets("<=", None, 150, 300),
    ),
    (
        "rejected_open_after_reject_ms",
        "Rejected view (grouped): key 2 after a reject in the Queue",
        "ms",
        targets("<=", None, 150, 300),
    ),
    ("rejected_open_first_ms", "  right after launch, first frame", "ms", {}),
    ("rejected_open_after_reject_first_ms", "  after a reject, first frame", "ms", {}),
    ("rejected_core_groups_ms", "  core: RowView(rejected).groups() from scratch", "ms", {}),
    ("anon_mb_cold", "anonymous memory after first paint, cold", "MB", issue5("<=", 100, 250)),
    ("anon_mb_warm", "anonymous memory after first paint, warm", "MB", issue5("<=", 100, 250)),
    ("peak_rss_mb_cold", "peak RSS of the launch, cold (with the cache builder it reaps)", "MB", {}),
    ("own_peak_rss_mb_cold", "  the launch process alone (VmHWM)", "MB", {}),
    (
        "generate_first_row_s",
        "generate: job start to first rows landed (fsync'd), on this project",
        "s",
        targets("<=", 0.5, 0.5, 0.8),
    ),
    ("generate_first_row_process_s", "  same, from the process start", "s", {}),
    (
        "generate_first_row_index_build_s",
        "  same, the first job on a copied file (builds the prompt index)",
        "s",
        {},
    ),
    ("stats_s", "brewslm-tui stats (whole process)", "s", targets("<=", 0.3, 0.6, 3.0)),
    ("stats_peak_rss_mb", "  stats: peak RSS", "MB", {}),
    ("check_s", "brewslm-tui check (whole process)", "s", targets("<=", 0.3, 0.6, 3.0)),
    ("check_peak_rss_mb", "  check: peak RSS", "MB", {}),
    ("export_s", "brewslm-tui export -o FILE (whole process)", "s", targets("<=", 0.3, 0.6, 3.0)),
    ("export_peak_rss_mb", "  export: peak RSS", "MB", {}),
    (
        "compact_s",
        "brewslm-tui compact (whole process, decisions journaled)",
        "s",
        targets("<=", 0.35, 0.8, 4.0),
    ),
    ("compact_peak_rss_mb", "  compact: peak RSS", "MB", targets("<=", None, None, 300)),
    (
        "vs_fastdatatable_x",
        "vs textual-fastdatatable, first paint (fastdatatable / ours cold)",
        "x",
        targets(">=", 1.5, 8),
    ),
    ("fastdatatable_first_paint_s", "  textual-fastdatatable: first paint (pyarrow JSON read)", "s", {}),
    ("fastdatatable_cursor_p95_ms", "  textual-fastdatatable: cursor key to repaint p95", "ms", {}),
    ("fastdatatable_page_p95_ms", "  textual-fastdatatable: pagedown to repaint p95", "ms", {}),
    ("fastdatatable_anon_mb", "  textual-fastdatatable: anonymous memory after first paint", "MB", {}),
    ("fastdatatable_peak_rss_mb", "  textual-fastdatatable: peak RSS", "MB", {}),
    (
        "vs_datatable_x",
        "vs stock DataTable, first paint (DataTable / ours cold)",
        "x",
        issue5(">=", 30, 150),
    ),
    ("datatable_first_paint_s", "  stock DataTable: first paint", "s", {}),
    ("datatable_cursor_p95_ms", "  stock DataTable: cursor key to repaint p95", "ms", {}),
    ("datatable_anon_mb", "  stock DataTable: anonymous memory after first paint", "MB", {}),
    (
        "vs_visidata_x",
        "vs visidata load of the same file (visidata / ours cold)",
        "x",
        issue5(">=", 5, 15),
    ),
    ("visidata_load_s", "  visidata: vd -b FILE -o /dev/null (whole process)", "s", {}),
    ("visidata_peak_rss_mb", "  visidata: peak RSS", "MB", {}),
]

RATIOS = {  # figure: (the peer's time, ours)
    "vs_fastdatatable_x": ("fastdatatable_first_paint_s", "launch_cold_s"),
    "vs_datatable_x": ("datatable_first_paint_s", "launch_cold_s"),
    "vs_visidata_x": ("visidata_load_s", "launch_cold_s"),
}

GENERATION_ROWS = [
    (
        "template_rows_per_s",
        "template generator: usable rows landed per second (job: validation, dedup, appends)",
        "rows/s",
        (">=", 20000, 5),
    ),
    (
        "openai_job_requests_per_s",
        "openai generator job vs instant local server, concurrency 64: requests/s",
        "req/s",
        (">=", 2000, 12),
    ),
    (
        "openai_job_slow_fsync_requests_per_s",
        "same job, every fsync slowed by 4 ms (LD_PRELOAD shim): requests/s",
        "req/s",
        (">=", 1000, 12),
    ),
    ("slow_fsync_probe_ms", "  one fsync under the shim (it is slowed)", "ms", None),
    ("openai_job_slow_fsync_calls", "  fsync calls in that job", "calls", None),
    (
        "openai_client_requests_per_s",
        "  openai generator alone (no validation/landing): requests/s",
        "req/s",
        None,
    ),
    ("openai_job_rows_per_s", "  openai job: rows landed per second", "rows/s", None),
]


def _ratio(figures: dict, numerator: str, denominator: str):
    num = figures.get(numerator, {})
    den = figures.get(denominator, {}).get("median")
    if not den:
        return None
    runs = num.get("runs") or []
    load = (num.get("load") or []) + (figures.get(denominator, {}).get("load") or [])
    if any(isinstance(v, str) for v in runs):  # did not finish: a lower bound
        return {"median": None, "lower_bound": 300.0 / den, "min": None, "max": None, "load": load}
    if num.get("median") is None:
        return None
    return {
        "median": num["median"] / den,
        "min": (num["min"] or 0) / den,
        "max": (num["max"] or 0) / den,
        "load": load,
    }


def _fmt(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    if unit in ("ms", "x"):
        return f"{value:.1f}" if value < 100 else f"{value:.0f}"
    return f"{value:,.0f}"


def _cell(fig: dict | None, unit: str) -> str:
    if not fig:
        return "—"
    if fig.get("lower_bound") is not None:
        return f">{_fmt(fig['lower_bound'], unit)} (did not finish)"
    runs = fig.get("runs") or []
    if fig.get("median") is None:
        text = next((v for v in runs if isinstance(v, str)), None)
        return text or "—"
    if fig.get("min") is not None and fig.get("max") is not None and fig["min"] != fig["max"]:
        return f"{_fmt(fig['median'], unit)} ({_fmt(fig['min'], unit)}–{_fmt(fig['max'], unit)})"
    return _fmt(fig["median"], unit)


def _load(fig: dict | None) -> str:
    """The 1-minute load average while the figure's runs were taken: one value or a range."""
    loads = [x for x in (fig or {}).get("load") or [] if isinstance(x, (int, float))]
    if not loads:
        return ""
    low, high = min(loads), max(loads)
    return f"{low:.2f}" if low == high else f"{low:.2f}–{high:.2f}"


def _target(target) -> str:
    if target is None:
        return ""
    op, goal, issue = target
    return f"{op} {goal:g}" + (f" (issue {issue})" if issue != 12 else "")


def _verdict(fig: dict | None, target) -> str:
    if target is None:
        return ""
    op, goal, _ = target
    if not fig:
        return "not measured"
    value = fig.get("median")
    if value is None and fig.get("lower_bound") is not None:
        value = fig["lower_bound"]
    if value is None:
        return "not measured"
    if op == "<=":
        return "met" if value <= goal else f"MISSED ({_by(value / goal)} over)"
    return "met" if value >= goal else f"MISSED ({_by(goal / value)} short)" if value else "MISSED"


def _by(ratio: float) -> str:
    """How far off a missed target is: a percentage under 2x (1.05x reads as 1.0x), else a factor."""
    return f"{(ratio - 1) * 100:.0f}%" if ratio < 2 else f"{ratio:.1f}x"


def rows(results: dict) -> list[dict]:
    """The table as data: one dict per figure with a cell, target and verdict per size."""
    sizes = list(results.get("sizes", {}))
    out = []
    for key, label, unit, goals in ROWS:
        row: dict[str, Any] = {"figure": key, "label": label, "unit": unit, "sizes": {}}
        for size in sizes:
            figures = results["sizes"][size]["figures"]
            fig = _ratio(figures, *RATIOS[key]) if key in RATIOS else figures.get(key)
            target = goals.get(size)
            row["sizes"][size] = {
                "value": fig,
                "cell": _cell(fig, unit),
                "target": _target(target),
                "verdict": _verdict(fig, target),
                "load": _load(fig),
            }
        out.append(row)
    generation = (results.get("generation") or {}).get("figures") or {}
    for key, label, unit, target in GENERATION_ROWS:
        fig = generation.get(key)
        out.append(
            {
                "figure": key,
                "label": label,
                "unit": unit,
                "generation": {
                    "value": fig,
                    "cell": _cell(fig, unit),
                    "target": _target(target),
                    "verdict": _verdict(fig, target),
                    "load": _load(fig),
                },
            }
        )
    return out


def _size_cells(row: dict, size: str) -> tuple[str, str, str]:
    """(value, target and verdict, load average) of one figure at one size."""
    cell = row["sizes"].get(size, {})
    target = cell.get("target", "")
    verdict = cell.get("verdict", "")
    return cell.get("cell", "—"), (f"{target} {verdict}".strip() if target else ""), cell.get("load", "")


NOISY_LOAD = 1.5  # the run itself keeps about one core busy; above this, something else was running


def _noisy(table: list[dict]) -> str:
    """A closing line: how many figures were taken on a busy machine (issue 12: repeat those)."""
    cells = [c for row in table for c in (row.get("sizes") or {"": row.get("generation")}).values() if c]
    measured = [c for c in cells if c.get("load")]
    busy = [c for c in measured if max(float(x) for x in c["load"].split("–")) > NOISY_LOAD]
    if not busy:
        return f"Every figure was taken at a 1-minute load average of {NOISY_LOAD:g} or less."
    return (
        f"{len(busy)} of {len(measured)} figures were taken at a 1-minute load average above {NOISY_LOAD:g} "
        "(other work shared the cores): repeat them on a quiet machine before judging a target."
    )


def _heading(results: dict) -> str:
    m = results.get("machine", {})
    return (
        f"Run {results.get('started')} on {m.get('cpu', '?')}, {m.get('cores')} cores, {m.get('ram_gb')} GB RAM; "
        f"Python {m.get('python')}, Textual {m.get('textual')}, visidata {m.get('visidata') or 'not installed'}, "
        f"textual-fastdatatable {m.get('textual-fastdatatable') or 'not installed'}; "
        f"commit {m.get('git_commit', '?')}. {results['config']['repeat']} run(s) per figure: median (min–max); "
        "load = the 1-minute load average when each run ended (min–max over the runs). "
        f"Load average at start {results.get('load_average_start')}, at end {results.get('load_average_end')}. "
        f"Peak RSS: each child's own, spawned through {m.get('rss_launcher', '?')} "
        f"(floor: /bin/true reports {m.get('rss_floor_mb') or 0:.1f} MB)."
    )


def markdown(results: dict) -> str:
    table = rows(results)
    sizes = list(results.get("sizes", {}))
    lines = [
        "# brewslm-tui benchmark: latest results",
        "",
        _heading(results),
        "",
        "| figure | unit | " + " | ".join(f"{s} | target {s} | load" for s in sizes) + " |",
        "|---|---|" + "---|---|---|" * len(sizes),
    ]
    for row in table:
        if "sizes" not in row:
            continue
        cells = [part for size in sizes for part in _size_cells(row, size)]
        lines.append(f"| {row['label'].strip()} | {row['unit']} | " + " | ".join(cells) + " |")
    gen = [row for row in table if "generation" in row]
    if gen and results.get("generation"):
        lines += ["", "| generation | unit | value | target | load |", "|---|---|---|---|---|"]
        for row in gen:
            g = row["generation"]
            lines.append(
                f"| {row['label'].strip()} | {row['unit']} | {g['cell']} | "
                f"{(g['target'] + ' ' + g['verdict']).strip()} | {g['load']} |"
            )
    lines += [
        "",
        _noisy(table),
        "",
        "Settled = the last frame caused by the key (the whole screen, detail pane included); "
        "first frame = the first repaint after the key. See benchmarks/README.md for the method.",
        "",
    ]
    return "\n".join(lines)


BEGIN, END = "<!-- latest results: written by benchmarks/run.py -->", "<!-- end of latest results -->"


def update_readme(readme, markdown_table: str) -> None:
    """Put the latest table into the README between the markers (after the markers' first line)."""
    text_ = readme.read_text()
    if BEGIN not in text_ or END not in text_:
        return
    head, rest = text_.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    body = markdown_table.split("\n", 2)[2] if markdown_table.startswith("# ") else markdown_table
    readme.write_text(head + BEGIN + "\n" + body.strip() + "\n" + END + tail)


def text(results: dict) -> str:
    """The table for the terminal: one block per size, each figure beside its target and the load."""
    table = rows(results)
    width = max(len(r["label"]) for r in table)
    out = [_heading(results)]

    def line(label: str, unit: str, value: str, target: str, load: str, mark: str | None = None) -> str:
        if mark is None:
            mark = "" if not target else ("ok" if target.endswith("met") else "!!")
        load = f"load {load}" if load else ""
        return f"{label:<{width}}  {unit:<6}  {value:>24}  {mark:2}  {target:<38}  {load}".rstrip()

    header = line("figure", "unit", "median (min–max)", "target", "", mark="")
    for size in results.get("sizes", {}):
        out += ["", f"== {size} rows ==", header]
        out += [line(r["label"], r["unit"], *_size_cells(r, size)) for r in table if "sizes" in r]
    if results.get("generation"):
        out += ["", "== generation ==", header]
        for row in table:
            if "generation" in row:
                g = row["generation"]
                target = f"{g['target']} {g['verdict']}".strip()
                out.append(line(row["label"], row["unit"], g["cell"], target, g["load"]))
    out += ["", _noisy(table)]
    return "\n".join(out)


if __name__ == "__main__":  # re-render latest.md and the README table from latest.json
    import json
    from pathlib import Path

    here = Path(__file__).resolve().parent
    results = json.loads((here / "results" / "latest.json").read_text())
    results["table"] = rows(results)
    (here / "results" / "latest.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    table = markdown(results)
    (here / "results" / "latest.md").write_text(table)
    update_readme(here / "README.md", table)
    print(text(results))
