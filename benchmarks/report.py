"""The results table: each figure per size (median, min-max), the issue's target, met or missed."""

from __future__ import annotations

# (key, label, unit, {size: (op, target)})  op "<=" : lower is better, ">=" : higher is better
ROWS = [
    (
        "launch_cold_s",
        "launch to first interactive screen, cold (no column cache)",
        "s",
        {"100k": ("<=", 0.4), "1m": ("<=", 0.6)},
    ),
    (
        "launch_warm_s",
        "launch to first interactive screen, warm (column cache)",
        "s",
        {"100k": ("<=", 0.4), "1m": ("<=", 0.6)},
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
    (
        "complete_cold_s",
        "launch to complete counts and groups, cold",
        "s",
        {"100k": ("<=", 0.6), "1m": ("<=", 3.0)},
    ),
    (
        "keys_while_loading_p95_ms",
        "  cold: j to repaint p95 while the rest loads in the background",
        "ms",
        {},
    ),
    (
        "complete_warm_s",
        "launch to complete counts and groups, warm",
        "s",
        {"100k": ("<=", 0.6), "1m": ("<=", 3.0)},
    ),
    ("first_key_ms", "first key after first paint (j), to repaint settled", "ms", {}),
    (
        "key_cursor_p95_ms",
        "key to repaint p95: cursor (j/down), settled",
        "ms",
        {"100k": ("<=", 20), "1m": ("<=", 20)},
    ),
    ("key_cursor_first_p95_ms", "  same, first frame (row list moved)", "ms", {}),
    (
        "key_page_p95_ms",
        "key to repaint p95: pagedown, settled",
        "ms",
        {"100k": ("<=", 20), "1m": ("<=", 20)},
    ),
    ("key_page_first_p95_ms", "  same, first frame", "ms", {}),
    (
        "key_approve_p95_ms",
        "key to repaint p95: a (approve, durable), settled",
        "ms",
        {"100k": ("<=", 20), "1m": ("<=", 20)},
    ),
    ("key_approve_first_p95_ms", "  same, first frame", "ms", {}),
    (
        "key_reject_open_p95_ms",
        "key to repaint p95: x (the pane asks for the reason), settled",
        "ms",
        {"100k": ("<=", 20), "1m": ("<=", 20)},
    ),
    (
        "key_reject_pick_p95_ms",
        "key to repaint p95: reason key (reject, durable), settled",
        "ms",
        {"100k": ("<=", 20), "1m": ("<=", 20)},
    ),
    ("key_reject_pick_first_p95_ms", "  same, first frame", "ms", {}),
    ("key_space_p95_ms", "key to repaint p95: space (select), settled", "ms", {}),
    ("key_cursor_cpu_median_ms", "CPU time per cursor key (median)", "ms", {}),
    ("key_approve_cpu_median_ms", "CPU time per approve key (median)", "ms", {}),
    (
        "drop_core_s",
        "bulk-drop 100k selected rejected rows, durable (Store.drop)",
        "s",
        {"100k": ("<=", 0.25), "1m": ("<=", 0.25)},
    ),
    (
        "drop_ui_ms",
        "bulk-drop 100k in the UI: y in the confirm dialog to repaint",
        "ms",
        {"100k": ("<=", 250), "1m": ("<=", 250)},
    ),
    ("drop_ui_first_ms", "  same, first frame", "ms", {}),
    ("drop_confirm_ms", "  d (confirm dialog with per-reason counts) to repaint", "ms", {}),
    (
        "rejected_open_ms",
        "Rejected view (grouped): key 2 to repaint, right after launch",
        "ms",
        {"1m": ("<=", 300)},
    ),
    (
        "rejected_open_after_reject_ms",
        "Rejected view (grouped): key 2 after a reject in the Queue",
        "ms",
        {"1m": ("<=", 300)},
    ),
    ("rejected_open_first_ms", "  right after launch, first frame", "ms", {}),
    ("rejected_open_after_reject_first_ms", "  after a reject, first frame", "ms", {}),
    ("rejected_core_groups_ms", "  core: RowView(rejected).groups() from scratch", "ms", {}),
    (
        "anon_mb_cold",
        "anonymous memory after first paint, cold",
        "MB",
        {"100k": ("<=", 100), "1m": ("<=", 250)},
    ),
    (
        "anon_mb_warm",
        "anonymous memory after first paint, warm",
        "MB",
        {"100k": ("<=", 100), "1m": ("<=", 250)},
    ),
    ("peak_rss_mb_cold", "peak RSS of the launch process, cold", "MB", {}),
    ("stats_s", "brewslm-tui stats (whole process)", "s", {"100k": ("<=", 0.5), "1m": ("<=", 2.0)}),
    (
        "compact_s",
        "brewslm-tui compact (whole process, decisions journaled)",
        "s",
        {"100k": ("<=", 0.5), "1m": ("<=", 2.0)},
    ),
    (
        "vs_datatable_x",
        "vs stock DataTable, first paint (DataTable / ours cold)",
        "x",
        {"100k": (">=", 30), "1m": (">=", 150)},
    ),
    (
        "vs_visidata_x",
        "vs visidata load of the same file (visidata / ours cold)",
        "x",
        {"100k": (">=", 5), "1m": (">=", 15)},
    ),
    ("datatable_first_paint_s", "  stock DataTable: first paint", "s", {}),
    ("datatable_cursor_p95_ms", "  stock DataTable: cursor key to repaint p95", "ms", {}),
    ("datatable_anon_mb", "  stock DataTable: anonymous memory after first paint", "MB", {}),
    ("visidata_load_s", "  visidata: vd -b FILE -o /dev/null (whole process)", "s", {}),
    ("visidata_peak_rss_mb", "  visidata: peak RSS", "MB", {}),
]

GENERATION_ROWS = [
    (
        "template_rows_per_s",
        "template generator: usable rows landed per second (job: validation, dedup, appends)",
        "rows/s",
        (">=", 20000),
    ),
    (
        "openai_job_requests_per_s",
        "openai generator job vs instant local server, concurrency 64: requests/s",
        "req/s",
        (">=", 500),
    ),
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
    if any(isinstance(v, str) for v in runs):  # did not finish: a lower bound
        return {"median": None, "lower_bound": 300.0 / den, "min": None, "max": None}
    if num.get("median") is None:
        return None
    return {"median": num["median"] / den, "min": (num["min"] or 0) / den, "max": (num["max"] or 0) / den}


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


def _verdict(fig: dict | None, target) -> str:
    if target is None:
        return ""
    op, goal = target
    if not fig:
        return "not measured"
    value = fig.get("median")
    if value is None and fig.get("lower_bound") is not None:
        value = fig["lower_bound"]
    if value is None:
        return "not measured"
    if op == "<=":
        return "met" if value <= goal else f"MISSED ({value / goal:.1f}x over)"
    return "met" if value >= goal else f"MISSED ({goal / value:.1f}x short)" if value else "MISSED"


def rows(results: dict) -> list[dict]:
    """The table as data: one dict per figure with a cell, target and verdict per size."""
    sizes = list(results.get("sizes", {}))
    out = []
    for key, label, unit, targets in ROWS:
        row = {"figure": key, "label": label, "unit": unit, "sizes": {}}
        for size in sizes:
            figures = results["sizes"][size]["figures"]
            if key == "vs_datatable_x":
                fig = _ratio(figures, "datatable_first_paint_s", "launch_cold_s")
            elif key == "vs_visidata_x":
                fig = _ratio(figures, "visidata_load_s", "launch_cold_s")
            else:
                fig = figures.get(key)
            target = targets.get(size)
            row["sizes"][size] = {
                "value": fig,
                "cell": _cell(fig, unit),
                "target": f"{target[0]} {target[1]:g}" if target else "",
                "verdict": _verdict(fig, target),
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
                    "target": f"{target[0]} {target[1]:g}" if target else "",
                    "verdict": _verdict(fig, target),
                },
            }
        )
    return out


