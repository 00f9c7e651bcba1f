"""The jobs framework and the generation job: honest states, durable records, loud failures."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from brewslm_tui.core.errors import BrewError, ProjectError
from brewslm_tui.core.generation.jobs import (
    JobRecord,
    list_jobs,
    read_record,
    run_generation_job,
    run_job,
    save_record,
)
from tests.helpers import SENTIMENT_PLAYBOOK, make_project

REPO = Path(__file__).resolve().parents[3]

QA_TOO_LONG = """\
    description = "built to produce nothing usable: every answer is a paragraph"
    count = 20
    seed = 1
    [template.slots]
    thing = ["kettle", "lamp", "tent", "stove", "mug", "bag"]
    [[hard_cases]]
    name = "rambling"
    templates = [
      { text = "How long is the warranty on the {thing}?", answer = "Well, it depends on where you bought the {thing} and whether you registered it online within thirty days." },
      { text = "Can I return the {thing}?", answer = "Returns are possible in most cases, but please read the full policy because there are many exceptions to consider." },
    ]
    """

# A command playbook: the script prints N good rows (flushing), then waits for a file or sleeps.
SLOW_SCRIPT = """\
import json, os, sys, time
spec = json.loads(sys.stdin.readline())
open(os.environ["PIDFILE"], "w").write(str(os.getpid()))
for i in range(int(os.environ.get("FIRST", "10"))):
    print(json.dumps({"prompt": f"Review {i}: the lamp {i} is fine", "completion": spec["labels"][i % 4]}), flush=True)
time.sleep(float(os.environ.get("SLEEP", "60")))
for i in range(100, 200):
    print(json.dumps({"prompt": f"Review {i}: the mug {i} is fine", "completion": "neutral"}), flush=True)
"""


def command_playbook(script: Path, env: dict[str, str], count: int = 50, batch_rows: int = 5) -> str:
    env_lines = "\n".join(f'{k} = "{v}"' for k, v in env.items())
    return f"""\
        generator = "command"
        count = {count}
        [limits]
        batch_rows = {batch_rows}
        [command]
        argv = ["{{python}}", "{script}"]
        [command.env]
        {textwrap.indent(env_lines, "        ").strip()}
        """


def lines_of(path: Path) -> list[dict]:
    if not path.exists():
        return []
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n")
    return [orjson.loads(line) for line in data.splitlines()]


def wait_for(condition, what: str, limit: float = 30.0) -> None:
    """Wait for a condition of the outside world (a process, a file); not a speed assertion."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


async def test_a_playbook_whose_every_candidate_is_invalid_fails_loudly(tmp_path):
    project = make_project(tmp_path, "qa", playbooks={"rambling": QA_TOO_LONG})
    events = []
    record = await run_generation_job(project, "rambling", on_event=events.append)
    assert record.state == "failed"
    assert record.counts["usable"] == 0 and record.counts["landed"] == 0
    assert record.counts["by_cause"] == {"answer_too_long": record.counts["candidates"]}
    diag = record.diagnostic
    assert diag is not None and "answer_too_long" in diag.headline
    assert 1 <= len(diag.examples["answer_too_long"]) <= 3
    assert (
        "warranty" in diag.examples["answer_too_long"][0] or "return" in diag.examples["answer_too_long"][0]
    )
    text = record.diagnostic_text()
    assert "answer_too_long" in text and "e.g." in text and "at most 4 words" in text
    assert not project.synthetic_path.exists() or project.synthetic_path.read_bytes() == b""
    assert [e.kind for e in events][0] == "started" and events[-1].kind == "finished"
    assert events[-1].record.state == "failed"
    assert list_jobs(project)[0].state == "failed"


