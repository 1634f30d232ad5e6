"""``patron serve``: Patron under gunicorn, with the options a deployment sets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from patron.cli import serve_options


def test_defaults_are_one_threaded_worker_per_cpu_on_localhost(monkeypatch):
    for name in ("PATRON_BIND", "PATRON_WORKERS", "PATRON_THREADS"):
        monkeypatch.delenv(name, raising=False)
    options = serve_options([])
    assert options["bind"] == ["127.0.0.1:8000"]
    assert options["workers"] == (os.cpu_count() or 1)
    assert (options["worker_class"], options["threads"]) == ("gthread", 8)
    assert options["keepalive"] > 0 and options["server_timing"] is False


def test_options_come_from_the_command_line_or_the_environment(monkeypatch):
    monkeypatch.setenv("PATRON_WORKERS", "3")
    monkeypatch.setenv("PATRON_BIND", "0.0.0.0:9000")
    options = serve_options(["--threads", "4", "--server-timing"])
    assert (options["bind"], options["workers"], options["threads"]) == (["0.0.0.0:9000"], 3, 4)
    assert options["server_timing"] is True
    assert serve_options(["--workers", "1"])["workers"] == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_patron_serve_answers_api_requests(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}", "PATRON_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "patron.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    server = subprocess.Popen([*command, "--server-timing"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/me", timeout=5)
            except urllib.error.HTTPError as answer:  # no token: a 401 from Django, through gunicorn
                assert answer.code == 401
                assert b"unauthenticated" in answer.read()
                assert answer.headers["Server-Timing"].startswith("app;dur=")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"patron serve did not answer: {server.stderr.read() if server.stderr else ''}")
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
