"""Cluster-scale runs on a batch engine: the OpenAI Batch file format, out and back in.

`write_batch_file` writes a run's requests as OpenAI Batch input (one
`{"custom_id", "method", "url", "body"}` a line, each body the request the live `openai`
generator would send, built by that generator) and records the run as `waiting`. Any engine
that reads the format can run it: a hosted Batch API, or vLLM's offline runner on a cluster
(`python -m vllm.entrypoints.openai.run_batch -i requests.jsonl -o output.jsonl --model M`).

`ingest_batch_output` reads the engine's output (one `{"custom_id", "response": {"status_code",
"body"}, "error"}` a line) and lands the rows as the run itself, through the same generation
job as a live run: validation, dedup, provenance, diagnostics, and a loud failure when
nothing is usable. `run_batch_on_server` does both against a server that offers `/v1/files`
and `/v1/batches`: upload, create, poll, download, ingest.

The custom_id is `<run_id>-<request index>`: the index gives back the hard case the request
was built for (the generator builds request `i` the same way every time from the run's seed).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson

from brewslm_tui.core.errors import BrewError
from brewslm_tui.core.generation.generation_job import (
    example_rows,
    generation_params,
    new_counts,
    pick_seed,
    run_generation_job,
)
from brewslm_tui.core.generation.generators import (
    RAW_KEEP,
    BackendError,
    Generator,
    GenRequest,
    Issue,
    Item,
)
from brewslm_tui.core.generation.job_record import (
    Diagnostic,
    JobRecord,
    iso,
    read_record,
    save_record,
    utc_now,
)
from brewslm_tui.core.generation.job_runner import (
    JobEvent,
    Stop,
    cancel_path,
    claim,
    discard_cancel,
    new_run_id,
    read_reason,
)
from brewslm_tui.core.generation.playbooks import Playbook, get_playbook
from brewslm_tui.core.project import Project
from brewslm_tui.core.text import truncate, without_secret

BATCH_OVERSHOOT = 1.25  # requests for this share more rows than asked: some will not be usable
ENDPOINT = "/v1/chat/completions"
POLL_SECONDS = 10.0
CANCEL_LOOK_SECONDS = 0.5  # how often a poller looks for a cancel file between polls
DONE = frozenset({"completed", "failed", "expired", "cancelled"})


def _openai_generator(project: Project, book: Playbook, count: int, seed: int) -> Any:
    """The live path's generator, for its request builder and reply parser."""
    from brewslm_tui.core.generation.generators.openai import OpenAIGenerator

    if book.generator != "openai" or book.openai is None:
        raise BrewError(
            f"playbooks/{book.path.name}: a batch run needs an `openai` playbook (this one uses {book.generator!r})"
        )
    return OpenAIGenerator(GenRequest(project, book, count, seed, example_rows(project, seed)))


def batch_requests(book: Playbook, count: int) -> int:
    assert book.openai is not None
    return max(1, math.ceil(count * BATCH_OVERSHOOT / book.openai.rows_per_request))


