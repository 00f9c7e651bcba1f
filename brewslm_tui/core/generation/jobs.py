"""The jobs API in one import: records, running, stopping, and the generation job.

Where each part lives (one concept a module):
- `job_record`: the record file, its states, reading and listing (`interrupted` when the
  process is gone), temp-file cleanup;
- `job_runner`: `run_job` (record keeper, heartbeat, events, stop requests, failures);
- `job_control`: jobs as detached processes, cancel, follow;
- `generation_job`: `run_generation_job` (validate, dedup, land rows, judge the run);
- `batch`: the OpenAI Batch path (write requests, ingest output, submit and poll).
"""

from __future__ import annotations

from brewslm_tui.core.generation.generation_job import OtherWriters, resumable_record, run_generation_job
from brewslm_tui.core.generation.job_record import (
    FINAL_STATES,
    JOB_STATES,
    Diagnostic,
    JobRecord,
    JobState,
    clean_stale_temps,
    iso,
    jobs_dir,
    list_jobs,
    read_record,
    save_record,
    utc_now,
)
from brewslm_tui.core.generation.job_runner import JobContext, JobEvent, Stop, run_job

__all__ = [
    "FINAL_STATES",
    "JOB_STATES",
    "Diagnostic",
    "JobContext",
    "JobEvent",
    "JobRecord",
    "JobState",
    "OtherWriters",
    "Stop",
    "clean_stale_temps",
    "iso",
    "jobs_dir",
    "list_jobs",
    "read_record",
    "resumable_record",
    "run_generation_job",
    "run_job",
    "save_record",
    "utc_now",
]
