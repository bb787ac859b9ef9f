"""Name screening: normalisation, the review-only outcome, and recall on a labelled set."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, get_args

import pytest

from trustledger.demo import generate
from trustledger.demo.names import INDUSTRIES, LEGAL_FORMS
from trustledger.ids import check_identifier
from trustledger.ledger.projection import SubjectRow
from trustledger.sanctions.screening import (
    LEGAL_FORM_TOKEN,
    WEIGHTS,
    Outcome,
    ScreeningIndex,
    normalise_name,
    parse_name,
)

AS_OF = date(2026, 11, 1)
# Characters no demo name uses, so a typo never turns into another subject's name.
TYPO_CHARS = "乙丙丁戊己庚辛壬癸甲"


def _row(
    id: str,
    name: str,
    kind: str = "enterprise",
    division: str | None = "440305",
    former: list[str] | None = None,
    aliases: list[str] | None = None,
    address: str | None = None,
) -> SubjectRow:
    return SubjectRow(
        id,
        kind,
        name,
        division,
        json.dumps(former or [], ensure_ascii=False),
        json.dumps(aliases or [], ensure_ascii=False),
        address,
        None,
        1,
        1,
    )


def _subject_row(line: dict[str, Any]) -> SubjectRow:
    code = line["subject"]
    check = check_identifier(code)
    if check.scheme == "resident_id" or check.is_personal:
        kind, division = "person", code[:6]
    else:
        # Demo codes with a deliberately broken check character are still organisations.
        kind = check.kind.value if check.kind else "other_organisation"
        division = code[2:8]
    return _row(
        code,
        line["name"],
        kind,
        division,
        line.get("former_names"),
        line.get("aliases"),
        line.get("address"),
    )


@lru_cache(maxsize=1)
def _demo_rows() -> tuple[SubjectRow, ...]:
    lines = generate(seed=11, subjects=3000, as_of=AS_OF)
    return tuple(_subject_row(line) for line in lines if line["op"] == "subject")


@lru_cache(maxsize=1)
def _demo_index() -> ScreeningIndex:
    return ScreeningIndex.build(_demo_rows())


# ---- normalisation


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("华韵科技有限公司", "华韵科技有限责任公司"),
        ("华韵科技有限公司", "华韵科技股份有限公司"),
        ("华韵科技有限公司", "华韵科技有限"),
        ("华韵科技（深圳）有限公司", "华韵科技(深圳)有限公司"),
        ("华韵科技（深圳）有限公司", "深圳市华韵科技有限公司"),
        ("华韵科技 有限公司", "华韵科技有限公司"),
        ("ＡＢＣ科技有限公司", "abc科技有限公司"),
        ("Huayun Technology Co., Ltd.", "HUAYUN TECHNOLOGY COMPANY LIMITED"),
        ("Huayun Technology Co., Ltd.", "Huayun Technology Corp."),
        ("Huayun Technology Co., Ltd.", "huayun technology limited"),
        ("Ｈｕａｙｕｎ　Ｔｅｃｈｎｏｌｏｇｙ　Ｃｏ．，Ｌｔｄ．", "Huayun Technology Co., Ltd."),
        ("Huayun Technology (Shenzhen) Co., Ltd.", "Huayun Technology （SHENZHEN） Limited"),
    ],
)
def test_variants_normalise_equal(a: str, b: str) -> None:
    assert normalise_name(a) == normalise_name(b)


def test_normalised_form() -> None:
    assert normalise_name("华韵科技（深圳）有限公司") == f"华韵科技 深圳 {LEGAL_FORM_TOKEN}"
    assert normalise_name("Huayun Technology Co., Ltd.") == f"huayun technology {LEGAL_FORM_TOKEN}"
    parsed = parse_name("广东省深圳市华韵科技股份有限公司")
    assert parsed.distinctive == "华韵科技"
    assert parsed.places == ("广东", "深圳")
    assert parsed.legal_form == LEGAL_FORM_TOKEN
    # A name that is only a region keeps it as the distinctive part.
    assert parse_name("深圳市").distinctive == "深圳市"


def test_distinct_names_stay_distinct() -> None:
    assert normalise_name("华韵科技有限公司") != normalise_name("华韵贸易有限公司")
    assert normalise_name("华韵科技（深圳）有限公司") != normalise_name("华韵科技（广州）有限公司")


# ---- index behaviour


def test_outcome_is_always_review() -> None:
    index = _demo_index()
    queries = ["华韵科技有限公司", "有限公司", "x", "Technology Co., Ltd.", "完全不相干的名字"]
    queries += [row.name for row in _demo_rows()[:200]]
    seen = 0
    for query in queries:
        for candidate in index.screen(query, region="44", address="人民路1号"):
            seen += 1
            assert candidate.outcome == "review"
            assert 0.0 <= candidate.score <= 1.0
            assert set(candidate.features) <= set(WEIGHTS)
            assert len(candidate.explain()) == len(candidate.features)
    assert seen > 0
    assert get_args(Outcome) == ("review",)


def test_persons_are_not_indexed() -> None:
    rows = [
        _row("P1", "张伟", kind="person", division="110101"),
        _row("C1", "张伟科技有限公司"),
    ]
    index = ScreeningIndex.build(rows)
    assert len(index) == 1
    found = index.screen("张伟")
    assert all(c.subject_id != "P1" for c in found)
    demo = _demo_index()
    persons = {r.id for r in _demo_rows() if r.kind == "person"}
    assert persons
    assert len(demo) == len(_demo_rows()) - len(persons)
    for row in [r for r in _demo_rows() if r.kind == "person"][:50]:
        assert all(c.subject_id not in persons for c in demo.screen(row.name))


def test_features_and_forms() -> None:
    rows = [
        _row(
            "C1",
            "深圳市华韵科技有限公司",
            division="440305",
            former=["深圳市华韵实业有限公司"],
            aliases=["Shenzhen Huayun Technology Co., Ltd."],
            address="广东省深圳市南山区科技路8号",
        ),
        _row("C2", "广州市华韵科技有限公司", division="440106"),
        _row("C3", "华韵贸易（北京）有限公司", division="110105"),
    ]
    index = ScreeningIndex.build(rows)
    top = index.screen("华韵科技（深圳）有限责任公司", region="4403")
    assert top[0].subject_id == "C1"
    assert top[0].features["name_similarity"] == 1.0
    assert top[0].features["place_match"] == 1.0
    assert top[0].features["region_match"] == 1.0
    assert {c.subject_id for c in top} >= {"C1", "C2"}
    c2 = next(c for c in top if c.subject_id == "C2")
    assert c2.features["region_match"] == 0.5  # same province, other prefecture
    assert c2.score < top[0].score

    former = index.screen("深圳市华韵实业有限公司")[0]
    assert (former.subject_id, former.name_form, former.features["former_name"]) == (
        "C1",
        "former_name",
        1.0,
    )
    roman = index.screen("HUAYUN TECHNOLOGY (SHENZHEN) COMPANY LIMITED")[0]
    assert (roman.subject_id, roman.name_form, roman.features["alias"]) == ("C1", "alias", 1.0)

    with_address = index.screen("华韵科技", address="深圳市南山区科技路8号")
    assert "address_similarity" in with_address[0].features
    with pytest.raises(ValueError):
        index.screen("华韵科技", region="44030")


def test_common_grams_are_capped() -> None:
    rows = [_row(f"C{i}", f"{chr(0x4E00 + i)}{chr(0x4F00 + i)}科技有限公司") for i in range(50)]
    index = ScreeningIndex.build(rows, gram_cap=10)
    assert "b科技" in index.stop_grams
    assert index.screen(rows[7].name)[0].subject_id == "C7"


# ---- labelled recall set


def _fullwidth(text: str) -> str:
    out = []
    for ch in text:
        code = ord(ch)
        if ch == " ":
            out.append("\u3000")
        elif 0x21 <= code <= 0x7E:
            out.append(chr(code + 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


def _legal_split(name: str) -> tuple[str, str]:
    for form in ("股份有限公司", "有限责任公司", "有限公司"):
        if name.endswith(form):
            return name[: -len(form)], form
    return name, ""


def _core_span(name: str) -> tuple[int, int]:
    """Start and end of the characters of ``name`` a typo may hit: not the legal form."""
    body, _ = _legal_split(name)
    return 0, len(body)


def _replace_char(rng: random.Random, name: str) -> str:
    start, end = _core_span(name)
    i = rng.randrange(start, end)
    return name[:i] + rng.choice(TYPO_CHARS) + name[i + 1 :]


def _drop_char(rng: random.Random, name: str) -> str:
    start, end = _core_span(name)
    i = rng.randrange(start, end)
    return name[:i] + name[i + 1 :]


def _drop_word(rng: random.Random, name: str) -> str:
    parsed = parse_name(name)
    body, form = _legal_split(name)
    if parsed.full != parsed.distinctive and rng.random() < 0.7:
        # Drop the leading region.
        return parsed.distinctive + form
    if "（" in body:
        return body.split("（")[0] + form
    return body


def _swap_words(rng: random.Random, name: str) -> str:
    parsed = parse_name(name)
    body, form = _legal_split(name)
    if parsed.full != parsed.distinctive:
        # Region prefix moved into brackets, the other common way of writing it.
        return f"{parsed.distinctive}（{parsed.places[-1]}）{form}"
    if "（" in body:
        core, place = body.split("（", 1)
        return place.rstrip("）") + core + form
    for word, _, _ in sorted(INDUSTRIES, key=lambda i: -len(i[0])):
        if body.endswith(word) and len(body) > len(word):
            # Business words before the trade name: 科技华韵 for 华韵科技.
            return word + body[: -len(word)] + form
    half = len(body) // 2
    return body[half:] + body[:half] + form


def _legal_variant(rng: random.Random, name: str) -> str:
    body, form = _legal_split(name)
    others = [f for f, _, _ in LEGAL_FORMS if f != form] + ["有限"]
    return body + rng.choice(others)


def _fullwidth_variant(rng: random.Random, name: str) -> str:
    return _fullwidth(name.replace("（", "(").replace("）", ")"))


VARIANTS: dict[str, Callable[[random.Random, str], str]] = {
    "replace_char": _replace_char,
    "drop_char": _drop_char,
    "drop_word": _drop_word,
    "swap_words": _swap_words,
    "legal_form": _legal_variant,
    "fullwidth": _fullwidth_variant,
}


def _alias_variant(rng: random.Random, alias: str) -> str:
    roll = rng.random()
    if roll < 0.3:
        return alias.upper().replace("CO., LTD.", "COMPANY LIMITED")
    if roll < 0.5:
        return _fullwidth(alias)
    if roll < 0.7:
        return alias.lower().replace("co., ltd.", "limited")
    return alias


def _labelled_queries() -> list[tuple[str, str, str]]:
    """(kind of variant, query, true subject id), deterministic."""
    rng = random.Random(11)
    orgs = sorted((r for r in _demo_rows() if r.kind != "person"), key=lambda r: r.id)
    sample = rng.sample(orgs, 500)
    queries: list[tuple[str, str, str]] = []
    kinds = sorted(VARIANTS)
    for i, row in enumerate(sample):
        kind = kinds[i % len(kinds)]
        queries.append((kind, VARIANTS[kind](rng, row.name), row.id))
    for row in orgs:
        for former in json.loads(row.former_names):
            queries.append(("former_name", former, row.id))
        for alias in json.loads(row.aliases)[:1]:
            if rng.random() < 0.5:
                queries.append(("alias", _alias_variant(rng, alias), row.id))
    return queries


def test_labelled_recall() -> None:
    index = _demo_index()
    queries = _labelled_queries()
    per_kind: dict[str, list[int]] = {}
    found_at_5 = first = 0
    misses: list[tuple[str, str, str, list[str]]] = []
    for kind, query, truth in queries:
        ids = [c.subject_id for c in index.screen(query, limit=5)]
        hit5 = truth in ids
        hit1 = bool(ids) and ids[0] == truth
        found_at_5 += hit5
        first += hit1
        tally = per_kind.setdefault(kind, [0, 0, 0])
        tally[0] += 1
        tally[1] += hit5
        tally[2] += hit1
        if not hit5:
            misses.append((kind, query, truth, ids))
    recall = found_at_5 / len(queries)
    top1 = first / len(queries)
    print(f"\nqueries={len(queries)} recall@5={recall:.3f} top1={top1:.3f}")
    for kind, (n, r5, r1) in sorted(per_kind.items()):
        print(f"  {kind:<13} n={n:<4} recall@5={r5 / n:.3f} top1={r1 / n:.3f}")
    for miss in misses[:10]:
        print("  miss:", miss)
    assert len(queries) >= 500
    assert set(per_kind) >= {*VARIANTS, "former_name", "alias"}
    assert recall >= 0.95
    assert top1 >= 0.85


# ---- the command: who each candidate is, and whether it is listed


def test_screen_command_says_who_is_listed_and_never_more_than_review(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from builders import COURT, FIRM, FIRM2, authorities, debtor, uscc
    from typer.testing import CliRunner

    from trustledger.cli import app
    from trustledger.settings import Settings

    monkeypatch.setenv("TRUSTLEDGER_DB", f"sqlite:///{tmp_path / 's.db'}")
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY_FILE", str(tmp_path / "person.key"))
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        return result.stdout

    run("init", "--new-person-key")
    run("rulebook", "publish", "cn-spc-dishonest-debtors")
    today = Settings().today()
    firm3 = uscc("91", "440305", "MA5DA0B2")
    lines = [
        *authorities(),
        # on the list in effect: published two months ago, past its month of notice
        debtor(decision_date=(today - timedelta(days=61)).isoformat(),
               publication_date=(today - timedelta(days=60)).isoformat()),
        {"op": "subject", "subject": FIRM2, "name": "深圳华韵科技股份有限公司"},
        # pending: published two days ago, still in its notice period (it denies nothing)
        debtor(subject=firm3, subject_name="深圳市华韵科技发展有限公司",
               document_number="(2026)粤0305执9号", authority=COURT,
               decision_date=(today - timedelta(days=3)).isoformat(),
               publication_date=(today - timedelta(days=2)).isoformat()),
    ]  # fmt: skip
    data = tmp_path / "lines.jsonl"
    data.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    run("ingest", str(data))

    def screened() -> dict[str, dict[str, Any]]:
        found = json.loads(run("screen", "深圳市华韵科技有限公司", "--json"))
        # the fields screen has always given, and who it is and whether it is listed
        keys = {"subject_id", "matched_name", "name_form", "score", "features", "outcome",
                "name", "division_names", "standing", "listed"}  # fmt: skip
        for c in found:
            assert keys <= set(c) and c["outcome"] == "review"
        return {c["subject_id"]: c for c in found}

    # not evaluated yet: neither listed nor not listed can be said
    before = screened()
    assert {before[s]["standing"] for s in (FIRM, FIRM2, firm3)} == {"not evaluated"}
    run("evaluate")
    after = screened()
    assert after[FIRM]["standing"] == "listed" and after[FIRM]["name"] == "深圳市华韵科技有限公司"
    (listing,) = after[FIRM]["listed"]
    assert listing["rulebook"].startswith("cn-spc-dishonest-debtors@")
    assert (listing["list_id"], listing["kind"], listing["list_title"]) == (
        "dishonest-judgment-debtors", "black", "失信被执行人名单")  # fmt: skip
    assert listing["effective_from"] > listing["since"]  # after the notice period
    assert after[FIRM2]["standing"] == "not listed" and after[FIRM2]["listed"] == []
    assert after[firm3]["standing"] == "not listed"  # a pending listing is not in effect

    text = run("screen", "深圳市华韵科技有限公司")
    # the features are explained once, however many candidates
    assert text.count("rapidfuzz similarity of the distinctive parts") == 1
    rows = [line for line in text.splitlines() if line.startswith("│")]
    firm_row = next(i for i, line in enumerate(rows) if "深圳市华韵科技有限公司" in line)
    assert "review" in rows[firm_row] or "review" in rows[firm_row + 1]
    assert FIRM in rows[firm_row + 1] and "广东省 深圳市 南山区" in rows[firm_row + 2]
    assert "black: 失信被执行人名单" in rows[firm_row]
    assert "cn-spc-dishonest-debtors" in rows[firm_row + 1]
    assert "name 1.00" in rows[firm_row]
    assert "not listed" in text and FIRM2 in text
    # a name match proposes review; it never clears or denies anyone
    assert not re.search(r"\b(clear|cleared|deny|denied|allow)\b", text, re.IGNORECASE)