def write_batch_file(
    project: Project,
    playbook: str,
    out: Path,
    *,
    count: int | None = None,
    seed: int | None = None,
    run_id: str | None = None,
) -> JobRecord:
    """Write the run's requests to `out` (atomically) and record the run as `waiting`."""
    out = Path(out)
    refuse_project_file(project, out)
    book = get_playbook(project, playbook)
    count = count or book.count
    seed = pick_seed(book, seed)
    generator = _openai_generator(project, book, count, seed)
    run_id = run_id or new_run_id(project, "generation")
    total = batch_requests(book, count)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            for index in range(total):
                _case, body = generator.request_body(index)
                line = {
                    "custom_id": f"{run_id}-{index}",
                    "method": "POST",
                    "url": ENDPOINT,
                    "body": orjson.Fragment(body),
                }
                f.write(orjson.dumps(line) + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise BrewError(f"cannot write {out}: {exc.strerror or exc}") from None
    params = generation_params(project, book, count, seed) | {
        "batch_file": str(out.resolve()),
        "batch_requests": total,
    }
    record = JobRecord(
        run_id=run_id,
        playbook=book.name,
        state="waiting",
        counts=new_counts(count),
        params=params,
        started_at=iso(utc_now()),
        note=f"Waiting for a batch engine: {total} requests in {out}; then `brewslm-tui ingest PROJECT {run_id} OUTPUT.jsonl`.",
    )
    save_record(project, record)
    return record


def refuse_project_file(project: Project, out: Path) -> None:
    """A batch file never replaces one of the project's own files (data, playbooks, state)."""
    target = out.resolve()
    own = {
        p.resolve()
        for p in (project.synthetic_path, project.imported_path, project.dropped_path, project.file)
    }
    inside_state = target.is_relative_to(project.state_dir.resolve()) and not target.is_relative_to(
        (project.state_dir / "batches").resolve()
    )
    if target in own or inside_state or target.is_relative_to(project.playbooks_dir.resolve()):
        raise BrewError(f"{out}: that is one of the project's own files; write the batch file elsewhere")
    if target.is_dir():
        raise BrewError(f"{out}: is a folder; name a file for the batch requests")


class BatchOutputGenerator(Generator):
    """Candidates from a batch engine's output file, parsed as the live path parses replies."""

    name = "batch"

    def __init__(self, request: GenRequest, output: Path, run_id: str, requests: int) -> None:
        super().__init__(request)
        self.output = output
        self.run_id = run_id
        self.requests = requests  # custom_ids 0..requests-1 are the batch's; no other lands
        self.live = _openai_generator(request.project, request.playbook, request.count, request.seed)
        self.seen: set[int] = set()

    async def stream(self) -> AsyncIterator[Item]:
        try:
            with open(self.output, "rb") as f:
                for number, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    for item in self._items(number, line):
                        yield item
                    if number % 256 == 0:
                        await asyncio.sleep(0)  # let the record keeper and the flusher run
        except OSError as exc:
            raise BrewError(f"cannot read {self.output}: {exc.strerror or exc}") from None

    def _items(self, number: int, line: bytes) -> list[Item]:
        where = f"{self.output.name}:{number}"
        try:
            entry = orjson.loads(line)
            custom_id = entry["custom_id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return [
                Issue("unparseable_line", f"{where}: {truncate(line.decode('utf-8', 'replace'), RAW_KEEP)}")
            ]
        prefix, _, index_text = str(custom_id).rpartition("-")
        if prefix != self.run_id or not index_text.isdigit() or int(index_text) >= self.requests:
            return [
                BackendError(
                    f"{where}: custom_id {truncate(str(custom_id), 80)!r} is not one of the "
                    f"{self.requests} requests of {self.run_id}"
                )
            ]
        index = int(index_text)
        if index in self.seen:
            return [BackendError(f"{where}: request {custom_id} answered twice; the first answer is kept")]
        self.seen.add(index)
        error = entry.get("error")
        response = entry.get("response") or {}
        status = response.get("status_code") if isinstance(response, dict) else None
        if error or status != 200:
            message = (error or {}).get("message") if isinstance(error, dict) else error
            if not message and isinstance(response, dict):
                message = f"HTTP {status}: {truncate(orjson.dumps(response.get('body')).decode(), 200)}"
            error_text = f"{where}: {truncate(str(message or 'no response'), RAW_KEEP)}"
            self.last_error = error_text
            return [BackendError(error_text)]
        case, _body = self.live.request_body(index)
        return self.live.parse_response(orjson.dumps(response.get("body")), case)


async def ingest_batch_output(
    project: Project,
    run_id: str,
    output: Path,
    *,
    on_event: Callable[[JobEvent], None] | None = None,
    cancel: asyncio.Event | Stop | None = None,
) -> JobRecord:
    """Land a batch engine's output as run `run_id` (recorded `waiting` by `write_batch_file`)."""
    record = read_record(project, run_id)
    if record.kind != "generation" or "batch_requests" not in record.params:
        raise BrewError(f"{run_id} is not a batch run (write one with generate --batch-file)")
    if record.state not in ("waiting", "failed", "interrupted", "cancelled"):
        raise BrewError(f"{run_id} is {record.state}: only a waiting (or failed) batch run can be ingested")
    output = Path(output)
    if not output.is_file():
        raise BrewError(f"no batch output file at {output}")

    def reader(request: GenRequest) -> Generator:
        return BatchOutputGenerator(request, output, run_id, int(record.params["batch_requests"]))

    record.params["batch_output"] = str(output.resolve())
    return await run_generation_job(
        project,
        record.playbook,
        resume=record,
        generator=reader,
        on_event=on_event,
        cancel=cancel,
        early_stop=False,
    )


# --- a server's /v1/files and /v1/batches -----------------------------------------------------


class BatchServer:
    """The few calls of the OpenAI Batch API, blocking (run them in a thread)."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float = 60.0) -> None:
        self.base = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout
        self.key = api_key

    def _call(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
    ) -> bytes:
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                return resp.read(256 * 1024 * 1024 + 1)[: 256 * 1024 * 1024]
        except urllib.error.HTTPError as exc:
            text = self._scrub(exc.read(64 * 1024).decode("utf-8", "replace"))
            raise BrewError(
                self._scrub(f"HTTP {exc.code} from {self.base}{path}: {truncate(text, 300)}")
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise BrewError(self._scrub(f"cannot reach {self.base}{path}: {exc}")) from None

    def _scrub(self, text: str) -> str:
        return without_secret(text, self.key)

    def _json(self, data: bytes) -> dict[str, Any]:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise BrewError(f"{self.base}: the batch API answered with something that is not JSON") from None
        if not isinstance(value, dict):
            raise BrewError(f"{self.base}: the batch API answered with something that is not an object")
        return value

    def upload(self, path: Path) -> str:
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'.encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: application/jsonl\r\n\r\n".encode(),
            path.read_bytes(),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
        answer = self._json(
            self._call("POST", "/files", b"".join(parts), f"multipart/form-data; boundary={boundary}")
        )
        return self._id(answer, "/files")

    def _id(self, answer: dict[str, Any], path: str) -> str:
        if not isinstance(answer.get("id"), str) or not answer["id"]:
            raise BrewError(f"{self.base}{path}: the batch API answered without an id")
        return str(answer["id"])

    def create(self, file_id: str) -> str:
        """The new batch's id."""
        body = {"input_file_id": file_id, "endpoint": ENDPOINT, "completion_window": "24h"}
        return self._id(self._json(self._call("POST", "/batches", orjson.dumps(body))), "/batches")

    def status(self, batch_id: str) -> dict[str, Any]:
        return self._json(self._call("GET", f"/batches/{batch_id}"))

    def download(self, file_id: str, out: Path) -> None:
        data = self._call("GET", f"/files/{file_id}/content")
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, out)


