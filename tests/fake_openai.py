"""A small OpenAI-compatible chat server on loopback, with scripted replies.

Tests queue replies with :meth:`FakeOpenAI.enqueue`; each request takes the next one
(or, with none queued, what ``respond(request body)`` returns, or the default). ``.requests`` records every JSON body received, so tests can check
what the client sent. Reply kinds:

* ``text``: a normal completion (streamed as SSE when the request asks for a stream)
* ``status``: an HTTP error with that status code (e.g. 429, 500, 401, 404); ``message``: its error text
* ``delay``: seconds to wait before answering (to trip timeouts)
* ``break_after``: for streams, close the connection after this many chunks
* ``chunk_delay``: for streams, seconds to wait between chunks (to watch text arrive)
* ``raw``: a 200 whose body is this text (sent as ``content_type``), not a completion, streamed or not
* ``payload``: a 200 whose JSON body is this object instead of a completion (e.g. without ``choices``)
* ``events``: for streams, these SSE ``data:`` payloads instead of completion chunks (garbage SSE)
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    delay: float = 0.0
    break_after: int | None = None
    usage: bool = True
    chunk_delay: float = 0.0  # seconds between streamed chunks
    raw: str | None = None  # a 200 with this body instead of a chat completion
    content_type: str = "text/html; charset=utf-8"  # of ``raw``
    payload: dict | list | None = None  # a 200 with this JSON body instead of a chat completion
    events: list[str] | None = None  # for streams: these SSE data payloads, then the end of the body
    message: str | None = None  # the error message of a ``status`` reply


class FakeOpenAI:
    def __init__(self, default: str = "Default answer [1].", respond: Callable[[dict], Reply | str] | None = None,
                 port: int = 0):
        self.default = Reply(text=default)
        self.respond = respond
        self.queue: deque[Reply] = deque()
        self.requests: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def enqueue(self, *replies: Reply | str) -> None:
        for r in replies:
            self.queue.append(Reply(text=r) if isinstance(r, str) else r)

    def __enter__(self) -> "FakeOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                reply = fake.queue.popleft() if fake.queue else fake.default
                if reply is fake.default and fake.respond is not None:
                    made = fake.respond(body)
                    reply = Reply(text=made) if isinstance(made, str) else made
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status != 200:
                    message = reply.message or f"scripted {reply.status}"
                    return self._json(reply.status, {"error": {"message": message, "type": "test"}})
                if not self.path.endswith("/chat/completions"):
                    return self._json(404, {"error": {"message": "not found"}})
                if reply.raw is not None:
                    return self._raw(200, reply.raw.encode(), reply.content_type)
                if reply.payload is not None and not body.get("stream"):
                    return self._json(200, reply.payload)
                if reply.events is not None and body.get("stream"):
                    return self._events(reply.events)
                if body.get("stream"):
                    return self._stream(reply, body)
                usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
                return self._json(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model"),
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}
                        ],
                        "usage": usage if reply.usage else None,
                    },
                )

            def _json(self, status: int, payload: dict | list) -> None:
                self._raw(status, json.dumps(payload).encode(), "application/json")

            def _raw(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _events(self, events: list[str]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for data in events:
                    self._write_chunk(f"data: {data}\n\n".encode())
                self._write_chunk(b"")

            def _stream(self, reply: Reply, body: dict) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")  # as real servers stream
                self.end_headers()
                model = body.get("model")
                pieces = [reply.text[i : i + 3] for i in range(0, len(reply.text), 3)]
                for n, piece in enumerate(pieces):
                    if reply.break_after is not None and n == reply.break_after:
                        self.wfile.flush()
                        self.close_connection = True
                        return  # the connection drops mid-body: no final chunk
                    self._event(_chunk(model, {"content": piece}, None))
                    if reply.chunk_delay:
                        time.sleep(reply.chunk_delay)
                self._event(_chunk(model, {}, "stop"))
                if (body.get("stream_options") or {}).get("include_usage") and reply.usage:
                    usage = {"prompt_tokens": 11, "completion_tokens": len(pieces), "total_tokens": 11 + len(pieces)}
                    self._event({"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0,
                                 "model": model, "choices": [], "usage": usage})
                self._write_chunk(b"data: [DONE]\n\n")
                self._write_chunk(b"")

            def _event(self, payload: dict) -> None:
                self._write_chunk(f"data: {json.dumps(payload)}\n\n".encode())

            def _write_chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        return Handler


def _chunk(model, delta: dict, finish_reason) -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
