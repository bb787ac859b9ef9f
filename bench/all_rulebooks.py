"""Batch evaluation of the default demo (50,000 subjects) under every shipped rulebook,
against the same demo under the six rulebooks shipped before the real regimes were added
(environmental credit, abnormal operations, the national penalty regime in its current
version, the records-only province, Rongcheng points, the SPC list), in the same run.

    python bench/all_rulebooks.py [--subjects 50000] [--runs 3]

Two demos are made from the same seed, one publishing every shipped file (every version of
every regime is evaluated over its own window), one publishing the six; each is evaluated
`--runs` times into its live state (DuckDB engine) and the fastest run is reported.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import Timer, save

from trustledger.app import demo
from trustledger.app.context import Context
from trustledger.evaluate.state import evaluate_all
from trustledger.rulebook.publish import regime_versions
from trustledger.settings import Settings

SHIPPED = Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped"
THE_SIX = (
    "cn-environmental-credit",
    "cn-market-abnormal-operations",
    "cn-national-admin-penalty",
    "cn-records-only-province",
    "cn-rongcheng-points",
    "cn-spc-dishonest-debtors",
)


def _evaluate(work: Path, name: str, rulebooks: Path | None, subjects: int, runs: int) -> dict:
    settings = Settings(db_url=f"sqlite:///{work / name}.db", person_key_file=work / "p.key")
    with Context.open(settings, must_exist=False) as ctx:
        made = demo.run(ctx, directory=work / f"{name}-data", subjects=subjects,
                        rulebooks=rulebooks)  # fmt: skip
        store, today = ctx.store, ctx.today()
        versions = sum(len(v) for v in regime_versions(store, None).values())
        times = []
        for _ in range(runs):
            with Timer() as t:
                summaries = evaluate_all(store, ctx.catalogue, at_us=None, on=today)
            times.append(t.seconds)
        return {
            "rulebooks_published": len(made.published),
            "regime_versions_evaluated": versions,
            "subjects": subjects,
            "rows": sum(s.subjects for s in summaries),
            "seconds_best": round(min(times), 3),
            "seconds_median": round(statistics.median(times), 3),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rulebooks-") as tmp:
        work = Path(tmp)
        six = work / "six"
        six.mkdir()
        for rid in THE_SIX:
            shutil.copyfile(SHIPPED / f"{rid}.yaml", six / f"{rid}.yaml")
        every = _evaluate(work, "all", None, args.subjects, args.runs)
        before = _evaluate(work, "six", six, args.subjects, args.runs)
    save(
        "all_rulebooks",
        {
            "all_shipped": every,
            "the_six": before,
            "ratio_all_to_six": round(every["seconds_best"] / before["seconds_best"], 2),
        },
    )


if __name__ == "__main__":
    main()
