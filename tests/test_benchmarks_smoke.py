"""The benchmark runner runs end to end (`--quick` on 2k rows) and writes its results.

No timing is asserted (speed belongs in the benchmark's own report): only that every scenario
ran in its own process, that latest.json / latest.md have the figures the README promises, each
beside its target and load average, and that a child's peak RSS is its own.
"""

import importlib.util
import json
import shutil
import sys

import pytest

from benchmarks import native, report, run


def test_quick_run_writes_results(tmp_path, capsys):
    out = tmp_path / "results"
    code = run.main(["--quick", "--sizes", "2k", "--keys", "2", "--force-background", "--out", str(out)])
    assert code == 0
    results = json.loads((out / "latest.json").read_text())
    assert {"machine", "config", "sizes", "generation", "table"} <= set(results)
    assert {"cpu", "cores", "python", "textual", "rss_launcher", "rss_floor_mb"} <= set(results["machine"])
    figures = results["sizes"]["2k"]["figures"]
    expected = [
        "launch_cold_s",
        "launch_warm_s",
        "complete_warm_s",
        "keys_while_loading_p95_ms",
        "swap_key_ms",  # a key pressed during the swap to the full columns (forced at 2k)
        "key_cursor_p95_ms",
        "key_approve_p95_ms",
        "key_reject_pick_p95_ms",
        "key_page_p95_ms",
        "key_space_p95_ms",
        "store_approve_median_ms",
        "drop_core_s",
        "drop_ui_ms",
        "rejected_open_ms",
        "anon_mb_warm",
        "own_peak_rss_mb_cold",
        "generate_first_row_s",
        "generate_first_row_process_s",
        "stats_s",
        "check_s",
        "export_s",
        "compact_s",
        "stats_peak_rss_mb",
        "check_peak_rss_mb",
        "export_peak_rss_mb",
        "compact_peak_rss_mb",
        "datatable_first_paint_s",
    ]
    details = results["sizes"]["2k"]["details"]
    if importlib.util.find_spec("textual_fastdatatable"):
        expected += [
            "fastdatatable_first_paint_s",
            "fastdatatable_cursor_p95_ms",
            "fastdatatable_page_p95_ms",
        ]
    else:
        assert "not installed" in details["fastdatatable"]
    for key in expected:
        assert key in figures, key
        assert isinstance(figures[key]["median"], (int, float)), (key, figures[key])
        assert figures[key]["load"], key  # the load average beside every run
    failed = [
        (name, r.get("error"))
        for name, runs in details.items()
        if isinstance(runs, list)
        for r in runs
        if isinstance(r, dict) and r.get("ok") is False
    ]
    assert not failed
    generation = results["generation"]["figures"]
    for key in ("template_rows_per_s", "openai_job_requests_per_s", "openai_client_requests_per_s"):
        assert generation[key]["median"] > 0, key
    if shutil.which("gcc") or shutil.which("cc"):
        assert generation["openai_job_slow_fsync_requests_per_s"]["median"] > 0
        assert generation["openai_job_slow_fsync_calls"]["median"] > 0
        assert generation["slow_fsync_probe_ms"]["median"] >= 4.0  # a lower bound: the shim's sleep
    else:
        assert "not measured" in results["generation"]["details"]["openai_job_slow_fsync"]
    markdown = (out / "latest.md").read_text()
    assert "launch to first interactive screen" in markdown and "| 2k |" in markdown
    assert "launch to first interactive screen" in capsys.readouterr().out


@pytest.mark.parametrize("use_c", [True, False], ids=["c-launcher", "python-launcher"])
def test_child_peak_rss_excludes_the_runner(use_c):
    """A child started while the runner holds 400 MB reports its own peak, not the runner's
    (ru_maxrss of a plain fork+exec child starts at the parent's RSS)."""
    if use_c and not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no C compiler")
    true = shutil.which("true")
    false = shutil.which("false")
    assert true and false
    ballast = b"x" * (400 << 20)  # written, so resident
    try:
        if not use_c:
            run._BIN["launcher"] = ([sys.executable, "-S", "-c", native.PY_LAUNCHER], "python -S launcher")
        ok = run.run_process([true])
        failed = run.run_process([false])
        big = run.run_process([sys.executable, "-c", "b = b'y' * (200 << 20)"])
    finally:
        run.drop_helpers()
    assert len(ballast) == 400 << 20
    assert ok["returncode"] == 0 and failed["returncode"] == 1
    assert ok["peak_rss_mb"] < 50, ok
    assert 200 <= big["peak_rss_mb"] < 380, big  # its own 200 MB, without the runner's 400


def test_table_puts_each_figure_beside_its_target_and_load():
    """The issue-12 targets per size, the verdict, and the load average beside every figure."""
    fig = {"median": 0.42, "min": 0.41, "max": 0.5, "runs": [0.41, 0.42, 0.5], "load": [0.3, 0.9, 0.5]}
    results = {
        "started": "now",
        "config": {"repeat": 3},
        "machine": {},
        "sizes": {
            "100k": {"figures": {"launch_cold_s": fig, "swap_key_ms": dict(fig, median=25.0)}},
            "5m": {"figures": {"compact_peak_rss_mb": dict(fig, median=280.0)}},
        },
        "generation": {"figures": {"openai_job_slow_fsync_requests_per_s": dict(fig, median=1200.0)}},
    }
    text = report.text(results)
    launch = next(
        line for line in text.splitlines() if line.startswith("launch to first interactive screen, cold")
    )
    assert "<= 0.4 MISSED (5% over)" in launch and "load 0.30–0.90" in launch
    swap = next(line for line in text.splitlines() if "during the swap" in line)
    assert "<= 20 MISSED" in swap
    assert ">= 1000 met" in text and "<= 300 met" in text
    assert "Every figure was taken at a 1-minute load average of 1.5 or less" in text
    markdown = report.markdown(results)
    assert "| target 100k | load |" in markdown and "0.30–0.90" in markdown
    results["sizes"]["100k"]["figures"]["launch_cold_s"] = dict(fig, load=[0.4, 3.2])
    assert "1 of 4 figures were taken at a 1-minute load average above 1.5" in report.text(results)


def test_without_a_compiler_the_helpers_say_so(tmp_path, monkeypatch):
    """No gcc: the slow-disk shim is a clear BuildError (the figure says "not measured") and the
    RSS launcher falls back to the python one, which still runs children and reports their peak."""
    monkeypatch.setattr(native.shutil, "which", lambda name: None)
    with pytest.raises(native.BuildError, match="no C compiler"):
        native.build("slow_fsync", tmp_path)
    prefix, name = native.launcher(tmp_path)
    assert prefix[:2] == [sys.executable, "-S"] and "python" in name
