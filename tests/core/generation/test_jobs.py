"""The jobs framework and the generation job: honest states, durable records, loud failures."""

from __future__ import annotations

import asyncio
import contextlib
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
from tests.helpers import run_cli as cli

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
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def kill_job(pid: int, pidfile: Path) -> None:
    """SIGKILL a job's process and the generator command it ran (its pid is in `pidfile`)."""
    kill_quietly(pid)
    if pidfile.exists():
        kill_quietly(int(pidfile.read_text()))


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
    assert next(e.kind for e in events) == "started" and events[-1].kind == "finished"
    assert events[-1].record.state == "failed"
    assert list_jobs(project)[0].state == "failed"


def test_the_cli_exits_1_with_the_diagnostic_on_stderr(tmp_path):
    project = make_project(tmp_path, "qa", playbooks={"rambling": QA_TOO_LONG})
    proc = cli("generate", str(project.root), "--playbook", "rambling")
    assert proc.returncode == 1, proc.stderr
    assert "answer_too_long" in proc.stderr and "e.g." in proc.stderr
    assert "failed" in proc.stdout
    assert not project.synthetic_path.exists() or project.synthetic_path.read_bytes() == b""
    jobs = cli("jobs", str(project.root), "--json")
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
        kill_job(child.pid, pidfile)
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


# --- jobs as processes: cancel, signals, follow, resume -------------------------------------------


def start_cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "brewslm_tui", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def slow_project(tmp_path: Path, **env: str):
    script = tmp_path / "slow.py"
    script.write_text(SLOW_SCRIPT)
    pidfile = tmp_path / "gen.pid"
    playbook = command_playbook(script, {"PIDFILE": str(pidfile), **env})
    return make_project(tmp_path, playbooks={"slow": playbook}), pidfile


def running_record(project, landed: int = 10):
    wait_for(
        lambda: (
            bool(list_jobs(project))
            and list_jobs(project)[0].state == "running"
            and list_jobs(project)[0].landed >= landed
        ),
        "the job to run and land its first rows",
    )
    return list_jobs(project)[0]


def test_brewslm_cancel_stops_a_job_of_another_process_as_the_users_cancel(tmp_path):
    project, pidfile = slow_project(tmp_path)
    job = start_cli("generate", str(project.root), "--playbook", "slow")
    try:
        record = running_record(project)
        done = cli("cancel", str(project.root), record.run_id)
        assert done.returncode == 0, done.stderr
        assert job.wait(timeout=60) == 1
    finally:
        kill_job(job.pid, pidfile)
    final = read_record(project, record.run_id)
    assert final.state == "cancelled"
    assert final.diagnostic.headline.startswith("Cancelled by the user (brewslm-tui cancel)")
    assert "10 rows" in final.diagnostic.headline and final.landed == 10
    assert "cancelled" in done.stdout
    assert not (project.state_dir / "jobs" / f"{record.run_id}.cancel").exists()
    again = cli("cancel", str(project.root), record.run_id)
    assert again.returncode == 1 and "not running (cancelled)" in again.stderr


@pytest.mark.parametrize(
    ("sig", "state", "words"),
    [
        (signal.SIGTERM, "interrupted", "Stopped by SIGTERM"),
        (signal.SIGHUP, "interrupted", "its terminal closed (SIGHUP)"),
        (signal.SIGINT, "cancelled", "Cancelled by the user (Ctrl-C)"),
    ],
)
def test_a_signal_is_recorded_as_what_it_was_not_as_the_users_cancel(tmp_path, sig, state, words):
    project, pidfile = slow_project(tmp_path)
    job = start_cli("generate", str(project.root), "--playbook", "slow")
    try:
        record = running_record(project)
        job.send_signal(sig)
        assert job.wait(timeout=60) == 1
    finally:
        kill_job(job.pid, pidfile)
    final = read_record(project, record.run_id)
    assert final.state == state and words in final.diagnostic.headline
    assert not any("bug" in advice for advice in final.diagnostic.advice)
    assert final.landed == 10 == len(lines_of(project.synthetic_path))


HELD_SCRIPT = """\
import json, os, sys, time
spec = json.loads(sys.stdin.readline())
for i in range(50):
    if i == 10:
        while not os.path.exists(os.environ["GO"]):
            time.sleep(0.01)
    print(json.dumps({"prompt": f"Review {i}: the lamp {i}", "completion": spec["labels"][i % 4]}), flush=True)
"""


