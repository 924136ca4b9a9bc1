"""Serve the app over HTTP with http.server.

`python3 -m app --host 127.0.0.1 --port 0 --port-file out/port` binds an ephemeral port and
writes the chosen port number to the port file once the server accepts connections.
SIGTERM and Ctrl-C stop it cleanly (the port file is removed on the way out).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType

from app import __version__
from app.logic import handle

STARTED = time.monotonic()


class Handler(BaseHTTPRequestHandler):
    """Adapts app.logic.handle to http.server."""

    server_version = f"formicary-sample/{__version__}"

    def _respond(self) -> None:
        status, body = handle(self.command, self.path, __version__, time.monotonic() - STARTED)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _respond
    do_POST = _respond
    do_DELETE = _respond

    def log_message(self, format: str, *args: object) -> None:
        print(f"[server] {self.address_string()} {format % args}", flush=True)


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the sample JSON API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the bound port here when ready")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _stop)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(f"[server] app {__version__} listening on http://{host}:{port}", flush=True)
    try:
        if args.port_file is not None:
            args.port_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = args.port_file.with_name(args.port_file.name + ".tmp")
            tmp.write_text(f"{port}\n", encoding="utf-8")
            os.replace(tmp, args.port_file)  # atomic: readers never see a half-written file
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt as exc:
        print(f"[server] stopping ({exc or 'interrupted'})", flush=True)
    finally:
        server.server_close()
        if args.port_file is not None:
            args.port_file.unlink(missing_ok=True)
    print("[server] stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