def batch_server(book: Playbook) -> BatchServer:
    """The playbook's server, its key from the environment (checked before anything is written)."""
    if book.openai is None:
        raise BrewError(f"playbooks/{book.path.name}: a batch run needs an `openai` playbook")
    key = os.environ.get(book.openai.api_key_env) if book.openai.api_key_env else None
    if book.openai.api_key_env and not key:
        raise BrewError(f"the environment variable {book.openai.api_key_env} (openai.api_key_env) is not set")
    return BatchServer(book.openai.base_url, key, timeout=book.openai.timeout)


async def run_batch_on_server(
    project: Project,
    playbook: str | None,
    *,
    count: int | None = None,
    seed: int | None = None,
    resume_run_id: str | None = None,
    on_status: Callable[[str], None] | None = None,
    on_event: Callable[[JobEvent], None] | None = None,
    cancel: asyncio.Event | Stop | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> JobRecord:
    """Submit the run to the server's batch API, wait for it, ingest its output.

    The batch id is kept in the `waiting` record: if this process stops, `generate --resume
    RUN_ID` polls the same batch again instead of submitting a new one.
    """
    folder = project.state_dir / "batches"
    folder.mkdir(parents=True, exist_ok=True)
    if resume_run_id:
        run_id = resume_run_id
        playbook = read_record(project, run_id).playbook
    else:
        if not playbook:
            raise BrewError("name a playbook")
        batch_server(get_playbook(project, playbook))  # its key is set: no run waits for nothing
        run_id = new_run_id(project, "generation")
        write_batch_file(
            project, playbook, folder / f"{run_id}.requests.jsonl", count=count, seed=seed, run_id=run_id
        )
    held = claim(project, run_id)  # no other process submits, polls, ingests or cancels it meanwhile
    try:
        record = read_record(project, run_id)  # as it is now that it is ours
        if record.state != "waiting" or "batch_requests" not in record.params:
            raise BrewError(f"{run_id} is not a batch run waiting on a server (it is {record.state})")
        book = get_playbook(project, record.playbook or playbook or "")
        return await _on_server(project, record, book, on_status, on_event, cancel, poll_seconds)
    finally:
        held.release()


async def _on_server(
    project: Project,
    record: JobRecord,
    book: Playbook,
    on_status: Callable[[str], None] | None,
    on_event: Callable[[JobEvent], None] | None,
    cancel: asyncio.Event | Stop | None,
    poll_seconds: float,
) -> JobRecord:
    """Submit (unless submitted), poll until the batch is done or the user cancels, ingest."""
    folder = project.state_dir / "batches"
    server = batch_server(book)
    say = on_status or (lambda text: None)
    if "batch_id" not in record.params:
        try:
            file_id = await asyncio.to_thread(server.upload, Path(record.params["batch_file"]))
            batch_id = await asyncio.to_thread(server.create, file_id)
        except (BrewError, OSError) as exc:
            why = str(exc) if isinstance(exc, BrewError) else f"{exc.filename}: {exc.strerror or exc}"
            raise BrewError(
                f"{why}; {record.run_id} waits, not submitted (its requests: {record.params['batch_file']}): "
                f"`brewslm-tui generate PROJECT --resume {record.run_id} --batch` submits it again"
            ) from None
        record.params["batch_id"] = batch_id
        save_record(project, record)
        say(f"{record.run_id}: submitted as batch {batch_id}")
    batch_id = record.params["batch_id"]
    stopped = cancel.event if isinstance(cancel, Stop) else (cancel or asyncio.Event())
    cancel_file = cancel_path(project, record.run_id)
    while True:
        info = await asyncio.to_thread(server.status, batch_id)
        state = str(info.get("status", "?"))
        counts = info.get("request_counts") or {}
        say(
            f"{record.run_id}: batch {batch_id} {state} {counts.get('completed', 0)}/{counts.get('total', '?')}"
        )
        if state in DONE:
            break
        waited = 0.0
        while waited < poll_seconds and not stopped.is_set() and not cancel_file.exists():
            step = min(CANCEL_LOOK_SECONDS, poll_seconds - waited)
            with contextlib.suppress(TimeoutError):  # a stop ends the wait at once, not after it
                await asyncio.wait_for(stopped.wait(), step)
            waited += step
        if stopped.is_set():
            raise BrewError(
                f"stopped waiting; batch {batch_id} runs on; `generate --resume {record.run_id}` picks it up"
            )
        if cancel_file.exists():  # `brewslm-tui cancel` (or the app) asked: the run ends, not ingested
            record.state = "cancelled"
            record.finished_at = iso(utc_now())
            record.diagnostic = Diagnostic(
                headline=f"{read_reason(cancel_file)}; the batch was not ingested "
                f"(batch {batch_id} may still run on the server)."
            )
            save_record(project, record)
            discard_cancel(project, record.run_id)
            return record
    if state != "completed" or not info.get("output_file_id"):
        record.state = "failed"
        record.finished_at = iso(utc_now())
        errors = info.get("errors") or {}
        record.diagnostic = Diagnostic(
            headline=f"The batch {batch_id} ended {state} with no output: {truncate(str(errors), 300)}"
        )
        save_record(project, record)
        return record
    out = folder / f"{record.run_id}.output.jsonl"
    await asyncio.to_thread(server.download, str(info["output_file_id"]), out)
    return await ingest_batch_output(project, record.run_id, out, on_event=on_event, cancel=cancel)
