"""The benchmark runner runs end to end (`--quick` on 2k rows) and writes its results.

No timing is asserted (speed belongs in the benchmark's own report): only that every scenario
ran in its own process and that latest.json / latest.md have the figures the README promises.
"""

import json

from benchmarks import run


def test_quick_run_writes_results(tmp_path, monkeypatch, capsys):
    out = tmp_path / "results"
    code = run.main(["--quick", "--sizes", "2k", "--keys", "2", "--out", str(out)])
    assert code == 0
    results = json.loads((out / "latest.json").read_text())
    assert {"machine", "config", "sizes", "generation", "table"} <= set(results)
    assert {"cpu", "cores", "python", "textual"} <= set(results["machine"])
    figures = results["sizes"]["2k"]["figures"]
    for key in (
        "launch_cold_s",
        "launch_warm_s",
        "complete_warm_s",
        "key_cursor_p95_ms",
        "key_approve_p95_ms",
        "key_reject_pick_p95_ms",
        "key_page_p95_ms",
        "key_space_p95_ms",
        "drop_core_s",
        "drop_ui_ms",
        "rejected_open_ms",
        "anon_mb_warm",
        "stats_s",
        "compact_s",
        "datatable_first_paint_s",
    ):
        assert key in figures, key
        assert isinstance(figures[key]["median"], (int, float)), (key, figures[key])
    details = results["sizes"]["2k"]["details"]
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
    markdown = (out / "latest.md").read_text()
    assert "launch to first interactive screen" in markdown and "| 2k |" in markdown
    assert "launch to first interactive screen" in capsys.readouterr().out
