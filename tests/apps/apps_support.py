"""Finding and running the real apps of tests/apps: each lives in a venv of its own made
by `make apps` (their pins never meet ours), runs as a subprocess on loopback ports with
its state in a temp dir, and is stopped by its process id."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import NoReturn

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
# Not WECOM_OIDC_*: the bridges these tests start read every such variable as config
# and refuse one they do not know.
APPS_VENVS = Path(os.environ.get("APPS_VENVS", ROOT / ".venv-apps"))
NODE_BIN = ROOT / "tests" / "apps" / "node" / "node_modules" / ".bin"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str) -> NoReturn:
    """Skip with the fix in the message; with CI set a missing app is a failure."""
    message = f"{what}. Install: `make apps` (`make test` runs it)"
    if IN_CI:
        pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(message)


def app_bin(venv: str, name: str) -> Path:
    """An executable of one app's venv, or skip/fail saying how to install it."""
    path = APPS_VENVS / venv / "bin" / name
    if not path.exists() or not (APPS_VENVS / venv / ".installed").exists():
        unavailable(f"{name} is not installed in {APPS_VENVS / venv}")
    return path


class AppProcess:
    """One app server: started with its output in a log file, waited for on a URL,
    stopped with SIGTERM (then SIGKILL) on its own process id."""

    def __init__(self, argv: list[str], workdir: Path, ready_url: str,
                 env: dict[str, str] | None = None, timeout: float = 90):
        self.log_path = workdir / "app.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, cwd=workdir, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        try:
            self._wait(ready_url, timeout)
        except Exception:
            self.stop()
            raise

    def _wait(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{url} did not answer within {timeout}s:\n{self.tail()}")

    def tail(self, n: int = 6000) -> str:
        self.log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-n:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
