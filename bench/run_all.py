"""Run every benchmark at its issue-defined size; each prints its figures and writes JSON."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

for script in sorted(HERE.glob("*.py")):
    if script.name in ("common.py", "run_all.py"):
        continue
    print(f"== {script.name}", flush=True)
    subprocess.run([sys.executable, str(script)], check=True)