def test_jobs_follow_prints_changes_and_ends_when_the_jobs_do(tmp_path):
    script, go = tmp_path / "held.py", tmp_path / "go"
    script.write_text(HELD_SCRIPT)
    project = make_project(tmp_path, playbooks={"held": command_playbook(script, {"GO": str(go)})})
    job = start_cli("generate", str(project.root), "--playbook", "held")
    try:
        running_record(project)
        follow = start_cli("jobs", str(project.root), "--follow")
        first = follow.stdout.readline()
        go.touch()
        rest, _ = follow.communicate(timeout=120)
        assert job.wait(timeout=60) == 0
    finally:
        kill_quietly(job.pid)
    lines = [first, *rest.splitlines()]
    assert follow.returncode == 0
    assert "running" in lines[0] and "succeeded, 50 of 50 rows landed" in lines[-1]
    idle = cli("jobs", str(project.root), "--follow")
    assert idle.returncode == 0 and idle.stdout.strip() == "no running jobs"


def test_resume_continues_an_interrupted_run_under_its_run_id_without_repeats(tmp_path):
    project, pidfile = slow_project(tmp_path)
    job = start_cli("generate", str(project.root), "--playbook", "slow")
    try:
        record = running_record(project)
        job.send_signal(signal.SIGKILL)
        job.wait(timeout=30)
    finally:
        kill_job(job.pid, pidfile)
    assert read_record(project, record.run_id).state == "interrupted"
    refused = cli("generate", str(project.root), "--resume", record.run_id, "--count", "5")
    assert refused.returncode == 2 and "no other settings" in refused.stderr
    resumed = cli("generate", str(project.root), "--resume", record.run_id, env={**os.environ, "SLEEP": "0"})
    assert resumed.returncode == 0, resumed.stderr
    final = read_record(project, record.run_id)
    rows = lines_of(project.synthetic_path)
    assert final.state == "succeeded" and final.landed == 50 == len(rows)
    assert {r["run_id"] for r in rows} == {record.run_id}
    assert len({r["id"] for r in rows}) == 50 and len({r["prompt"] for r in rows}) == 50
    assert final.params["resumed"] == 1 and final.started_at == record.started_at
    done = cli("generate", str(project.root), "--resume", record.run_id)
    assert done.returncode == 1 and "nothing to resume" in done.stderr


GATED_SCRIPT = """\
import json, os, sys, time
spec = json.loads(sys.stdin.readline())
open(os.environ["READY"] + str(os.getpid()), "w").close()
while not os.path.exists(os.environ["GO"]):
    time.sleep(0.01)
for i in range(40):
    print(json.dumps({"prompt": f"Review {i}: the same lamp", "completion": spec["labels"][i % 4]}), flush=True)
"""


def test_two_jobs_at_once_never_land_the_same_prompt_twice(tmp_path):
    """Both jobs index the project before either lands a row; the check at append time catches it."""
    script = tmp_path / "gated.py"
    script.write_text(GATED_SCRIPT)
    ready, go = tmp_path / "ready-", tmp_path / "go"
    playbook = command_playbook(script, {"READY": str(ready), "GO": str(go)}, count=40, batch_rows=3)
    project = make_project(tmp_path, playbooks={"gated": playbook})
    jobs = [start_cli("generate", str(project.root), "--playbook", "gated") for _ in range(2)]
    try:
        wait_for(lambda: len(list(tmp_path.glob("ready-*"))) == 2, "both jobs to have built their index")
        go.touch()
        results = [job.wait(timeout=120) for job in jobs]
    finally:
        for job in jobs:
            kill_quietly(job.pid)
    rows = lines_of(project.synthetic_path)
    assert len(rows) == 40 == len({r["prompt"] for r in rows}), "a prompt landed twice"
    records = list_jobs(project)
    assert sum(r.landed for r in records) == 40
    assert sum(r.counts["by_cause"].get("duplicate_synthetic", 0) for r in records) >= 40
    assert all(r.landed + r.counts["duplicates"] >= 40 for r in records), results


EFBIG_CHILD = """\
import resource, signal, sys
from brewslm_tui.cli import main
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, not a kill
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
sys.exit(main(sys.argv[2:]))
"""