def test_the_cli_exits_1_with_the_diagnostic_on_stderr(tmp_path):
    project = make_project(tmp_path, "qa", playbooks={"rambling": QA_TOO_LONG})
    proc = subprocess.run(
        [sys.executable, "-m", "brewslm_tui", "generate", str(project.root), "--playbook", "rambling"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "answer_too_long" in proc.stderr and "e.g." in proc.stderr
    assert "failed" in proc.stdout
    assert not project.synthetic_path.exists() or project.synthetic_path.read_bytes() == b""
    jobs = subprocess.run(
        [sys.executable, "-m", "brewslm_tui", "jobs", str(project.root), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    listed = orjson.loads(jobs.stdout)
    assert listed[0]["state"] == "failed"
    for key in ("run_id", "playbook", "state", "counts", "started_at", "finished_at", "diagnostic"):
        assert key in listed[0]


CHILD = """\
import asyncio, sys
from brewslm_tui.core.project import load_project
from brewslm_tui.core.generation.jobs import run_generation_job
project = load_project(sys.argv[1])
asyncio.run(run_generation_job(project, "slow"))
"""


def test_a_job_killed_mid_run_shows_interrupted_and_keeps_its_rows(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text(SLOW_SCRIPT)
    pidfile = tmp_path / "gen.pid"
    project = make_project(tmp_path, playbooks={"slow": command_playbook(script, {"PIDFILE": str(pidfile)})})
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(project.root)], cwd=REPO)
    try:
        wait_for(lambda: len(lines_of(project.synthetic_path)) >= 10, "the first rows to land")
        wait_for(
            lambda: list_jobs(project) and list_jobs(project)[0].counts.get("landed") == 10,
            "the record to say so",
        )
        running = list_jobs(project)[0]
        assert running.state == "running" and running.pid == child.pid
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        kill_quietly(child.pid)
        if pidfile.exists():
            kill_quietly(int(pidfile.read_text()))
    record = list_jobs(project)[0]
    assert record.state == "interrupted"
    assert "killed or crashed" in record.diagnostic.headline and "10 rows" in record.diagnostic.headline
    rows = lines_of(project.synthetic_path)
    assert len(rows) == 10 and all(
        r["run_id"] == record.run_id and r["review_status"] == "pending" for r in rows
    )
    assert read_record(project, record.run_id).state == "interrupted"
    # the file on disk still says running (list_jobs shows, it does not rewrite)
    raw = orjson.loads((project.state_dir / "jobs" / f"{record.run_id}.json").read_bytes())
    assert raw["state"] == "running"


async def test_cancel_keeps_the_landed_rows_and_records_cancelled(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text(SLOW_SCRIPT)
    pidfile = tmp_path / "gen.pid"
    project = make_project(tmp_path, playbooks={"slow": command_playbook(script, {"PIDFILE": str(pidfile)})})
    cancel = asyncio.Event()

    def on_event(event):
        if event.kind == "rows_landed" and event.landed >= 10:
            cancel.set()

    record = await run_generation_job(project, "slow", cancel=cancel, on_event=on_event)
    assert record.state == "cancelled"
    assert record.counts["landed"] == 10 == len(lines_of(project.synthetic_path))
    assert "Cancelled" in record.diagnostic.headline
    assert list_jobs(project)[0].state == "cancelled"
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the command was stopped with the job


async def test_cancelling_the_task_saves_a_cancelled_record(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text(SLOW_SCRIPT)
    pidfile = tmp_path / "gen.pid"
    project = make_project(
        tmp_path,
        playbooks={"slow": command_playbook(script, {"PIDFILE": str(pidfile), "FIRST": "3"}, batch_rows=1)},
    )
    landed = asyncio.Event()
    task = asyncio.create_task(
        run_generation_job(project, "slow", on_event=lambda e: e.landed >= 3 and landed.set())
    )
    await landed.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    record = list_jobs(project)[0]
    assert record.state == "cancelled" and record.counts["landed"] == 3
    assert record.finished_at is not None


async def test_fewer_rows_than_requested_succeeds_with_a_note(tmp_path):
    small = """\
        count = 50
        [limits]
        max_failure_rate = 1.0
        max_candidates = 60
        [[hard_cases]]
        name = "few"
        [hard_cases.templates]
        positive = ["Lovely {x}."]
        negative = ["Awful {x}."]
        neutral = ["A {x}."]
        mixed = ["Nice {x}, bad {x}."]
        [hard_cases.slots]
        x = ["lamp", "mug", "tent"]
        """
    project = make_project(tmp_path, playbooks={"few": small})
    record = await run_generation_job(project, "few", seed=0)
    assert record.state == "succeeded"
    assert record.counts["landed"] == 12 == len(lines_of(project.synthetic_path))
    assert record.note and "Landed 12 of 50 requested rows" in record.note and "duplicates" in record.note
    assert "12 of 50" in record.summary()


async def test_the_failure_threshold_stops_a_run_early(tmp_path):
    script = tmp_path / "half.py"
    script.write_text(
        textwrap.dedent("""\
        import json
        for i in range(1000):
            label = "positive" if i % 3 == 0 else "great"
            print(json.dumps({"prompt": f"Review {i}: cool stuff", "completion": label}), flush=True)
        """)
    )
    project = make_project(
        tmp_path,
        playbooks={
            "half": f"""\
        generator = "command"
        count = 500
        [limits]
        max_failure_rate = 0.5
        min_candidates = 30
        [command]
        argv = ["{{python}}", "{script}"]
        """
        },
    )
    record = await run_generation_job(project, "half")
    assert record.state == "failed"
    assert record.counts["candidates"] == 30  # stopped at the first check, not after 1000
    assert record.diagnostic.headline.startswith("Stopped early: 20 of 30 attempts were not usable")
    assert record.counts["landed"] == 10 == len(lines_of(project.synthetic_path))
    assert record.diagnostic.examples["not_a_label"][0].endswith('-> "great"')


async def test_duplicates_of_imported_and_existing_rows_are_not_landed(tmp_path):
    project = make_project(tmp_path, playbooks={"hc": SENTIMENT_PLAYBOOK})
    first = await run_generation_job(project, "hc", count=20, seed=4)
    assert first.state == "succeeded"
    existing = lines_of(project.synthetic_path)
    # the same seed again: it starts with the same candidates, which repeat rows the project now has
    second = await run_generation_job(project, "hc", count=20, seed=4)
    assert second.counts["by_cause"].get("duplicate_synthetic", 0) >= 1
    new = [r for r in lines_of(project.synthetic_path) if r["run_id"] == second.run_id]
    assert {r["prompt"] for r in new}.isdisjoint({r["prompt"] for r in existing})
    imported = make_project(
        tmp_path / "imp",
        playbooks={"hc": SENTIMENT_PLAYBOOK},
        imported=[
            orjson.dumps({"prompt": r["prompt"].upper() + "!!", "completion": "x"}).decode() for r in existing
        ],
    )
    third = await run_generation_job(imported, "hc", count=5, seed=4)
    assert (
        third.counts["by_cause"].get("duplicate_imported", 0) >= 1
    )  # case and end punctuation do not matter
    assert not {r["prompt"] for r in lines_of(imported.synthetic_path)} & {r["prompt"] for r in existing}


async def test_like_regenerates_with_a_fresh_seed_and_run_id(tmp_path):
    project = make_project(tmp_path, playbooks={"hc": SENTIMENT_PLAYBOOK})
    first = await run_generation_job(project, "hc", count=12)
    again = await run_generation_job(project, None, like_run_id=first.run_id)
    assert again.run_id != first.run_id and again.playbook == "hc"
    assert again.params["like_run_id"] == first.run_id and again.params["count"] == 12
    assert again.params["seed"] != first.params["seed"]
    assert first.params["seed"] == 11  # the playbook's own seed
    with pytest.raises(BrewError, match="no job 'synth-nope'"):
        await run_generation_job(project, None, like_run_id="synth-nope")
    with pytest.raises(ProjectError, match="no playbook named"):
        await run_generation_job(project, "nope")


async def test_list_jobs_newest_first_and_stale_heartbeats_are_interrupted(tmp_path):
    project = make_project(tmp_path)
    now = datetime.now(UTC)
    stamp = lambda d: d.isoformat(timespec="seconds").replace("+00:00", "Z")  # noqa: E731
    save_record(
        project,
        JobRecord(
            run_id="synth-a", playbook="p", state="succeeded", started_at=stamp(now - timedelta(hours=2))
        ),
    )
    save_record(
        project,
        JobRecord(
            run_id="synth-b",
            playbook="p",
            state="running",
            pid=os.getpid(),
            started_at=stamp(now - timedelta(hours=1)),
            heartbeat_at=stamp(now - timedelta(minutes=10)),
        ),
    )
    save_record(
        project,
        JobRecord(
            run_id="synth-c",
            playbook="p",
            state="running",
            pid=os.getpid(),
            started_at=stamp(now),
            heartbeat_at=stamp(now),
        ),
    )
    (project.state_dir / "jobs" / "junk.json").write_text("{not json")
    jobs = list_jobs(project)
    assert [j.run_id for j in jobs] == ["synth-c", "synth-b", "synth-a"]
    assert [j.state for j in jobs] == ["running", "interrupted", "succeeded"]
    assert "no heartbeat" in jobs[1].diagnostic.headline


async def test_the_framework_runs_other_kinds_and_turns_errors_into_failed_records(tmp_path):
    project = make_project(tmp_path)

    async def train(ctx):
        ctx.counts["steps"] = 3
        ctx.emit("progress")

    async def broken(ctx):
        raise RuntimeError("boom")

    async def refused(ctx):
        raise BrewError("no GPU on this machine")

    ok = await run_job(project, "training", train, params={"epochs": 1})
    assert ok.state == "succeeded" and ok.run_id.startswith("training-") and ok.counts == {"steps": 3}
    bad = await run_job(project, "training", broken)
    assert bad.state == "failed" and "Internal error: RuntimeError: boom" in bad.diagnostic.headline
    no = await run_job(project, "evaluation", refused)
    assert no.state == "failed" and no.diagnostic.headline == "no GPU on this machine"
    assert {j.kind for j in list_jobs(project)} == {"training", "evaluation"}


async def test_record_json_has_the_documented_keys(tmp_path):
    project = make_project(tmp_path, playbooks={"hc": SENTIMENT_PLAYBOOK})
    record = await run_generation_job(project, "hc", count=5)
    data = record.to_json()
    for key in (
        "run_id",
        "kind",
        "playbook",
        "state",
        "counts",
        "started_at",
        "finished_at",
        "diagnostic",
        "rows_per_second",
        "pid",
    ):
        assert key in data
    assert orjson.loads((project.state_dir / "jobs" / f"{record.run_id}.json").read_bytes()) == data
    assert record.run_id.startswith("synth-" + datetime.now(UTC).strftime("%Y-%m-%d")[:4])
    assert record.summary().startswith(f"{record.run_id} (hc): succeeded, 5 of 5 rows landed")


async def test_an_invalid_playbook_is_refused_before_a_job_starts(tmp_path):
    project = make_project(tmp_path, playbooks={"bad": SENTIMENT_PLAYBOOK + "[balance]\nhappy = 1\n"})
    with pytest.raises(ProjectError) as info:
        await run_generation_job(project, "bad")
    assert str(info.value).startswith("playbooks/bad.toml: balance.happy: not a label of this project")
    assert list_jobs(project) == [] and not project.synthetic_path.exists()
