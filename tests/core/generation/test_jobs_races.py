"""Two processes on one run: a run is claimed for the time it runs, and a record read before
another process resumed or ingested it is never acted on (it would overwrite what that one did)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.generation.batch import BatchOutputGenerator, ingest_batch_output, write_batch_file
from brewslm_tui.core.generation.jobs import list_jobs, read_record, run_generation_job
from brewslm_tui.core.store.locking import FileLock
from tests.core.generation.test_jobs import good_rows, lines_of, openai_playbook_text, stand_in_batch_runner
from tests.helpers import make_project


def batch_run(tmp_path, count: int = 20):
    project = make_project(tmp_path, playbooks={"llm": openai_playbook_text(count=count)})
    requests, output = tmp_path / "requests.jsonl", tmp_path / "output.jsonl"
    record = write_batch_file(project, "llm", requests)
    stand_in_batch_runner(requests, output, good_rows)
    return project, record, output


def test_a_record_read_before_another_ingest_landed_the_run_is_refused(tmp_path):
    """Process B read the `waiting` record, then process A ingested the whole output: B's
    ingest must not run a second round that rewrites A's `succeeded, 20 landed` record as
    `failed, 0 landed, 20 duplicates`."""
    project, stale, output = batch_run(tmp_path)
    done = asyncio.run(ingest_batch_output(project, stale.run_id, output))
    assert done.state == "succeeded" and done.landed == 20
    before = record_bytes(project, stale.run_id)

    def reader(request):
        return BatchOutputGenerator(request, output, stale.run_id, 3)

    with pytest.raises(BrewError, match="changed since"):
        asyncio.run(run_generation_job(project, "llm", resume=stale, generator=reader, early_stop=False))
    assert record_bytes(project, stale.run_id) == before
    assert read_record(project, stale.run_id).landed == 20 == len(lines_of(project.synthetic_path))


def test_a_run_another_process_is_running_cannot_be_started_again(tmp_path):
    """The claim a running job holds (an flock: it dies with its process) refuses a second
    round of the same run, whatever its caller checked before."""
    project, record, output = batch_run(tmp_path)
    holder = FileLock(project.state_dir / "jobs" / f"{record.run_id}.claim", "a run")
    holder.acquire()
    try:
        with pytest.raises(BrewError, match="already being run"):
            asyncio.run(ingest_batch_output(project, record.run_id, output))
    finally:
        holder.release()
    assert read_record(project, record.run_id).state == "waiting"
    assert not project.synthetic_path.exists() or lines_of(project.synthetic_path) == []
    assert asyncio.run(ingest_batch_output(project, record.run_id, output)).landed == 20


def record_bytes(project, run_id: str) -> bytes:
    return (project.state_dir / "jobs" / f"{run_id}.json").read_bytes()


def test_an_answer_to_a_request_the_batch_never_had_is_not_landed(tmp_path):
    """custom_id RUN-99 of a 3-request batch is not one of its requests (a hostile or
    mixed-up output file): a backend error, none of its rows land."""
    project, record, output = batch_run(tmp_path)
    assert record.params["batch_requests"] == 3
    with open(output, "wb") as f:
        for index in (0, 99):
            content = good_rows({"model": "test-model", "messages": [{"role": "system"}]}, index)
            body = {"choices": [{"message": {"content": content}}]}
            answer = {"custom_id": f"{record.run_id}-{index}", "response": {"status_code": 200, "body": body}}
            f.write(orjson.dumps(answer) + b"\n")
    done = asyncio.run(ingest_batch_output(project, record.run_id, output))
    assert done.landed == 10 and done.counts["backend_errors"] == 1
    assert done.diagnostic is not None and "is not one of the 3 requests" in (
        done.diagnostic.last_backend_error or ""
    )
    assert not [row for row in lines_of(project.synthetic_path) if "review 99-" in row["prompt"]]


@pytest.mark.parametrize("at", [0, 250, 270, 285])
def test_a_batch_server_echoing_the_key_in_an_error_never_shows_any_of_it(at):
    """The error body is cut to a few hundred bytes for the message: the key is scrubbed
    before the cut, and a cut-off start of it (8+ characters) is scrubbed too."""
    import http.server
    import threading

    from brewslm_tui.core.generation.batch import BatchServer

    key = "sk-test-0123456789abcdefghijklmnopqrstuvwxyz"

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = (b"x" * at + self.headers["Authorization"].encode() + b" rejected").ljust(600, b"y")
            self.send_response(401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(BrewError) as failed:
            BatchServer(f"http://127.0.0.1:{server.server_port}/v1", key, timeout=30).status("b1")
    finally:
        server.shutdown()
        server.server_close()
    message = str(failed.value)
    assert "HTTP 401" in message
    assert not any(key[i : i + 8] in message for i in range(len(key) - 7)), message


def test_a_batch_that_could_not_be_submitted_says_its_run_and_can_be_submitted_again(tmp_path):
    """`generate --batch` with the server down: the run is recorded `waiting` (its requests
    written); the error names it and how to submit it again, and `--resume RUN --batch` does."""
    from brewslm_tui.core.generation.batch import run_batch_on_server

    project = make_project(tmp_path, playbooks={"llm": openai_playbook_text("http://127.0.0.1:9/v1")})
    with pytest.raises(BrewError) as failed:
        asyncio.run(run_batch_on_server(project, "llm", poll_seconds=0.05))
    [record] = list_jobs(project)
    assert record.state == "waiting" and "batch_id" not in record.params
    message = str(failed.value)
    assert "cannot reach" in message and record.run_id in message and "--resume" in message
    with pytest.raises(BrewError) as again:
        asyncio.run(run_batch_on_server(project, None, resume_run_id=record.run_id, poll_seconds=0.05))
    assert "cannot reach" in str(again.value), again.value  # it tried to submit it again
    assert [r.run_id for r in list_jobs(project)] == [record.run_id]


def test_cancelling_a_batch_being_polled_stops_the_poll_and_nothing_is_ingested(tmp_path):
    """`cancel` of a run `generate --batch` is waiting on: it used to mark the record
    cancelled at once while the poller went on, then ingested the batch anyway (a cancelled
    run with rows). Now the poller is asked through the cancel file and ends the run itself."""
    import http.server
    import threading

    from brewslm_tui.core.generation.batch import run_batch_on_server
    from tests.helpers import run_cli as cli

    polls = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, obj):
            data = orjson.dumps(obj)
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self._send({"id": "file-in" if self.path == "/v1/files" else "batch-1", "status": "validating"})

        def do_GET(self):
            polls.set()
            self._send({"id": "batch-1", "status": "in_progress", "output_file_id": "file-out"})

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    outcome: dict = {}
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        project = make_project(tmp_path, playbooks={"llm": openai_playbook_text(url, count=20)})

        def poll() -> None:
            try:
                outcome["record"] = asyncio.run(run_batch_on_server(project, "llm", poll_seconds=0.05))
            except BaseException as exc:  # reported by the assertion below
                outcome["error"] = exc

        poller = threading.Thread(target=poll)
        poller.start()
        assert polls.wait(60)
        [record] = list_jobs(project)
        done = cli("cancel", str(project.root), record.run_id)
        poller.join(60)
    finally:
        server.shutdown()
        server.server_close()
    assert not poller.is_alive() and "error" not in outcome, outcome
    final = read_record(project, record.run_id)
    assert done.returncode == 0, done.stderr
    assert final.state == "cancelled" and outcome["record"].state == "cancelled"
    assert final.landed == 0 and not project.synthetic_path.exists()


def test_cancelling_a_waiting_run_another_process_is_ingesting_asks_it_to_stop(tmp_path):
    """The waiting record is not rewritten under the ingest that claimed the run (it would
    overwrite its `running` record): the cancel file asks that process instead."""
    from brewslm_tui.core.generation.job_control import request_cancel
    from brewslm_tui.core.generation.job_runner import cancel_path

    project, record, _output = batch_run(tmp_path)
    holder = FileLock(project.state_dir / "jobs" / f"{record.run_id}.claim", "a run")
    holder.acquire()
    try:
        request_cancel(project, record.run_id)
    finally:
        holder.release()
    assert read_record(project, record.run_id).state == "waiting"
    assert cancel_path(project, record.run_id).exists()


def test_odd_files_among_the_job_records_are_skipped_not_waited_on(tmp_path):
    """An untrusted project's `.brewslm/jobs/` with a FIFO and a dangling symlink named like
    records: `jobs` lists the real ones (a FIFO used to block it forever), `cancel` of one
    says plainly it is not a record."""
    import os

    from tests.helpers import run_cli as cli

    project, record, _output = batch_run(tmp_path)
    jobs = project.state_dir / "jobs"
    os.mkfifo(jobs / "synth-fifo.json")
    (jobs / "synth-dangling.json").symlink_to(tmp_path / "nowhere")
    assert [r.run_id for r in list_jobs(project)] == [record.run_id]
    listed = cli("jobs", str(project.root), timeout=60)
    assert listed.returncode == 0 and record.run_id in listed.stdout, listed.stderr
    done = cli("cancel", str(project.root), "synth-fifo", timeout=60)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "not a regular file" in done.stderr
