"""Helpers for the command-line tests: run `bgjobs` as a user would (a subprocess), and
check the one-line error rule."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*args, env=None, input=None, check=None, timeout=300):
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "bgjobs", *args], capture_output=True, text=True, check=False,
                          env=full_env, input=input, timeout=timeout)
    if check is True:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


def one_line_error(proc) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]
