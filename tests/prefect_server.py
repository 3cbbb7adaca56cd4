"""A real ``prefect server start`` for the UI and schedule tests, plus helpers for its REST API.

The ``prefect_server`` fixture (``tests/e2e/conftest.py``) starts one server for the session, with its own
home and database, stopped however the tests end: every test that needs one shares it, so a test finds
its own runs by their ids (or by when they started), never by assuming it has the server to itself.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.project import TEST_ENV, VENV_BIN

START_TIMEOUT = 90


@dataclass(frozen=True)
class PrefectServer:
    url: str  # the UI
    log: Path

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def env(self) -> dict[str, str]:
        """The test environment with runs reporting to this server."""
        return {**TEST_ENV, "PREFECT_API_URL": self.api_url}

    def post(self, path: str, body: dict | None = None) -> list | dict:
        response = httpx.post(f"{self.api_url}{path}", json=body or {}, timeout=30)
        response.raise_for_status()
        return response.json()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen, grace: float = 15) -> None:
    """Terminate the process group we started (a server or runner spawns children), then kill it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            break
        os.killpg(process.pid, sig)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            continue
    try:  # children may outlive a leader that exited on SIGTERM
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def start_server(home: Path) -> tuple[subprocess.Popen, PrefectServer]:
    port = free_port()
    server = PrefectServer(url=f"http://127.0.0.1:{port}", log=home / "server.log")
    env = {k: v for k, v in TEST_ENV.items() if not k.startswith("PREFECT_")}
    # The UI asks the API at PREFECT_UI_API_URL, which otherwise defaults to port 4200.
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": server.api_url,
    }
    with server.log.open("w") as log:
        process = subprocess.Popen(
            [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=home,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited ({process.returncode}):\n{server.log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{server.api_url}/health", timeout=5).status_code == 200:
                return process, server
        except httpx.HTTPError:
            pass
        time.sleep(1)
    stop(process)
    raise RuntimeError(f"prefect server not healthy after {START_TIMEOUT}s:\n{server.log.read_text()[-4000:]}")


def wait_for(condition, timeout: float, interval: float = 2, what: str = "condition"):
    """Poll ``condition()`` until it returns something truthy, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
