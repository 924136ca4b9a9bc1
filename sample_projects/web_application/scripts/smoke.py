"""Smoke-test the built zip: start it on 127.0.0.1 with an ephemeral port, make real HTTP
requests, check the answers, stop the server.

The server is always stopped and waited for (try/finally), whether the checks pass, fail or
this script is interrupted or sent SIGTERM. A passing run writes out/smoke/result.json, which
the deploy step requires.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType

Check = Callable[[dict, str], bool]


class SmokeFailure(Exception):
    """A check did not pass."""


def _terminated(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through `finally`, which stops the server


def wait_for_port(proc: subprocess.Popen[bytes], port_file: Path, deadline: float) -> int:
    """Wait until the server writes its port, failing if it exits or the deadline passes."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SmokeFailure(f"server exited early with code {proc.returncode}")
        try:
            text = port_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            text = ""
        if text.isdigit():
            return int(text)
        time.sleep(0.05)
    raise SmokeFailure(f"server did not write {port_file} in time")


def get(base: str, path: str) -> tuple[int, dict]:
    """GET a JSON resource; returns (status, body) for successes and HTTP errors alike."""
    try:
        with urllib.request.urlopen(base + path, timeout=5) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.load(err)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the server and wait for it; kill it if it does not stop in time."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            print("server ignored SIGTERM; killing it")
            proc.kill()
            proc.wait()
    print(f"server stopped (exit code {proc.returncode})")


def _items_ok(body: dict, _version: str) -> bool:
    return body.get("count", 0) >= 5 and len(body.get("items", [])) == body["count"]


def _search_ok(body: dict, _version: str) -> bool:
    items = body.get("items", [])
    return body.get("count") == 1 and "lamp" in items[0]["name"].lower()


# (path, expected status, check of the JSON body given the expected version)
CHECKS: list[tuple[str, int, Check]] = [
    ("/health", 200, lambda b, v: b.get("status") == "ok" and b.get("version") == v),
    ("/api/items", 200, _items_ok),
    ("/api/items?q=lamp&limit=1", 200, _search_ok),
    ("/api/items/1", 200, lambda b, _v: b.get("id") == 1),
    ("/api/items/99999", 404, lambda b, _v: "error" in b),
    ("/api/items?limit=nope", 400, lambda b, _v: "error" in b),
    ("/no/such/route", 404, lambda b, _v: "error" in b),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifact", type=Path, required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--work-dir", type=Path, default=Path("out/smoke"))
    parser.add_argument("--startup-timeout", type=float, default=10.0)
    args = parser.parse_args(argv)

    sys.stdout.reconfigure(line_buffering=True)  # keep our lines in order with the server's
    if not args.artifact.is_file():
        print(f"error: {args.artifact} does not exist (did `build` run?)", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _terminated)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    port_file = args.work_dir / "port"
    result_file = args.work_dir / "result.json"
    port_file.unlink(missing_ok=True)
    result_file.unlink(missing_ok=True)

    cmd = [
        sys.executable,
        str(args.artifact),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--port-file",
        str(port_file),
    ]
    print(f"starting {' '.join(cmd)}")
    proc = subprocess.Popen(cmd)
    failures: list[str] = []
    try:
        port = wait_for_port(proc, port_file, time.monotonic() + args.startup_timeout)
        base = f"http://127.0.0.1:{port}"
        print(f"server is up on {base} (pid {proc.pid})")
        for path, want, check in CHECKS:
            status, body = get(base, path)
            if status != want:
                problem = f"status {status}, expected {want}: {body}"
            elif not check(body, args.version):
                problem = f"unexpected body {body}"
            else:
                problem = ""
            print(f"  {'FAIL' if problem else 'ok  '} GET {path} -> {status} {problem}".rstrip())
            if problem:
                failures.append(f"GET {path}: {problem}")
    except SmokeFailure as exc:
        failures.append(str(exc))
    except OSError as exc:
        failures.append(f"request failed: {exc}")
    finally:
        stop(proc)

    if failures:
        print(f"smoke test FAILED ({len(failures)} problem(s)):", file=sys.stderr)
        for f in failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    digest = hashlib.sha256(args.artifact.read_bytes()).hexdigest()
    result_file.write_text(
        json.dumps(
            {
                "artifact": args.artifact.name,
                "version": args.version,
                "sha256": digest,
                "passed": True,
                "checked_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"smoke test passed ({len(CHECKS)} requests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
