"""Shared fixtures: the CLI runner, the installed command, and isolation from the user's files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fashionnet import data

# CI sets FASHIONNET_REQUIRE_DATA=1 after installing the data: there a missing data set fails, never skips.
REAL_DATA = os.environ.get("FASHIONNET_REQUIRE_DATA") == "1" or data.locate().folder is not None
needs_real_data = pytest.mark.skipif(not REAL_DATA, reason="FashionMNIST is not installed (make data)")


@pytest.fixture(autouse=True)
def _isolate(monkeypatch, tmp_path_factory):
    # Never read a developer's cache or device choice: every test starts from the same environment.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("FASHIONNET_DEVICE", raising=False)
    monkeypatch.delenv("FASHIONNET_DATA", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def invoke(runner):
    """Run the Typer app in-process: result has exit_code, stdout and stderr."""
    from fashionnet.cli import app

    def run(*args: str, input: str | bytes | None = None):
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return run


def _installed_command() -> list[str]:
    exe = shutil.which("fashionnet", path=str(Path(sys.executable).parent)) or shutil.which("fashionnet")
    return [exe] if exe else [sys.executable, "-m", "fashionnet"]


@pytest.fixture
def cli():
    """Run the installed `fashionnet` console script in a subprocess, as a user would."""

    def run(*args: str, input: bytes | None = None, env: dict | None = None, timeout: float = 300):
        full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80", **(env or {})}
        return subprocess.run(
            [*_installed_command(), *args], input=input, capture_output=True, env=full_env, timeout=timeout
        )

    return run
