"""How long `labauto --help` and a group's `--help` take, in fresh processes (goal ≤ 0.5 s).

The start-up cost a technician meets before every command: Python's start, the console
script, and the imports the top-level application needs.  Baseline in the same run: a bare
`python -c pass`, so the figure can be read against the interpreter's own start.

    python benchmarks/bench_cli_startup.py --repeat 10
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import footer, header, span  # noqa: E402


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    header("")
    script = shutil.which("labauto") or str(Path(sys.executable).with_name("labauto"))
    cases = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "labauto --help": [script, "--help"],
        "labauto risk --help": [script, "risk", "--help"],
        "labauto procedure --help": [script, "procedure", "--help"],
    }
    wall(cases["labauto --help"])  # warm the file cache
    for name, cmd in cases.items():
        times = [wall(cmd) for _ in range(args.repeat)]
        print(f"{name}: {span([t * 1000 for t in times], '{:.0f}', 'ms')}")
    footer()


if __name__ == "__main__":
    main()
