"""Run every benchmark at its issue-defined size; each prints its figures and writes JSON."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

for script in (
    "ingest.py",
    "verify.py",
    "memory.py",
    "condition.py",
    "subject_profile.py",
    "sqlgen.py",
    "batch.py",
):
    print(f"== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=True)
