"""Shared fixtures: the loopback mirror and a runner for the real `kcn` command."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mirror import Mirror

# Fast, still real: no politeness delays against our own loopback mirror.
FAST = ("-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "RETRY_TIMES=0",
        "-s", "DOWNLOAD_TIMEOUT=10")


@pytest.fixture
def mirror():
    with Mirror() as m:
        yield m


def _kcn_command() -> list[str]:
    script = Path(sys.executable).with_name("kcn")
    return [str(script)] if script.exists() else [sys.executable, "-m", "scheduler.cli"]


@pytest.fixture
def kcn(tmp_path):
    """Run `kcn ARGS...` as a user would, in a subprocess (Scrapy's reactor runs once per process)."""
    return kcn_runner(tmp_path)


def kcn_runner(tmp_path: Path):
    """A `kcn` runner working in ``tmp_path``, its archive in tmp_path/data unless KCN_DB says otherwise."""
    def run(*args: str, mirror: Mirror | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update(mirror.proxy_env() if mirror else {})
        env.setdefault("KCN_DB", str(tmp_path / "data" / "archive.db"))
        return subprocess.run([*_kcn_command(), *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=timeout)
    return run
