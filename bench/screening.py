"""Name screening over 1,000,000 synthetic organisations: build time, memory, and latency
of 1,000 queries, against a brute-force rapidfuzz scan of 10,000 names in the same run.

    python bench/screening.py [subjects]
"""

from __future__ import annotations

import gc
import json
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import Timer, save
from rapidfuzz import fuzz, process

from trustledger.demo import load_divisions
from trustledger.demo.names import INDUSTRIES, LEGAL_FORMS, SHOPS, TRADE_CHARS, romanise
from trustledger.ledger.projection import SubjectRow
from trustledger.sanctions.screening import ScreeningIndex

SUBJECTS = 1_000_000
QUERIES = 1_000
BRUTE_SAMPLE = 10_000
BRUTE_QUERIES = 200  # a full scan per query is slow; 200 give a stable median
TYPO_CHARS = "乙丙丁戊己庚辛壬癸甲"


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def _short(name: str) -> str:
    if name.endswith("自治区"):
        return "内蒙古" if name.startswith("内蒙古") else name[:2]
    return name[:-1] if len(name) > 2 and name[-1] in "省市" else name


def synthetic_subjects(count: int, seed: int = 1) -> list[SubjectRow]:
    """Organisation rows drawn from the demo word pools: fast, not realistic in detail."""
    rng = random.Random(seed)
    divisions = load_divisions()
    by_code = {d.code: d for d in divisions}
    counties = [d for d in divisions if d.code[4:] != "00"]
    weights = [w for _, _, w in LEGAL_FORMS]
    rows: list[SubjectRow] = []
    for i in range(count):
        county = rng.choice(counties)
        city = by_code.get(county.code[:4] + "00") or by_code[county.code[:2] + "0000"]
        prov = by_code[county.code[:2] + "0000"]
        trade = rng.choice(TRADE_CHARS) + rng.choice(TRADE_CHARS)
        aliases: list[str] = []
        former: list[str] = []
        if rng.random() < 0.1:
            shop = rng.choice(SHOPS)[0]
            name = f"{county.name}{trade}{shop}"
            kind = "individual_business"
        else:
            kind = "enterprise"
            industry, _, industry_en = rng.choice(INDUSTRIES)
            form, form_en, _ = rng.choices(LEGAL_FORMS, weights)[0]
            style = rng.random()
            if style < 0.45:
                name = f"{city.name}{trade}{industry}{form}"
            elif style < 0.6:
                name = f"{_short(prov.name)}{trade}{industry}{form}"
            elif style < 0.8:
                name = f"{trade}{industry}（{_short(city.name)}）{form}"
            else:
                name = f"{trade}{industry}{form}"
            if rng.random() < 0.1:
                former.append(name.replace(industry, "实业", 1))
            if rng.random() < 0.3:
                aliases.append(f"{romanise(trade)} {industry_en} {form_en}")
        rows.append(
            SubjectRow(
                f"S{i:09d}",
                kind,
                name,
                county.code,
                json.dumps(former, ensure_ascii=False),
                json.dumps(aliases),
                f"{city.name}{county.name}{rng.randint(1, 999)}号",
                None,
                i,
                i,
            )
        )
    return rows


def make_queries(rows: list[SubjectRow], count: int, seed: int = 2) -> list[tuple[str, str]]:
    """(query, true subject id): a replaced or dropped character, a romanised alias."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for row in rng.sample(rows, count):
        name = row.name
        roll = rng.random()
        if roll < 0.4:
            i = rng.randrange(len(name) - 4)
            name = name[:i] + rng.choice(TYPO_CHARS) + name[i + 1 :]
        elif roll < 0.6:
            i = rng.randrange(len(name) - 4)
            name = name[:i] + name[i + 1 :]
        elif roll < 0.7 and row.aliases != "[]":
            name = json.loads(row.aliases)[0].upper()
        out.append((name, row.id))
    return out


def main() -> None:
    subjects = int(sys.argv[1]) if len(sys.argv) > 1 else SUBJECTS
    rss_start = _rss_mb()
    with Timer() as gen:
        rows = synthetic_subjects(subjects)
    rss_rows = _rss_mb()
    with Timer() as build:
        index = ScreeningIndex.build(rows)
    rss_index = _rss_mb()
    labelled = make_queries(rows, QUERIES)
    queries = [q for q, _ in labelled]
    # Millions of long-lived row objects make a full collection the one latency outlier.
    gc.collect()
    gc.freeze()

    index.screen(queries[0])  # warm the parse cache and code paths once
    latencies: list[float] = []
    found = 0
    for query, truth in labelled:
        start = time.perf_counter()
        result = index.screen(query, limit=10)
        latencies.append((time.perf_counter() - start) * 1000)
        found += any(c.subject_id == truth for c in result)
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * len(latencies)) - 1]

    sample = [r.name for r in random.Random(3).sample(rows, BRUTE_SAMPLE)]
    brute: list[float] = []
    for query in queries[:BRUTE_QUERIES]:
        start = time.perf_counter()
        process.extract(query, sample, scorer=fuzz.WRatio, limit=10)
        brute.append((time.perf_counter() - start) * 1000)
    brute_p50 = statistics.median(brute)

    save(
        "screening",
        {
            "subjects": subjects,
            "name_forms": index.name_forms,
            "stop_grams": len(index.stop_grams),
            "generate_s": round(gen.seconds, 1),
            "build_s": round(build.seconds, 1),
            "rss_rows_mb": round(rss_rows - rss_start),
            "rss_index_mb": round(rss_index - rss_rows),
            "rss_total_mb": round(rss_index),
            "queries": len(queries),
            "true_match_in_top_10": round(found / len(queries), 3),
            "p50_ms": round(p50, 2),
            "p95_ms": round(p95, 2),
            "max_ms": round(latencies[-1], 2),
            "target_p95_ms": 50,
            "brute_force_sample": BRUTE_SAMPLE,
            "brute_force_p50_ms": round(brute_p50, 2),
            "ratio_p50_to_brute_force_10k": round(p50 / brute_p50, 3),
        },
    )


if __name__ == "__main__":
    main()
