"""Whole-process times of the single-question commands at the default demo size, against
`trustledger --version` in the same run.

    python bench/cli_process.py [--subjects 50000] [--runs 7]

Makes the demo database once in a temporary folder (`trustledger demo`, 50,000 subjects
by default), then runs each command as a fresh process several times and reports the
median: `--version` (start-up alone), `check SUBJECT public_procurement` for a firm the
demo names as denied, and `profile SUBJECT` for the subject it names to profile.
Targets: --version ≤ 0.3 s; check and profile ≤ 1 s each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import save

TARGETS = {"version": 0.3, "check": 1.0, "profile": 1.0}


def timed(command: list[str], env: dict[str, str], cwd: Path, codes: tuple[int, ...]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in codes:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("trustledger"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "TRUSTLEDGER_DB": f"sqlite:///{work / 'bench.db'}",
               "TRUSTLEDGER_PERSON_KEY_FILE": str(work / "person.key")}  # fmt: skip
        start = time.perf_counter()
        demo = subprocess.run([exe, "demo", "--subjects", str(args.subjects), "--dir",
                               str(work / "demo")], env=env, cwd=work, capture_output=True,
                              text=True, check=True)  # fmt: skip
        demo_seconds = time.perf_counter() - start
        tries = [line.split("try: ", 1)[1] for line in demo.stdout.splitlines()
                 if line.startswith("try: ")]  # fmt: skip
        denied = next(t.split()[2] for t in tries if t.startswith("trustledger check "))
        profiled = next(t.split()[2] for t in tries if t.startswith("trustledger profile "))
        commands = {
            "version": ([exe, "--version"], (0,)),
            "check": ([exe, "check", denied, "public_procurement"], (3,)),
            "profile": ([exe, "profile", profiled], (0,)),
        }
        # one warm-up each (bytecode caches, the OS page cache), then interleaved runs so
        # that a slow moment of the machine falls on every command alike
        for command, codes in commands.values():
            timed(command, env, work, codes)
        runs: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (command, codes) in commands.items():
                runs[name].append(timed(command, env, work, codes))
    median = {name: statistics.median(times) for name, times in runs.items()}
    figures = {
        "subjects": args.subjects,
        "runs": args.runs,
        "demo_seconds": round(demo_seconds, 1),
        "check_subject": denied,
        "profile_subject": profiled,
        **{f"{name}_median_s": round(s, 3) for name, s in median.items()},
        "check_over_version": round(median["check"] / median["version"], 2),
        "profile_over_version": round(median["profile"] / median["version"], 2),
        "targets_s": TARGETS,
        "within_targets": all(median[k] <= v for k, v in TARGETS.items()),
    }
    for name, seconds in median.items():
        print(f"{name:8s} median {seconds:.3f} s (target ≤ {TARGETS[name]} s)")
    print(f"check / --version {figures['check_over_version']}×, "
          f"profile / --version {figures['profile_over_version']}×")  # fmt: skip
    save("cli_process", figures)


if __name__ == "__main__":
    main()
