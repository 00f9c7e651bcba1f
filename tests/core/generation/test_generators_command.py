"""The command generator with real scripts: JSONL on stdout, stderr tail, exit status, stopping."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from brewslm_tui.core.errors import ProjectError
from brewslm_tui.core.generation.jobs import list_jobs, run_generation_job
from tests.helpers import landed_rows as landed
from tests.helpers import make_project


def script_playbook(tmp_path, body: str, *, count: int = 10, argv_extra: str = "", extra: str = "") -> str:
    script = tmp_path / "gen.py"
    script.write_text(textwrap.dedent(body))
    return f"""\
description = "my own generator"
generator = "command"
count = {count}
{extra}
[command]
argv = ["{{python}}", "{script}"{argv_extra}]
"""


MIXED_OUTPUT = """\
    import json, os, sys
    spec = json.loads(sys.stdin.readline())
    assert spec == json.loads(os.environ["BREWSLM_TASK_SPEC"])
    labels = spec["labels"]
    print("starting up", file=sys.stderr)
    for i in range(6):  # good rows, with an extra field and a label in another case
        print(json.dumps({"prompt": f"Review {i}: the tent kept us dry", "completion": labels[i % 4].upper(),
                          "seed_used": spec["seed"], "review_status": "approved"}), flush=True)
    print(json.dumps({"prompt": "Review x: fine", "completion": "happy"}))        # not a label
    print(json.dumps({"prompt": "", "completion": "positive"}))                   # empty prompt
    print(json.dumps({"prompt": "Review 0: the tent kept us dry", "completion": "positive"}))  # repeat
    print(json.dumps({"prompt": "Review \\u001b[2J: hi", "completion": "neutral"}))  # control chars
    print("Loading checkpoint shards: 100%")                                       # garbage
    print("[1, 2, 3]")                                                             # JSON, not an object
    print("")
    print("done", file=sys.stderr)
    """


async def test_good_rows_bad_rows_and_garbage_are_sorted_out(tmp_path):
    project = make_project(tmp_path, playbooks={"mine": script_playbook(tmp_path, MIXED_OUTPUT)})
    record = await run_generation_job(project, "mine", seed=42)
    assert record.state == "succeeded", record.diagnostic_text()
    rows = landed(project)
    assert [r["completion"] for r in rows] == [
        "positive",
        "negative",
        "neutral",
        "mixed",
        "positive",
        "negative",
    ]
    assert all(r["seed_used"] == 42 for r in rows)  # extra fields land; the spec reached the script
    assert all(
        r["review_status"] == "pending" and r["source"] == "synth_playbook" for r in rows
    )  # provenance wins
    assert record.counts["by_cause"] == {
        "not_a_label": 1,
        "empty_prompt": 1,
        "duplicate_in_run": 1,
        "control_chars": 1,
        "unparseable_line": 2,
    }
    assert record.counts["candidates"] == 10 and record.counts["usable"] == 6
    assert record.note and "Landed 6 of 10" in record.note
    assert record.diagnostic.examples["unparseable_line"] == ["Loading checkpoint shards: 100%", "[1, 2, 3]"]
    assert record.diagnostic.backend_output == "starting up\ndone"


async def test_placeholders_and_environment_reach_the_command(tmp_path):
    body = """\
        import json, os, sys
        n, seed = int(sys.argv[1]), sys.argv[2]
        assert os.environ["BREWSLM_COUNT"] == str(n) and os.environ["BREWSLM_SEED"] == seed
        assert os.path.samefile(os.getcwd(), os.environ["BREWSLM_PROJECT"])
        assert os.environ["MY_SETTING"] == "on"
        for i in range(n):
            print(json.dumps({"prompt": f"seed {seed} row {i}", "completion": "neutral"}))
        """
    text = (
        script_playbook(tmp_path, body, count=7, argv_extra=', "{count}", "{seed}"', extra="")
        + '[command.env]\nMY_SETTING = "on"\n'
    )
    project = make_project(tmp_path, playbooks={"mine": text})
    record = await run_generation_job(project, "mine", seed=3)
    assert record.state == "succeeded", record.diagnostic_text()
    assert [r["prompt"] for r in landed(project)] == [f"seed 3 row {i}" for i in range(7)]


async def test_a_non_zero_exit_fails_the_job_with_the_stderr_tail(tmp_path):
    body = """\
        import json, sys
        for i in range(3):
            print(json.dumps({"prompt": f"Review {i}: nice", "completion": "positive"}), flush=True)
        for i in range(50):
            print(f"loading layer {i}", file=sys.stderr)
        print("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", file=sys.stderr)
        sys.exit(3)
        """
    project = make_project(tmp_path, playbooks={"mine": script_playbook(tmp_path, body)})
    record = await run_generation_job(project, "mine")
    assert record.state == "failed"
    headline = record.diagnostic.headline
    assert "exited with status 3" in headline and "CUDA out of memory" in headline
    tail = record.diagnostic.backend_output.splitlines()
    assert (
        tail[-1].startswith("torch.cuda.OutOfMemoryError") and "loading layer 0" not in tail
    )  # the tail only
    assert len(landed(project)) == 3 == record.counts["landed"]  # what landed before the crash stays


async def test_a_command_that_cannot_run_is_refused_before_a_job_starts(tmp_path):
    script = tmp_path / "gen.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    os.chmod(script, 0o755)
    project = make_project(
        tmp_path, playbooks={"mine": f'generator = "command"\n[command]\nargv = ["{script}"]\n'}
    )
    os.chmod(script, 0o644)
    with pytest.raises(
        ProjectError, match=r"playbooks/mine.toml: command.argv\[0\]: .*gen.sh is not executable"
    ):
        await run_generation_job(project, "mine")
    script.unlink()
    with pytest.raises(ProjectError, match="no such file"):
        await run_generation_job(project, "mine")
    assert list_jobs(project) == []


async def test_the_command_is_stopped_when_enough_rows_landed(tmp_path):
    pidfile = tmp_path / "pid"
    body = f"""\
        import json, os, itertools
        open({str(pidfile)!r}, "w").write(str(os.getpid()))
        for i in itertools.count():
            print(json.dumps({{"prompt": f"Review {{i}}: grand", "completion": "positive"}}), flush=True)
        """
    project = make_project(tmp_path, playbooks={"mine": script_playbook(tmp_path, body, count=25)})
    record = await run_generation_job(project, "mine")
    assert record.state == "succeeded" and record.counts["landed"] == 25 == len(landed(project))
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)


async def test_a_command_that_prints_nothing_usable_fails(tmp_path):
    body = """\
        for i in range(100):
            print(f"INFO step {i}")
        """
    project = make_project(tmp_path, playbooks={"mine": script_playbook(tmp_path, body, count=50)})
    record = await run_generation_job(project, "mine")
    assert record.state == "failed" and record.counts["landed"] == 0
    assert "unparseable_line" in record.diagnostic.headline
    assert "one JSON object per line on stdout" in record.diagnostic_text()
    assert (
        json.loads(json.dumps(record.to_json()))["diagnostic"]["examples"]["unparseable_line"][0]
        == "INFO step 0"
    )


async def test_a_command_over_its_time_limit_is_stopped_and_fails(tmp_path):
    pidfile = tmp_path / "pid"
    body = f"""\
        import json, os, time
        open({str(pidfile)!r}, "w").write(str(os.getpid()))
        print(json.dumps({{"prompt": "Review: fine", "completion": "neutral"}}), flush=True)
        time.sleep(60)
        """
    text = script_playbook(tmp_path, body, count=5).replace("argv = [", "timeout = 0.5\nargv = [")
    project = make_project(tmp_path, playbooks={"mine": text})
    record = await run_generation_job(project, "mine")
    assert record.state == "failed"
    assert "longer than its time limit (0.5 s, command.timeout)" in record.diagnostic.headline
    assert record.counts["landed"] == 1  # the row it printed in time still landed
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)
