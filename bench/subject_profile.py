"""One subject with 20 records under the Rongcheng points rulebook (score, grade, two lists,
measures, explanation), against the bare compiled conditions over the same records.

    python bench/subject_profile.py
"""

from __future__ import annotations

import statistics
import sys
import timeit
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import save

from trustledger.catalogue import national_catalogue
from trustledger.evaluate.profile import compile_rulebook, evaluate_subject
from trustledger.ledger.projection import RecordRow, SubjectRow
from trustledger.rulebook.load import load_rulebook
from trustledger.rulebook.pyeval import RecordFacts, SubjectFacts

ON = date(2026, 11, 1)
CATEGORIES = ("MKT-PENALTY-SERIOUS", "TAX-PENALTY-GENERAL", "ENV-PENALTY-SERIOUS",
              "MKT-PENALTY-SERIOUS", "ENV-PENALTY-SERIOUS")  # fmt: skip


def main() -> None:
    root = Path(__file__).parent.parent
    cr = compile_rulebook(
        load_rulebook(root / "trustledger" / "rulebooks_shipped" / "cn-rongcheng-points.yaml"),
        national_catalogue(),
    )
    subject = SubjectRow("91371082MA3C000001", "enterprise", "荣成市某某有限公司", "371082",
                         "[]", "[]", None, None, 0, 0)  # fmt: skip
    records = []
    for i in range(20):
        published = (ON - timedelta(days=45 * i)).isoformat()
        category = CATEGORIES[i % len(CATEGORIES)]
        tier = "serious" if "SERIOUS" in category else "general"
        records.append(
            RecordRow(
                f"R{i:024x}",
                subject.id,
                "11371082000000010X",
                category,
                tier,
                "administrative_penalty",
                f"荣市监罚〔2026〕{i}号",
                published,
                published,
                None,
                None,
                None,
                "issued",
                None,
                None,
                i,
                i,
            )
        )
    profile = evaluate_subject(cr, subject, records, ON)
    assert profile.applicable

    facts = [
        RecordFacts(r.category, "market", r.tier, "negative", r.decision_type, -10,
                    date.fromisoformat(r.publication_date))
        for r in records
    ]  # fmt: skip
    conditions = [cl.holds for cl in cr.lists]
    facts_subject = SubjectFacts(profile.score or 0, profile.grade or "", "enterprise", "371082")

    def bare() -> None:
        for holds in conditions:
            holds(facts_subject, facts, ON)

    runs = 500
    ours = [t / runs for t in timeit.repeat(lambda: evaluate_subject(cr, subject, records, ON),
                                            number=runs, repeat=11)]  # fmt: skip
    base = [t / runs for t in timeit.repeat(bare, number=runs, repeat=11)]
    save(
        "profile",
        {
            "rulebook": cr.ref,
            "records": len(records),
            "lists_held": [m.list_id for m in profile.lists],
            "score": profile.score,
            "grade": profile.grade,
            "median_us": round(statistics.median(ours) * 1e6, 1),
            "bare_list_conditions_median_us": round(statistics.median(base) * 1e6, 1),
            "ratio_to_bare_conditions": round(statistics.median(ours) / statistics.median(base), 1),
            "target": "median_us <= 200",
        },
    )


if __name__ == "__main__":
    main()
