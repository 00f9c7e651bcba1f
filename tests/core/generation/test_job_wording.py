"""What a job says about its rows reads right for one row as for many ("The 1 rows landed" was
issue 11.7): every count next to its noun is in the right number."""

from __future__ import annotations

from brewslm_tui.core.generation.job_record import JobRecord, lost_text, rows_kept, seen_now
from brewslm_tui.core.generation.jobs import run_generation_job
from tests.helpers import make_project


def test_rows_kept_agrees_with_its_count():
    assert rows_kept(1, "it landed") == "The 1 row it landed is kept and reviewable."
    assert rows_kept(3, "it landed") == "The 3 rows it landed are kept and reviewable."
    assert rows_kept(1200, "it landed") == "The 1,200 rows it landed are kept and reviewable."
    assert rows_kept(0, "it landed") == "It landed no rows."
    assert lost_text({"invalid": 1, "duplicates": 1, "backend_errors": 1}) == (
        "1 invalid, 1 duplicate, 1 backend error"
    )


def test_an_interrupted_job_with_one_row_says_the_1_row():
    record = JobRecord(
        run_id="synth-2026-06-01-aaaa",
        playbook="p",
        state="running",
        pid=2**22 + 12345,  # no such process
        counts={"requested": 5, "landed": 1, "usable": 1},
    )
    diagnostic = seen_now(record).diagnostic
    assert diagnostic is not None
    headline = diagnostic.headline
    assert headline.endswith("The 1 row it recorded as landed is kept and reviewable.")
    assert "1 rows" not in headline


async def test_a_one_row_job_summary_is_singular(tmp_path):
    project = make_project(tmp_path, sample="sentiment")
    record = await run_generation_job(project, "hard-cases", count=1, seed=3)
    assert record.state == "succeeded"
    summary = record.summary()
    assert ", 1 of 1 row landed from 1 candidate" in summary, summary
    assert "1 rows" not in summary and "1 candidates" not in summary
