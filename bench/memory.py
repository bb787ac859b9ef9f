"""Peak memory of ingesting a ~1 GB JSON Lines file, against a 10 MB file in the same run.

Flat means the big file's peak is about the small one's: the intake streams.

    python bench/memory.py [--gb 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import Timer, save

from trustledger.demo import write_demo_files

# runs the real CLI in a child and reports that child's own peak resident set
CHILD = """
import resource, sys
from trustledger.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def run_cli(args: list[str], env: dict[str, str]) -> tuple[int, float]:
    with Timer() as t:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    rss = [
        int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("MAXRSS_KB")
    ]
    if not rss or proc.returncode not in (0, 2):
        raise RuntimeError(f"trustledger {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return rss[0], t.seconds


def big_file(records: Path, target: Path, size: int) -> int:
    """Repeat the demo records with fresh document numbers until the file reaches ``size``."""
    lines = records.read_bytes().splitlines()
    written = n = 0
    with target.open("wb") as out:
        rnd = 0
        while written < size:
            for line in lines:
                obj = json.loads(line)
                obj["document_number"] = f"{obj['document_number']}-{rnd}"
                data = (json.dumps(obj, ensure_ascii=False) + "\n").encode()
                out.write(data)
                written += len(data)
                n += 1
                if written >= size:
                    break
            rnd += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = write_demo_files(work / "data", seed=7, subjects=20_000, as_of=date(2026, 11, 1))
        by_name = {p.name: p for p in files}
        env = {
            **os.environ,
            "TRUSTLEDGER_DB": f"sqlite:///{work / 'm.db'}",
            "TRUSTLEDGER_PERSON_KEY_FILE": str(work / "person.key"),
        }
        run_cli(["init", "--new-person-key"], env)
        run_cli(
            [
                "ingest",
                "--rejects",
                str(work),
                str(by_name["authorities.jsonl"]),
                str(by_name["subjects.jsonl"]),
            ],
            env,
        )
        small = work / "small.jsonl"
        big = work / "big.jsonl"
        big_file(by_name["records.jsonl"], small, 10 * 2**20)
        lines = big_file(by_name["records.jsonl"], big, int(args.gb * 2**30))
        small_rss, _ = run_cli(["ingest", "--rejects", str(work), str(small)], env)
        big_rss, seconds = run_cli(["ingest", "--rejects", str(work), str(big)], env)
        save(
            "memory",
            {
                "big_file_bytes": big.stat().st_size,
                "big_file_lines": lines,
                "ingest_seconds": round(seconds, 1),
                "lines_per_s": round(lines / seconds),
                "peak_rss_mb_big": round(big_rss / 1024, 1),
                "peak_rss_mb_10mb_file": round(small_rss / 1024, 1),
                "ratio_big_to_small": round(big_rss / small_rss, 3),
                "target": "peak_rss_mb_big <= 300 and flat (ratio near 1)",
            },
        )


if __name__ == "__main__":
    main()