def _size_cells(row: dict, size: str) -> tuple[str, str]:
    cell = row["sizes"].get(size, {})
    value = cell.get("cell", "—")
    target = cell.get("target", "")
    verdict = cell.get("verdict", "")
    return value, (f"{target} {verdict}".strip() if target else "")


def markdown(results: dict) -> str:
    table = rows(results)
    sizes = list(results.get("sizes", {}))
    m = results.get("machine", {})
    lines = [
        "# brewslm-tui benchmark: latest results",
        "",
        f"Run {results.get('started')} on {m.get('cpu', '?')}, {m.get('cores')} cores, {m.get('ram_gb')} GB RAM; "
        f"Python {m.get('python')}, Textual {m.get('textual')}, visidata {m.get('visidata') or 'not installed'}; "
        f"commit {m.get('git_commit', '?')}. {results['config']['repeat']} run(s) per figure: median (min–max). "
        f"Load average at start {results.get('load_average_start')}, at end {results.get('load_average_end')} "
        "(the machine's 2 cores were shared with other work during the run).",
        "",
        "| figure | unit | " + " | ".join(f"{s} | target {s}" for s in sizes) + " |",
        "|---|---|" + "---|---|" * len(sizes),
    ]
    for row in table:
        if "sizes" not in row:
            continue
        cells = []
        for size in sizes:
            value, target = _size_cells(row, size)
            cells += [value, target]
        lines.append(f"| {row['label'].strip()} | {row['unit']} | " + " | ".join(cells) + " |")
    gen = [row for row in table if "generation" in row]
    if gen and results.get("generation"):
        lines += ["", "| generation | unit | value | target |", "|---|---|---|---|"]
        for row in gen:
            g = row["generation"]
            lines.append(
                f"| {row['label'].strip()} | {row['unit']} | {g['cell']} | {(g['target'] + ' ' + g['verdict']).strip()} |"
            )
    lines += [
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
    table = rows(results)
    sizes = list(results.get("sizes", {}))
    width = max(len(r["label"]) for r in table)
    out = []
    header = f"{'figure':<{width}}  {'unit':<6}" + "".join(f"  {s:>26}" for s in sizes)
    out.append(header)
    out.append("-" * len(header))
    for row in table:
        if "sizes" in row:
            cells = []
            for size in sizes:
                value, target = _size_cells(row, size)
                mark = "" if not target else (" ok" if target.endswith("met") else " !!")
                cells.append(f"  {value + mark:>26}")
            out.append(f"{row['label']:<{width}}  {row['unit']:<6}" + "".join(cells))
        else:
            g = row["generation"]
            out.append(
                f"{row['label']:<{width}}  {row['unit']:<6}  {g['cell']:>26}  {g['target']} {g['verdict']}"
            )
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
