"""Loopback HTTP servers: bytes in, a handler function, bytes out.

HTTP/1.0 (one request per connection) and non-daemon handler threads, so closing a server
joins every handler thread: a stopped sandbox leaves no thread and no listening port behind.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Incoming:
    method: str
    raw_path: str  # exactly as on the request line (``//api/...`` kept)
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes


Handler = Callable[[Incoming], tuple[int, Mapping[str, str], bytes]]


def json_reply(status: int, body: object, headers: Mapping[str, str] | None = None
               ) -> tuple[int, Mapping[str, str], bytes]:
    headers = {"content-type": "application/json; charset=utf-8", **(headers or {})}
    return status, headers, json.dumps(body).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True


def _request_handler(handle: Handler) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        server_version = "Vercel"
        sys_version = ""

        def _serve(self) -> None:
            parts = self.requestline.split()
            raw = parts[1] if len(parts) >= 2 else self.path  # parse_request folds a leading "//"
            split = urlsplit(raw if not raw.startswith("//") else "http://x" + raw)
            length = int(self.headers.get("content-length") or 0)
            incoming = Incoming(
                method=self.command, raw_path=raw, path=split.path,
                query=dict(parse_qsl(split.query, keep_blank_values=True)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            status, headers, body = handle(incoming)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: object) -> None:
            """Silent: request logs are the sandbox's product, not stderr noise."""

    return RequestHandler


class LoopbackServer:
    """One ``ThreadingHTTPServer`` on a free 127.0.0.1 port, served from its own thread."""

    def __init__(self, name: str, handle: Handler) -> None:
        self.httpd = _Server(("127.0.0.1", 0), _request_handler(handle))
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       name=f"sandbox-{name}")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.thread.join()
        self.httpd.server_close()