def test_a_job_that_hits_a_write_error_says_so_and_counts_what_landed(tmp_path):
    """A real failing write (RLIMIT_FSIZE gives EFBIG), not a mock: the record tells the truth."""
    project = make_project(tmp_path, playbooks={"hc": SENTIMENT_PLAYBOOK + "[limits]\nbatch_rows = 20\n"})
    stale = project.state_dir / "jobs" / ".synth-old.json.999999999.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_text("{")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            EFBIG_CHILD,
            "12000",
            "generate",
            str(project.root),
            "--playbook",
            "hc",
            "--count",
            "400",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    record = list_jobs(project)[0]
    whole = project.synthetic_path.read_bytes().split(b"\n")[:-1]
    assert record.state == "failed"
    assert "File too large (EFBIG)" in record.diagnostic.headline
    assert str(project.synthetic_path) in record.diagnostic.headline
    assert f"The {len(whole)} rows that landed before it are kept" in record.diagnostic.headline
    assert record.landed == len(whole) > 0
    assert "Internal error" not in record.diagnostic.headline and "bug" not in " ".join(
        record.diagnostic.advice
    )
    assert "generate --resume" in " ".join(record.diagnostic.advice)
    assert not stale.exists()
    assert not list((project.state_dir / "jobs").glob(".*.tmp"))


async def test_the_record_is_rewritten_in_groups_not_once_per_batch(tmp_path, monkeypatch):
    from brewslm_tui.core.generation import job_runner

    writes: list[str] = []
    real = job_runner.save_record

    def counted(project, record):
        writes.append(record.state)
        real(project, record)

    monkeypatch.setattr(job_runner, "save_record", counted)
    # the keeper's period so long it never comes round during the job: every write left is one
    # the job asked for at once (no clock in the assertion: CI machines are noisy)
    monkeypatch.setattr(job_runner, "RECORD_SECONDS", 3600.0)
    monkeypatch.setattr(job_runner, "HEARTBEAT_SECONDS", 3600.0)
    text = SENTIMENT_PLAYBOOK + "[limits]\nbatch_rows = 1\n"
    project = make_project(tmp_path, playbooks={"hc": text})
    batches: list[int] = []
    record = await run_generation_job(
        project,
        "hc",
        count=40,
        seed=2,
        on_event=lambda e: batches.append(e.rows) if e.kind == "rows_landed" else None,
    )
    # several batches landed (group commit joins the rows that come while one is written, so not
    # 40), yet the record was written only when it must be: the first `running` record and the
    # final one (the keeper writes the rest in groups, at most every RECORD_SECONDS)
    assert record.state == "succeeded" and len(batches) >= 2 and sum(batches) == 40
    assert batches[0] == 1  # the first row lands alone (nothing was being written then)
    assert len(writes) <= 3, writes
    assert writes[0] == "running" and writes[-1] == "succeeded"
    on_disk = orjson.loads((project.state_dir / "jobs" / f"{record.run_id}.json").read_bytes())
    assert on_disk["state"] == "succeeded" and on_disk["counts"]["landed"] == 40


# --- the batch path -------------------------------------------------------------------------


def stand_in_batch_runner(requests: Path, output: Path, answer) -> int:
    """What vLLM's run_batch does with the file, in a few lines: one response per request."""
    n = 0
    with open(requests, "rb") as src, open(output, "wb") as out:
        for line in src:
            req = orjson.loads(line)
            assert set(req) == {"custom_id", "method", "url", "body"} and req["url"] == "/v1/chat/completions"
            content = answer(req["body"], n)
            body = {
                "id": f"chatcmpl-{n}",
                "object": "chat.completion",
                "model": req["body"]["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
            }
            out.write(
                orjson.dumps(
                    {
                        "id": f"batch_req_{n}",
                        "custom_id": req["custom_id"],
                        "response": {"status_code": 200, "request_id": f"r{n}", "body": body},
                        "error": None,
                    }
                )
                + b"\n"
            )
            n += 1
    return n


def openai_playbook_text(url: str = "http://127.0.0.1:9/v1", count: int = 30) -> str:
    return f"""\
        description = "reviews from a batch engine"
        generator = "openai"
        count = {count}
        instructions = "Write product reviews."
        [[hard_cases]]
        name = "sarcasm"
        description = "Sarcastic praise"
        [openai]
        base_url = "{url}"
        model = "test-model"
        rows_per_request = 10
        """


def good_rows(body: dict, n: int) -> str:
    labels = ["positive", "negative", "neutral", "mixed"]
    assert body["model"] == "test-model" and body["messages"][0]["role"] == "system"
    return orjson.dumps(
        [{"prompt": f"Batch review {n}-{i}: fine kettle", "completion": labels[i % 4]} for i in range(10)]
    ).decode()


def test_a_batch_file_run_by_an_engine_is_ingested_with_full_provenance(tmp_path):
    project = make_project(tmp_path, playbooks={"llm": openai_playbook_text(count=30)})
    requests, output = tmp_path / "requests.jsonl", tmp_path / "output.jsonl"
    wrote = cli("generate", str(project.root), "--playbook", "llm", "--batch-file", str(requests))
    assert wrote.returncode == 0, wrote.stderr
    run_id = wrote.stdout.splitlines()[0]
    waiting = read_record(project, run_id)
    assert waiting.state == "waiting" and waiting.params["batch_requests"] == 4
    assert not project.synthetic_path.exists()
    assert stand_in_batch_runner(requests, output, good_rows) == 4
    done = cli("ingest", str(project.root), run_id, str(output))
    assert done.returncode == 0, done.stderr
    record = read_record(project, run_id)
    rows = lines_of(project.synthetic_path)
    assert record.state == "succeeded" and record.landed == 30 == len(rows)
    for row in rows:
        assert row["run_id"] == run_id and row["playbook"] == "llm" and row["review_status"] == "pending"
        assert row["source"] and row["created_at"] and row["hard_case"] == "sarcasm"
    again = cli("ingest", str(project.root), run_id, str(output))
    assert again.returncode == 1 and "only a waiting" in again.stderr


def test_an_all_invalid_batch_output_fails_loudly_and_lands_nothing(tmp_path):
    project = make_project(tmp_path, playbooks={"llm": openai_playbook_text(count=20)})
    requests, output = tmp_path / "requests.jsonl", tmp_path / "output.jsonl"
    run_id = cli(
        "generate", str(project.root), "--playbook", "llm", "--batch-file", str(requests)
    ).stdout.split()[0]
    stand_in_batch_runner(
        requests,
        output,
        lambda body, n: orjson.dumps(
            [{"prompt": f"p{n}-{i}", "completion": "furious"} for i in range(10)]
        ).decode(),
    )
    with open(output, "ab") as f:
        f.write(b'{"custom_id": "someone-else-3", "response": {"status_code": 200, "body": {}}}\nnot json\n')
    done = cli("ingest", str(project.root), run_id, str(output))
    assert done.returncode == 1
    record = read_record(project, run_id)
    assert record.state == "failed" and record.landed == 0
    assert record.diagnostic.causes["not_a_label"] == 30 and record.diagnostic.causes["unparseable_line"] == 1
    assert "No usable rows" in record.diagnostic.headline and "not_a_label" in done.stderr
    assert not project.synthetic_path.exists() or lines_of(project.synthetic_path) == []


def test_batch_submits_to_a_server_with_files_and_batches_and_polls(tmp_path):
    """A small stand-in for /v1/files and /v1/batches (upload, create, two polls, download)."""
    import http.server
    import threading

    state: dict = {"polls": 0, "files": {}}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, obj, raw: bytes | None = None):
            data = raw if raw is not None else orjson.dumps(obj)
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/v1/files":
                assert self.headers["Content-Type"].startswith("multipart/form-data")
                payload = body.split(b"\r\n\r\n", 2)[2].rsplit(b"\r\n--", 1)[0]
                state["files"]["file-in"] = payload
                self._send({"id": "file-in", "object": "file", "purpose": "batch"})
            elif self.path == "/v1/batches":
                req = orjson.loads(body)
                assert req["input_file_id"] == "file-in" and req["endpoint"] == "/v1/chat/completions"
                src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
                src.write_bytes(state["files"]["file-in"])
                stand_in_batch_runner(src, out, good_rows)
                state["files"]["file-out"] = out.read_bytes()
                self._send({"id": "batch-1", "status": "validating"})

        def do_GET(self):
            if self.path == "/v1/batches/batch-1":
                state["polls"] += 1
                done = state["polls"] >= 2
                self._send(
                    {
                        "id": "batch-1",
                        "status": "completed" if done else "in_progress",
                        "output_file_id": "file-out" if done else None,
                        "request_counts": {"total": 4, "completed": 4 if done else 1},
                    }
                )
            elif self.path == "/v1/files/file-out/content":
                self._send(None, state["files"]["file-out"])

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        project = make_project(tmp_path, playbooks={"llm": openai_playbook_text(url, count=30)})
        from brewslm_tui.core.generation import batch

        record = asyncio.run(batch.run_batch_on_server(project, "llm", poll_seconds=0.05))
    finally:
        server.shutdown()
    assert record.state == "succeeded", record.summary()
    assert record.landed == 30 and record.params["batch_id"] == "batch-1" and state["polls"] == 2
    assert {r["run_id"] for r in lines_of(project.synthetic_path)} == {record.run_id}


def test_a_detached_job_that_cannot_start_fails_its_record_with_the_reason(tmp_path):
    """The app checks the playbook, then the process finds it gone: the record says why, from
    the process itself (--run-id) or, failing that, from the launcher's reaping."""
    from brewslm_tui.core.generation.job_control import log_path, record_start_failure, start_detached

    project = make_project(tmp_path, playbooks={"hc": SENTIMENT_PLAYBOOK})
    run_id, proc = start_detached(project, "hc", count=5)
    assert read_record(project, run_id).state in ("queued", "running", "succeeded")
    assert os.getsid(proc.pid) == proc.pid != os.getsid(0)  # a session of its own
    (project.playbooks_dir / "hc.toml").unlink()  # before the child has read it (it takes a while)
    proc.wait(timeout=120)
    record = read_record(project, run_id)
    if record.state == "succeeded":  # the child was faster than the unlink: nothing to check
        pytest.skip("the job read its playbook before it was removed")
    assert proc.returncode == 2 and record.state == "failed"
    assert (
        record.diagnostic.headline.startswith("The job could not start:")
        and "hc" in record.diagnostic.headline
    )
    assert "hc" in log_path(project, run_id).read_text()
    assert record_start_failure(project, run_id, proc) is None  # already failed: left alone


def test_io_errors_are_described_not_called_bugs():
    import errno

    from brewslm_tui.core.generation.job_runner import describe_os_error

    eio = describe_os_error(OSError(errno.EIO, "Input/output error", "/data/synthetic.jsonl"), 7)
    assert eio.headline == (
        "Could not write /data/synthetic.jsonl: Input/output error (EIO). "
        "The 7 rows that landed before it are kept and reviewable."
    )
    assert "dmesg" in eio.advice[0] and "bug" not in eio.advice[0]
    full = describe_os_error(OSError(errno.ENOSPC, "No space left on device"), 0)
    assert "(ENOSPC)" in full.headline and "generate --resume" in full.advice[0]


FULL_DISK_CHILD = """\
import resource, signal, sys
from brewslm_tui.core.project import load_project
from brewslm_tui.core.generation.job_record import Diagnostic, JobRecord, save_record
project = load_project(sys.argv[1])
record = JobRecord(run_id="synth-full", playbook="hc", state="running", counts={"landed": 5})
save_record(project, record)  # one block on disk
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # no file may grow past one block now
record.state, record.counts["landed"] = "failed", 60
record.diagnostic = Diagnostic(headline="Could not write: disk full", examples={"too_long": ["x" * 1500] * 3})
save_record(project, record)
"""


def test_a_record_too_big_for_a_full_disk_is_rewritten_in_its_own_block(tmp_path):
    """A real failing write (the temp file cannot grow past RLIMIT_FSIZE): the final state and
    counts still reach the record, in place, without the examples that did not fit."""
    project = make_project(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", FULL_DISK_CHILD, str(project.root)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    path = project.state_dir / "jobs" / "synth-full.json"
    record = JobRecord.model_validate(orjson.loads(path.read_bytes()))
    assert record.state == "failed" and record.landed == 60
    assert record.diagnostic.headline == "Could not write: disk full" and record.diagnostic.examples == {}
    assert path.stat().st_size == 4096 and not list(path.parent.glob(".*.tmp"))


def test_tokens_and_rates_reach_jobs_json_when_the_backend_reports_them(tmp_path):
    project = make_project(tmp_path)
    record = JobRecord(
        run_id="synth-tok",
        playbook="llm",
        state="succeeded",
        counts={"requested": 10, "landed": 10},
        elapsed_seconds=4.0,
        tokens_prompt=3000,
        tokens_completion=1000,
        requests=8,
        structured_mode="json_schema",
    )
    save_record(project, record)
    listed = orjson.loads(cli("jobs", str(project.root), "--json").stdout)[0]
    assert listed["tokens_prompt"] == 3000 and listed["tokens_completion"] == 1000
    assert listed["tokens_per_second"] == 1000.0 and listed["requests_per_second"] == 2.0
    assert listed["structured_mode"] == "json_schema"
    assert "4,000 tokens, 1,000 tokens/s, 2.0 requests/s" in record.summary()
    plain = JobRecord(run_id="synth-plain", state="succeeded")
    assert plain.to_json()["tokens_per_second"] is None and plain.rates_text() == ""


def test_a_batch_file_never_replaces_a_project_file(tmp_path):
    project = make_project(tmp_path, playbooks={"llm": openai_playbook_text(count=10)})
    project.synthetic_path.write_text("")
    for target in (
        project.synthetic_path,
        project.imported_path,
        project.file,
        project.playbooks_dir / "llm.toml",
    ):
        before = target.read_bytes()
        done = cli("generate", str(project.root), "--playbook", "llm", "--batch-file", str(target))
        assert done.returncode == 1 and "one of the project's own files" in done.stderr, target
        assert target.read_bytes() == before
    assert list_jobs(project) == []
