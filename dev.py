#!/usr/bin/env python3
"""Bootstrap for a fresh machine that has nothing but python3.

    python3 dev.py demo      the main job: a simulated DC-voltage calibration, end to end
    python3 dev.py test      the full test suite (extra arguments go to pytest)
    python3 dev.py labauto … any labauto CLI command inside the project environment

The first call creates ``.venv`` beside this file and installs labauto into it (editable, with
the test extras).  Later calls reinstall only when pyproject.toml has changed.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".labauto-installed"


def _wanted_stamp() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_environment() -> None:
    if not PY.exists():
        print(f"[dev] creating virtual environment in {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    if not STAMP.exists() or STAMP.read_text().strip() != _wanted_stamp():
        print("[dev] installing labauto and its dependencies (first run only) ...", flush=True)
        subprocess.check_call([str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        subprocess.check_call(
            [str(PY), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[test]"], cwd=ROOT
        )
        STAMP.write_text(_wanted_stamp())


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    ensure_environment()
    env = dict(os.environ)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    if command == "demo":
        cmd = [str(BIN / "labauto"), "demo", *rest]
    elif command == "test":
        cmd = [str(PY), "-m", "pytest", *rest]
    elif command == "labauto":
        cmd = [str(BIN / "labauto"), *rest]
    else:
        print(f"unknown command {command!r}; use demo, test or labauto", file=sys.stderr)
        return 2
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
