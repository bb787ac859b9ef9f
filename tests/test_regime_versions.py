"""A regime in its versions by the law's own dates: a version applies from its
``effective.from`` until its successor takes effect (``until: null`` means until
replaced); standing on a day is judged by the version in force that day — in a profile,
in the batch state, in the state kept current after an intake — and a version published
later with the same start replaces the earlier one (a correction).

The worked case: a serious penalty published 2025-06-01. Under the first version (serious
publicity at most 3 years) it is in force until 2028-06-01; the second version, in force
from 2026-04-01, keeps serious penalties public at most 1 year, so from 2026-04-01 the
record is judged by it and stops counting on 2026-06-01 (2025-06-01 + 1 year). The
serious-dishonesty list holds exactly while a serious penalty counts."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from builders import FIRM, MARKET, authorities, issue

from trustledger.catalogue import national_catalogue
from trustledger.evaluate.service import subject_profiles
from trustledger.evaluate.state import evaluate_all, refresh_subjects
from trustledger.ids import PersonKeyer, create_person_key_file
from trustledger.intake import Intake
from trustledger.ledger.store import Store, open_store
from trustledger.rulebook.publish import publish_rulebook, regime_versions, version_on

KEYER = PersonKeyer(bytes(range(32)))
ON = date(2026, 11, 26)
SHIPPED = Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped"
RID = "test-admin-penalty"
LIST = "serious-dishonesty-publicity"
CHANGE = date(2026, 4, 1)


def version(tmp_path: Path, name: str, start: str, serious_max: str) -> Path:
    """The national penalty regime as a test rulebook: its id, version, start and serious
    publicity maximum set here (the rest as shipped)."""
    data: dict[str, Any] = yaml.safe_load((SHIPPED / "cn-national-admin-penalty.yaml").read_text())
    data.update(id=RID, version=name, effective={"from": start, "until": None})
    # a plain succession, each version's window counted from publication: no transitional
    # rule (tests/test_publicity_clock.py has those)
    data.pop("transitional", None)
    data["publicity_from"] = "publication"
    for treatment in data["treatments"]:
        if "MKT-PENALTY-SERIOUS" in treatment["select"].get("codes", []):
            treatment["publicity"] = {"min": "1y", "max": serious_max}
    path = tmp_path / f"{RID}-{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


@pytest.fixture
def two_versions(db_url: str, tmp_path: Path) -> Store:
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    publish_rulebook(store, version(tmp_path, "2023.1", "2023-05-01", "3y"), national_catalogue())
    publish_rulebook(store, version(tmp_path, "2026.1", "2026-04-01", "1y"), national_catalogue())
    intake = Intake(store, national_catalogue(), KEYER, today=ON)
    lines = [*authorities(), issue(authority=MARKET, category="MKT-PENALTY-SERIOUS",
             document_number="深福市监罚〔2025〕12号", decision_date="2025-05-28",
             publication_date="2025-06-01", title="生产销售伪劣商品")]  # fmt: skip
    assert all(r.outcome == "accepted" for r in intake.submit_many(lines))
    return store


def listed(profile: Any) -> bool:
    return any(m.list_id == LIST for m in profile.lists)


def test_the_versions_follow_one_another(two_versions: Store) -> None:
    (first, second) = regime_versions(two_versions)[RID]
    assert (first.version, second.version) == ("2023.1", "2026.1")
    # the first ends the day before its successor takes effect; the second is open-ended
    assert first.effective.until == date(2026, 3, 31) and second.effective.until is None
    assert version_on([first, second], date(2025, 9, 1)) is first
    assert version_on([first, second], CHANGE) is second
    assert version_on([first, second], date(2020, 1, 1)) is first  # before both


@pytest.mark.parametrize(
    ("day", "ref", "on_list"),
    [
        ("2025-09-01", "2023.1", True),  # under the first: serious publicity up to 3 years
        ("2026-03-31", "2023.1", True),
        ("2026-05-01", "2026.1", True),  # under the second: 1 year from 2025-06-01
        ("2026-06-01", "2026.1", False),  # 2025-06-01 + 1 year: no longer counts
        ("2027-01-01", "2026.1", False),  # the first version would still list it
    ],
)
def test_a_profile_on_a_day_uses_the_version_in_force_that_day(
    two_versions: Store, day: str, ref: str, on_list: bool
) -> None:
    (profile,) = subject_profiles(two_versions, national_catalogue(), FIRM, at_us=None,
                                  on=date.fromisoformat(day), rulebook_id=RID)  # fmt: skip
    assert profile.rulebook == f"{RID}@{ref}"
    assert listed(profile) is on_list


def _runs(store: Store) -> list[tuple[str, str, str | None]]:
    return sorted((str(r[0]), str(r[4]), r[5]) for r in store.state_rows("state_lists")
                  if r[1] == LIST and r[2] == FIRM)  # fmt: skip


def test_the_state_holds_each_versions_runs_in_its_own_window(two_versions: Store) -> None:
    evaluate_all(two_versions, national_catalogue(), at_us=None, on=ON, engine="python")
    by_python = _runs(two_versions)
    # listed from publication until the change under the first; from the change until
    # 2026-06-01 under the second: exactly the days the worked case gives
    assert by_python == [
        (f"{RID}@2023.1", "2025-06-01", "2026-04-01"),
        (f"{RID}@2026.1", "2026-04-01", "2026-06-01"),
    ]
    evaluate_all(two_versions, national_catalogue(), at_us=None, on=ON, engine="duckdb")
    assert _runs(two_versions) == by_python
    # kept current after an intake: the same rows from the incremental path
    refresh_subjects(two_versions, national_catalogue(), [FIRM], on=ON)
    assert _runs(two_versions) == by_python


def test_a_later_version_with_the_same_start_is_a_correction(
    two_versions: Store, tmp_path: Path
) -> None:
    publish_rulebook(two_versions, version(tmp_path, "2026.2", "2026-04-01", "2y"),
                     national_catalogue())  # fmt: skip
    versions = regime_versions(two_versions)[RID]
    assert [v.version for v in versions] == ["2023.1", "2026.2"]
    (profile,) = subject_profiles(two_versions, national_catalogue(), FIRM, at_us=None,
                                  on=date(2027, 1, 1), rulebook_id=RID)  # fmt: skip
    # 2025-06-01 + 2 years: the corrected second version still counts it
    assert profile.rulebook == f"{RID}@2026.2" and listed(profile)


def test_files_given_newest_first_are_published_in_the_laws_order(
    db_url: str, tmp_path: Path
) -> None:
    from trustledger.app.context import Context
    from trustledger.app.rulebooks import in_law_order, publish
    from trustledger.settings import Settings

    newer = version(tmp_path, "2026.1", "2026-04-01", "1y")
    older = version(tmp_path, "2023.1", "2023-05-01", "3y")
    other = SHIPPED / "cn-spc-dishonest-debtors.yaml"
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [not a rulebook\n")
    # one regime's versions by their start, at the place of the first; the rest as given
    assert in_law_order([other, newer, broken, older]) == [other, older, newer, broken]
    key_file = tmp_path / "person.key"
    open_store(db_url).init(PersonKeyer(create_person_key_file(key_file)).fingerprint())
    settings = Settings(db_url=db_url, person_key_file=key_file)
    with Context.open(settings) as ctx:
        results = publish(ctx, [newer, older])
        assert [r.published for r in results] == [True, True]
        versions = regime_versions(ctx.store)[RID]
    # published in that order, the older does not replace the newer: both judge their days
    assert [v.version for v in versions] == ["2023.1", "2026.1"]


def test_the_shipped_penalty_regime_before_and_from_2026_04_01(db_url: str) -> None:
    """NDRC Order No. 58 until 2026-03-31, Order No. 36 from 2026-04-01: a minor market
    penalty may be repaired after 3 months under the first (its minimum), at once under the
    second (1 day, the shortest a duration allows)."""
    from trustledger.app.rulebooks import in_law_order, shipped_paths

    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    with shipped_paths() as paths:
        mine = [p for p in paths if p.name.startswith("cn-national-admin-penalty")]
        for path in in_law_order(mine):
            publish_rulebook(store, path, national_catalogue())
    before, after = regime_versions(store)["cn-national-admin-penalty"]
    assert (before.version, before.effective.until) == ("2025.3", date(2026, 3, 31))
    assert (after.version, after.effective.from_) == ("2026.2", CHANGE)
    assert "NDRC Order No. 58 (2023)" in before.legal_basis[0].instrument
    assert any(b.instrument == "NDRC Order No. 36" for b in after.legal_basis)

    def minor_minimum(rulebook: Any) -> str:
        (treatment,) = [t for t in rulebook.treatments
                        if "MKT-PENALTY-MINOR" in (t.select.codes or [])]  # fmt: skip
        return str(treatment.publicity.min)

    assert (minor_minimum(before), minor_minimum(after)) == ("3m", "1d")
    intake = Intake(store, national_catalogue(), KEYER, today=ON)
    assert all(r.outcome == "accepted" for r in intake.submit_many([*authorities(), issue(
        authority=MARKET, category="MKT-PENALTY-MINOR", document_number="深福市监罚〔2026〕3号",
        decision_date="2026-01-20", publication_date="2026-01-22", title="未按规定公示营业执照",
    )]))  # fmt: skip
    for day, ref in (("2026-02-01", "2025.3"), ("2026-04-01", "2026.2")):
        (profile,) = subject_profiles(store, national_catalogue(), FIRM, at_us=None,
                                      on=date.fromisoformat(day),
                                      rulebook_id="cn-national-admin-penalty")  # fmt: skip
        assert profile.rulebook == f"cn-national-admin-penalty@{ref}", day
