"""A chat-completions server that answers instantly: the openai generator's own ceiling.

Raw HTTP/1.1 over asyncio streams with keep-alive, no framework, so the server costs as little
CPU as possible (it shares the machine with the client being measured). Every POST gets a
200 with a chat completion whose content is a JSON array of `ROWS` classification rows with
unique prompts (so the job's dedup keeps them all). `GET /stats` returns the request count.

    python -m benchmarks.instant_server [--port 0]     # prints the port on stdout, then serves
"""

from __future__ import annotations

import argparse
import asyncio
import itertools

import orjson

ROWS = 10
LABELS = ("positive", "negative", "neutral", "mixed")
_counter = itertools.count()
requests = 0


def _completion() -> bytes:
    rows = []
    for _ in range(ROWS):
        n = next(_counter)
        rows.append(
            {
                "prompt": f"Review {n}: the kettle number {n} works, but the lid {n % 97} rattles a bit.",
                "completion": LABELS[n % 4],
            }
        )
    content = orjson.dumps(rows).decode()
    return orjson.dumps(
        {
            "id": "bench",
            "object": "chat.completion",
            "model": "instant",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
            ],
        }
    )


def _response(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
        b"Connection: keep-alive\r\n\r\n" % len(body)
    ) + body


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    global requests
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if head.startswith(b"GET /stats"):
                writer.write(_response(orjson.dumps({"requests": requests})))
            else:
                requests += 1
                writer.write(_response(_completion()))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", port, backlog=512)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(main(parser.parse_args().port))
