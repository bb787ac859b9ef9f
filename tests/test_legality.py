"""Principle 1 (legal basis) and principle 2 (prohibited grounds) as a shared lint."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from trustledger.catalogue import national_catalogue
from trustledger.legality import (
    LegalBasis,
    LegalityError,
    ProhibitedGround,
    declared_prohibited_grounds,
    ensure_legal,
    find_prohibited_grounds,
    legal_basis_problems,
    prohibited_ground_problems,
)

G = ProhibitedGround


def grounds_in(text: str) -> set[ProhibitedGround]:
    return {ground for ground, _ in find_prohibited_grounds(text)}


# ── LegalBasis ─────────────────────────────────────────────────────────────────────────


def test_legal_basis_minimal_and_full() -> None:
    basis = LegalBasis(instrument="NDRC Order No. 58 (2023)")
    assert basis.article is None and basis.note is None
    full = LegalBasis.model_validate(
        {"instrument": "Administrative Penalty Law", "article": 48, "note": "publicity"}
    )
    assert full.article == "48"
    assert str(full) == "Administrative Penalty Law, art. 48"


@pytest.mark.parametrize("instrument", ["", "   "])
def test_legal_basis_refuses_empty_instrument(instrument: str) -> None:
    with pytest.raises(ValidationError):
        LegalBasis(instrument=instrument)


def test_legal_basis_refuses_unknown_field() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        LegalBasis.model_validate({"instrument": "X", "paragraph": "2"})


# ── term scan: hits ────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("text", "ground", "term"),
    [
        ("Deduct points for petitioning higher authorities", G.PETITIONING, "petitioning"),
        ("越级上访", G.PETITIONING, "上访"),
        ("信访人员名单", G.PETITIONING, "信访"),
        ("Membership of a religious group", G.RELIGION, "religious"),
        ("宗教活动", G.RELIGION, "宗教"),
        ("信仰情况", G.RELIGION, "信仰"),
        ("ethnic origin of the applicant", G.ETHNICITY, "ethnic"),
        ("少数民族", G.ETHNICITY, "民族"),
        ("political opinions expressed online", G.POLITICAL_OPINION, "political"),
        ("发表不当政治言论", G.POLITICAL_OPINION, "政治"),
        ("took part in a protest", G.PROTEST_ASSEMBLY, "protest"),
        ("street demonstrations", G.PROTEST_ASSEMBLY, "demonstrations"),
        ("参加集会", G.PROTEST_ASSEMBLY, "集会"),
        ("组织游行示威", G.PROTEST_ASSEMBLY, "游行"),
        ("trade union membership", G.UNION_MEMBERSHIP, "trade union"),
        ("加入工会", G.UNION_MEMBERSHIP, "工会"),
        ("chronic illness", G.HEALTH, "illness"),
        ("a pre-existing medical condition", G.HEALTH, "medical condition"),
        ("health status of the employee", G.HEALTH, "health status"),
        ("患病人员", G.HEALTH, "患病"),
        ("健康状况不佳", G.HEALTH, "健康状况"),
        ("sexual orientation", G.SEXUAL_ORIENTATION, "sexual orientation"),
        ("性取向", G.SEXUAL_ORIENTATION, "性取向"),
        ("debts of a relative", G.RELATIVES_CONDUCT, "relative"),
        ("family members of the debtor", G.RELATIVES_CONDUCT, "family members"),
        ("亲属失信", G.RELATIVES_CONDUCT, "亲属"),
        ("家属上访", G.RELATIVES_CONDUCT, "家属"),
    ],
)
def test_term_hits(text: str, ground: ProhibitedGround, term: str) -> None:
    assert (ground, term) in find_prohibited_grounds(text)


def test_every_ground_has_an_english_and_a_chinese_term() -> None:
    english = {
        G.POLITICAL_OPINION: "political",
        G.PROTEST_ASSEMBLY: "protest",
        G.PETITIONING: "petition",
        G.RELIGION: "religion",
        G.ETHNICITY: "ethnicity",
        G.UNION_MEMBERSHIP: "trade union",
        G.HEALTH: "disease",
        G.SEXUAL_ORIENTATION: "sexual orientation",
        G.RELATIVES_CONDUCT: "family member",
    }
    chinese = {
        G.POLITICAL_OPINION: "政治",
        G.PROTEST_ASSEMBLY: "示威",
        G.PETITIONING: "信访",
        G.RELIGION: "宗教",
        G.ETHNICITY: "民族",
        G.UNION_MEMBERSHIP: "工会",
        G.HEALTH: "患病",
        G.SEXUAL_ORIENTATION: "性取向",
        G.RELATIVES_CONDUCT: "亲属",
    }
    assert set(english) == set(chinese) == set(ProhibitedGround)
    for ground in ProhibitedGround:
        assert grounds_in(english[ground]) == {ground}
        assert grounds_in(chinese[ground]) == {ground}


def test_matching_is_case_and_width_insensitive_and_tolerates_spacing() -> None:
    assert grounds_in("SOC-PETITION") == {G.PETITIONING}
    assert grounds_in("ＰＥＴＩＴＩＯＮ") == {G.PETITIONING}
    assert grounds_in("上 访") == {G.PETITIONING}
    assert grounds_in("Trade-Union") == {G.UNION_MEMBERSHIP}


def test_several_grounds_are_all_reported_in_order() -> None:
    found = find_prohibited_grounds("上访 or religious or 上访 again")
    assert found == [(G.PETITIONING, "上访"), (G.RELIGION, "religious")]


def test_term_next_to_chinese_text_still_matches() -> None:
    assert grounds_in("涉及petition行为") == {G.PETITIONING}


# ── term scan: non-hits (ordinary regulatory vocabulary) ─────────────────────────────────


@pytest.mark.parametrize(
    "text",
    [
        "National Health Commission",
        "国家卫生健康委员会",
        "Food safety penalty (general)",
        "breach of food safety standards or hygiene requirements",
        "infectious disease prevention and control",
        "occupational disease hazards at the workplace",
        "疾病预防控制中心",
        "文化和旅游行政处罚（一般）",
        "旅游行业",
        "行政治理",
        "职工会议",
        "a model or demonstration enterprise title",
        "demonstrated compliance",
        "a bankruptcy petition",
        "petition for retrial",
        "protested bills of exchange",
        "in good faith",
        "credit union",
        "European Union",
        "general assembly of shareholders",
        "assembly line",
        "struck off the register",
        "relative humidity of the flue gas",
        "relative to the limit",
        "relatively small",
        "kind of goods",
        "aids enforcement",
        "monitoring equipment was disabled",
        "audit opinion",
        "high-fee private schooling for its children",
        "限制高消费，子女就读高收费私立学校",
        "Tibet Autonomous Region",
        "人民法院",
        "诚信守信失信",
        "party to the contract",
    ],
)
def test_term_non_hits(text: str) -> None:
    assert find_prohibited_grounds(text) == []


def test_masks_do_not_hide_a_real_hit_next_to_them() -> None:
    assert grounds_in("因上访问题被列入") == {G.PETITIONING}
    assert grounds_in("infectious disease control; and chronic disease") == {G.HEALTH}
    assert grounds_in("bankruptcy petition and petitioning officials") == {G.PETITIONING}


def test_shipped_catalogue_vocabulary_is_clean() -> None:
    for category in national_catalogue():
        for text in (category.code, category.title, category.title_zh, category.description):
            assert find_prohibited_grounds(text) == [], (category.code, text)


# ── declared tags ──────────────────────────────────────────────────────────────────────


def test_declared_tags_equal_to_a_ground_are_refused() -> None:
    assert declared_prohibited_grounds(["tax", "petitioning"]) == [(G.PETITIONING, "petitioning")]
    assert declared_prohibited_grounds(["Relatives-Conduct"]) == [
        (G.RELATIVES_CONDUCT, "Relatives-Conduct")
    ]
    assert declared_prohibited_grounds(["tax_evasion", "wage_arrears"]) == []


# ── problem messages and LegalityError ───────────────────────────────────────────────────


def test_problem_message_names_item_ground_term_and_field() -> None:
    problems = prohibited_ground_problems("category SOC-PETITION", {"title": "上访人员"})
    assert problems == [
        "category SOC-PETITION: prohibited ground 'petitioning' (matched '上访' in title)"
    ]


def test_problem_for_a_declared_tag() -> None:
    problems = prohibited_ground_problems("list BLACK-X", {}, ["union_membership"])
    assert problems == [
        "list BLACK-X: prohibited ground 'union_membership' (declared as 'union_membership'"
        " in grounds)"
    ]


def test_tag_text_is_scanned_too() -> None:
    problems = prohibited_ground_problems("list L", {}, ["信访记录"])
    assert problems == ["list L: prohibited ground 'petitioning' (matched '信访' in grounds)"]


def test_legal_basis_problem() -> None:
    assert legal_basis_problems("category X", []) == ["category X: no legal basis"]
    assert legal_basis_problems("category X", None) == ["category X: no legal basis"]
    assert legal_basis_problems("category X", [LegalBasis(instrument="Law")]) == []


def test_ensure_legal_raises_with_every_problem() -> None:
    with pytest.raises(LegalityError) as info:
        ensure_legal(
            "category SOC-PETITION",
            legal_basis=[],
            fields={"title": "Petitioners", "title_zh": "上访人员"},
            grounds=["religion"],
        )
    error = info.value
    assert isinstance(error, ValueError)
    assert error.problems == [
        "category SOC-PETITION: no legal basis",
        "category SOC-PETITION: prohibited ground 'petitioning' (matched 'Petitioners' in title)",
        "category SOC-PETITION: prohibited ground 'petitioning' (matched '上访' in title_zh)",
        "category SOC-PETITION: prohibited ground 'religion' (declared as 'religion' in grounds)",
    ]
    assert "matched '上访' in title_zh" in str(error)


def test_ensure_legal_passes_a_lawful_item() -> None:
    ensure_legal(
        "category TAX-PENALTY-GENERAL",
        legal_basis=[LegalBasis(instrument="Tax Collection and Administration Law")],
        fields={"title": "Tax administrative penalty"},
        grounds=["tax"],
    )
