"""A loopback HTTP server (127.0.0.1, a free port) serving weight files a test writes, for the
weight-fetch tests (importable as ``weights_server``: pytest puts this folder on sys.path)."""

from __future__ import annotations

import http.server
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    truncate: set[str] = set()

    def do_GET(self) -> None:
        name = self.path.rsplit("/", 1)[-1]
        body = self.files.get(name)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # A truncated body: announce the full length, send half, close the connection.
        self.wfile.write(body[: len(body) // 2] if name in self.truncate else body)
        self.wfile.flush()
        if name in self.truncate:
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server:
    """A loopback HTTP server on a free port: ``base`` is its URL, ``put`` adds a file."""

    def __init__(self) -> None:
        handler = type("Handler", (_Handler,), {"files": {}, "truncate": set()})
        self.handler = handler
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def put(self, name: str, body: bytes, *, truncated: bool = False) -> str:
        self.handler.files[name] = body
        if truncated:
            self.handler.truncate.add(name)
        return f"{self.base}/models/{name}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
