"""One compiled condition over one subject's 20 records, against the same logic written
by hand in Python, in the same run.

    python bench/condition.py
"""

from __future__ import annotations

import statistics
import sys
import timeit
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import save

from trustledger.rulebook.condition import parse_condition
from trustledger.rulebook.durations import parse_duration
from trustledger.rulebook.pyeval import RecordFacts, SubjectFacts, compile_condition

T = date(2026, 11, 1)
TEXT = (
    "count(tier == 'serious' and polarity == 'negative', within='3y') >= 1"
    " and sum(points, domain in ['tax', 'environment'], within='18m') < -30"
)


def by_hand(records: list[RecordFacts], at: date) -> bool:
    three_years = parse_duration("3y").before(at)
    eighteen_months = parse_duration("18m").before(at)
    serious = sum(
        1
        for r in records
        if r.tier == "serious" and r.polarity == "negative" and r.published >= three_years
    )
    points = sum(
        r.points
        for r in records
        if r.domain in ("tax", "environment") and r.published >= eighteen_months
    )
    return serious >= 1 and points < -30


def main() -> None:
    subject = SubjectFacts(0, "", "enterprise", "440305")
    records = [
        RecordFacts(
            "TAX-PENALTY-GENERAL",
            ("tax", "environment", "market")[i % 3],
            ("minor", "general", "serious")[i % 3],
            "negative",
            "administrative_penalty",
            -10 * (i % 5),
            T - timedelta(days=70 * i),
        )
        for i in range(20)
    ]
    evaluate = compile_condition(parse_condition(TEXT))
    assert evaluate(subject, records, T) == by_hand(records, T)
    runs = 2_000
    ours = [
        t / runs
        for t in timeit.repeat(lambda: evaluate(subject, records, T), number=runs, repeat=15)
    ]
    hand = [t / runs for t in timeit.repeat(lambda: by_hand(records, T), number=runs, repeat=15)]
    save(
        "condition",
        {
            "condition": TEXT,
            "records": len(records),
            "median_us": round(statistics.median(ours) * 1e6, 2),
            "hand_written_median_us": round(statistics.median(hand) * 1e6, 2),
            "ratio_to_hand_written": round(statistics.median(ours) / statistics.median(hand), 2),
        },
    )


if __name__ == "__main__":
    main()
