"""The prohibited-ground lexicon: measured on labelled titles, by meaning rather than by
characters, on every text field of what a rulebook or catalogue defines."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from trustledger.catalogue import national_catalogue
from trustledger.legality import ProhibitedGround, find_prohibited_grounds
from trustledger.legality.lexicon import _element, lexicon
from trustledger.rulebook.lint import lint_rulebook
from trustledger.rulebook.load import parse_rulebook
from trustledger.yamlfile import load_strict

DATA = Path(__file__).parent / "data" / "prohibited_grounds"
LEXICON = Path(__file__).parents[1] / "trustledger" / "legality" / "prohibited_grounds.yaml"
SHIPPED = sorted((Path(__file__).parents[1] / "trustledger" / "rulebooks_shipped").glob("*.yaml"))


def measured(name: str) -> tuple[float, float, list[str]]:
    """Recall, precision and the misses (false negatives, false alarms, wrong grounds)."""
    rows = yaml.safe_load((DATA / f"{name}.yaml").read_text(encoding="utf-8"))
    tp = fp = fn = 0
    misses = []
    for row in rows:
        found = {ground.value for ground, _ in find_prohibited_grounds(row["text"])}
        wanted = row["ground"]
        if wanted is None and found:
            fp += 1
            misses.append(f"false alarm {row['text']!r}: {sorted(found)}")
        elif wanted is not None and not found:
            fn += 1
            misses.append(f"missed {row['text']!r} ({wanted})")
        elif wanted is not None:
            tp += 1
            if wanted not in found:
                misses.append(f"wrong ground {row['text']!r}: {sorted(found)}, not {wanted}")
    return tp / (tp + fn), tp / (tp + fp), misses


@pytest.mark.parametrize("name", ["labelled", "heldout"])
def test_recall_and_precision_on_labelled_titles(name: str) -> None:
    rows = yaml.safe_load((DATA / f"{name}.yaml").read_text(encoding="utf-8"))
    prohibited = sum(r["ground"] is not None for r in rows)
    assert prohibited == len(rows) - prohibited  # half and half, as the set is meant
    recall, precision, misses = measured(name)
    assert recall >= 0.98 and precision >= 0.95, misses
    assert not [m for m in misses if m.startswith("wrong ground")], misses


def test_the_labelled_set_covers_every_ground_in_both_languages() -> None:
    rows = yaml.safe_load((DATA / "labelled.yaml").read_text(encoding="utf-8"))
    assert len(rows) >= 200
    for ground in ProhibitedGround:
        texts = [r["text"] for r in rows if r["ground"] == ground.value]
        assert any(t.isascii() for t in texts), ground
        assert any(not t.isascii() for t in texts), ground


@pytest.mark.parametrize(
    ("text", "ground"),
    [
        # paraphrases: none of the words of the old list, the same ground
        ("越级反映问题", ProhibitedGround.PETITIONING),
        ("多次到北京反映诉求", ProhibitedGround.PETITIONING),
        ("打横幅聚集维权", ProhibitedGround.PROTEST_ASSEMBLY),
        ("出租车司机集体罢运", ProhibitedGround.PROTEST_ASSEMBLY),
        ("信教群众", ProhibitedGround.RELIGION),
        ("其父亲曾被判刑", ProhibitedGround.RELATIVES_CONDUCT),
        ("工人自发成立维权组织", ProhibitedGround.UNION_MEMBERSHIP),
        ("在微博上批评地方官员", ProhibitedGround.POLITICAL_OPINION),
        ("与同性伴侣共同生活", ProhibitedGround.SEXUAL_ORIENTATION),  # cut as 同|性伴侣
        ("Workers who went on strike", ProhibitedGround.PROTEST_ASSEMBLY),  # went → go
        ("Repeated visits to the letters and calls bureau", ProhibitedGround.PETITIONING),
        ("The applicant's father was convicted", ProhibitedGround.RELATIVES_CONDUCT),
        ("AIDS patients", ProhibitedGround.HEALTH),
    ],
)
def test_paraphrases_are_found(text: str, ground: ProhibitedGround) -> None:
    assert ground in {g for g, _ in find_prohibited_grounds(text)}


@pytest.mark.parametrize(
    "text",
    [
        "非法集资",  # fundraising, not 非法集会 (assembly)
        "聚众赌博",
        "旅游行政管理部门",  # 游行 across the words 旅游|行政
        "违规查询个人征信访问记录",  # 信访 across 征信|访问
        "收集会计凭证不全",  # 集会 across 收集|会计
        "未按规定拨缴工会经费",  # an employer's duty under the Trade Union Law
        "拒不缴纳残疾人就业保障金",
        "违规悬挂广告横幅",
        "aids enforcement",  # the verb, not the disease
        "Striking off the register for failure to file",
    ],
)
def test_lawful_look_alikes_pass(text: str) -> None:
    assert find_prohibited_grounds(text) == []


def test_overlapping_words_of_one_ground_are_reported_once_by_the_shortest() -> None:
    assert find_prohibited_grounds("越级上访") == [(ProhibitedGround.PETITIONING, "上访")]


# -- every text field of a shipped rulebook, with a paraphrase written into it


def _rulebook_data(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


PARAPHRASE = "（含越级反映问题人员）"  # petitioning, in none of the old list's words


def _write(data: dict[str, Any], place: str) -> None:
    """The paraphrase appended to one text field; KeyError/IndexError if there is none."""
    if place == "list title":
        data["lists"][0]["title"] += PARAPHRASE
    elif place == "list removal":
        data["lists"][0]["removal"] += PARAPHRASE
    elif place == "legal basis note of a list":
        basis = data["lists"][0]["legal_basis"][0]
        basis["note"] = basis.get("note", "") + PARAPHRASE
    elif place == "measure agency":
        data["measures"][0]["agency"] += PARAPHRASE
    elif place == "rulebook title":
        data["title"] += PARAPHRASE
    elif place == "a source cited":
        data["sources"][0] += PARAPHRASE


PLACES = ["list title", "list removal", "legal basis note of a list", "measure agency",
          "rulebook title", "a source cited"]  # fmt: skip


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_paraphrase_in_any_text_field_of_a_shipped_rulebook_is_refused(path: Path) -> None:
    original = _rulebook_data(path)
    assert lint_rulebook(parse_rulebook(yaml.safe_dump(original, allow_unicode=True)),
                         national_catalogue()) == []  # fmt: skip
    tried = 0
    for label in PLACES:
        data = copy.deepcopy(original)
        try:
            _write(data, label)
        except (KeyError, IndexError):
            continue  # this rulebook has no such field (no measures, no legal basis on a list)
        tried += 1
        problems = lint_rulebook(parse_rulebook(yaml.safe_dump(data, allow_unicode=True)),
                                 national_catalogue())  # fmt: skip
        assert any("prohibited ground 'petitioning'" in p.message for p in problems), label
    assert tried >= 3


# -- the lexicon file itself


def test_the_lexicon_is_strict_yaml_with_every_ground_in_both_languages() -> None:
    raw, _ = load_strict(LEXICON.read_text(encoding="utf-8"))  # duplicate keys refused
    assert set(raw) == {g.value for g in ProhibitedGround}
    for ground in lexicon():
        written = [t for t, _ in ground.terms]
        assert any(t.isascii() for t in written), ground.name
        assert any(not t.isascii() for t in written), ground.name


@pytest.mark.parametrize(
    ("element", "message"),
    [
        ("上访||信访", "empty alternative"),
        ("sit-in", "cannot read 'sit-in'"),
        ("上访|x y", "cannot"),
    ],
)
def test_a_bad_lexicon_element_is_named(element: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _element(element)
