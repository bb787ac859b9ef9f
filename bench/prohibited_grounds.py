"""Prohibited-ground lexicon: recall and precision on the labelled titles and on the held-out
titles (never used to build the lexicon), per ground, and the cost of a check.

    .venv/bin/python bench/prohibited_grounds.py

The baseline is the previous scan, a word list matched as substrings, kept here only to be
measured against (the lexicon replaced it).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import yaml

from trustledger.legality import find_prohibited_grounds

DATA = Path(__file__).parents[1] / "tests" / "data" / "prohibited_grounds"

# the Chinese half of the word list the lexicon replaced (English was regular expressions)
_OLD_CHINESE = [
    "政治",
    "政见",
    "言论",
    "异见",
    "反政府",
    "妄议",
    "集会",
    "游行",
    "示威",
    "静坐",
    "聚众",
    "罢工",
    "抗议",
    "群体性事件",
    "信访",
    "上访",
    "缠访",
    "闹访",
    "宗教",
    "信仰",
    "教会",
    "教徒",
    "清真寺",
    "寺庙",
    "礼拜",
    "传教",
    "民族",
    "种族",
    "维吾尔",
    "藏族",
    "工会",
    "健康状况",
    "患病",
    "疾病",
    "病史",
    "残疾",
    "精神病",
    "艾滋病",
    "乙肝",
    "病毒携带",
    "性取向",
    "同性恋",
    "双性恋",
    "跨性别",
    "性少数",
    "亲属",
    "家属",
    "亲戚",
    "近亲",
    "家庭成员",
    "连坐",
]
_OLD = re.compile("|".join(map(re.escape, _OLD_CHINESE)))


def figures(rows: list[dict[str, str | None]], found: dict[str, bool]) -> tuple[float, float]:
    tp = sum(found[r["text"]] and r["ground"] is not None for r in rows)  # type: ignore[index]
    fp = sum(found[r["text"]] and r["ground"] is None for r in rows)  # type: ignore[index]
    fn = sum(not found[r["text"]] and r["ground"] is not None for r in rows)  # type: ignore[index]
    return tp / max(tp + fn, 1), tp / max(tp + fp, 1)


def main() -> None:
    for name in ("labelled", "heldout"):
        rows = yaml.safe_load((DATA / f"{name}.yaml").read_text(encoding="utf-8"))
        new = {r["text"]: bool(find_prohibited_grounds(r["text"])) for r in rows}
        chinese = [r for r in rows if not r["text"].isascii()]
        old = {r["text"]: bool(_OLD.search(r["text"])) for r in chinese}
        recall, precision = figures(rows, new)
        old_recall, old_precision = figures(chinese, old)
        zh_recall, zh_precision = figures(chinese, new)
        print(f"{name}: {len(rows)} titles ({sum(r['ground'] is not None for r in rows)} "
              f"prohibited): recall {recall:.3f}, precision {precision:.3f}")  # fmt: skip
        print(f"  Chinese titles ({len(chinese)}): lexicon recall {zh_recall:.3f} precision "
              f"{zh_precision:.3f}; substring word list recall {old_recall:.3f} precision "
              f"{old_precision:.3f}")  # fmt: skip
        per = Counter(r["ground"] for r in rows if r["ground"] and new[r["text"]])
        total = Counter(r["ground"] for r in rows if r["ground"])
        print("  per ground: " + ", ".join(f"{g} {per[g]}/{n}" for g, n in sorted(total.items())))
    texts = [r["text"] for r in yaml.safe_load((DATA / "labelled.yaml").read_text("utf-8"))]
    from trustledger.legality.lexicon import find

    started = time.perf_counter()
    rounds = 5
    for k in range(rounds):
        for text in texts:
            find.__wrapped__(f"{text}，{k}")  # uncached: the cost of a first sight
    per_check = (time.perf_counter() - started) / (rounds * len(texts))
    started = time.perf_counter()
    for k in range(rounds):
        for text in texts:
            _OLD.search(f"{text}，{k}")
    per_old = (time.perf_counter() - started) / (rounds * len(texts))
    print(f"check of one title: lexicon {per_check * 1e6:.0f} µs, substring list "
          f"{per_old * 1e6:.1f} µs (ratio {per_check / per_old:.0f})")  # fmt: skip


if __name__ == "__main__":
    main()
