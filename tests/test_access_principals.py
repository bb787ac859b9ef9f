"""Principals: keys per role with their scope, stored hashed, revoked and expiring; keys
made before principals existed keep working. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from builders import COURT, FIRM, authorities

from trustledger.access import principals
from trustledger.access.principals import (
    ApiKeyError,
    authenticate,
    create_key,
    get_principal,
    list_principals,
    revoke,
)
from trustledger.catalogue import national_catalogue
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.store import Store, open_store

KEYER = PersonKeyer(bytes(range(32)))
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@pytest.fixture
def ledger(db_url: str) -> Iterator[Store]:
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    intake = Intake(store, national_catalogue(), KEYER)
    assert all(r.outcome == "accepted" for r in intake.submit_many(authorities()))
    yield store
    store.close()


def test_each_role_with_its_scope(ledger: Store) -> None:
    person = KEYER.person_id("440305198001011234")
    made = {
        "checker": create_key(ledger, "checker", "民航局", actions=["air_travel"]),
        "issuer": create_key(ledger, "issuer", "法院", authority=COURT),
        "reviewer": create_key(ledger, "reviewer", "复核", authority=COURT),
        "operator": create_key(ledger, "operator", "信用中心"),
        "auditor": create_key(ledger, "auditor", "审计"),
        "subject": create_key(ledger, "subject", "华韵", subject=FIRM),
        "person": create_key(ledger, "subject", "张三", subject=person),
    }
    found = {name: authenticate(ledger, key, NOW) for name, key in made.items()}
    assert all(p is not None for p in found.values())
    checker = found["checker"]
    assert checker is not None and checker.role == "checker"
    assert checker.actions == {"air_travel"} and checker.may("air_travel")
    assert not checker.may("public_procurement")
    assert found["issuer"].authority == COURT  # type: ignore[union-attr]
    assert found["subject"].subject == FIRM  # type: ignore[union-attr]
    assert found["person"].subject == person  # type: ignore[union-attr]
    ids = {p.id for p in found.values() if p is not None}
    assert len(ids) == len(made) and all(i.startswith("p_") and len(i) == 18 for i in ids)
    # stable: the same id every time, and the listing has them all
    assert {p.id for p in list_principals(ledger)} == ids
    assert get_principal(ledger, checker.id) == checker
    # the key is never stored, nor derivable from the id
    rows = ledger.query("SELECT * FROM api_keys")
    text = json.dumps([list(map(str, r)) for r in rows])
    assert not any(key in text for key in made.values())


@pytest.mark.parametrize(
    ("role", "kwargs", "message"),
    [
        ("root", {}, "unknown role"),
        ("checker", {}, "at least one action"),
        ("checker", {"actions": ["teleportation"]}, "teleportation"),
        ("issuer", {}, "needs the authority"),
        ("issuer", {"authority": FIRM}, "not a registered issuing authority"),
        ("reviewer", {"authority": FIRM}, "not a registered issuing authority"),
        ("subject", {}, "subject's id"),
        ("subject", {"subject": "nobody"}, "ledger id"),
        ("operator", {"actions": ["air_travel"]}, "only a checker"),
        ("operator", {"authority": COURT}, "only issuer and reviewer"),
        ("checker", {"actions": ["air_travel"], "subject": FIRM}, "only a subject key"),
        ("operator", {"expires": "tomorrow"}, "ISO 8601"),
        ("operator", {"expires": "2027-01-01T00:00:00"}, "offset"),
    ],
)
def test_keys_are_refused_without_their_scope(
    ledger: Store, role: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ApiKeyError, match=message):
        create_key(ledger, role, "x", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ApiKeyError, match="name"):
        create_key(ledger, "operator", "  ")


def test_revoked_and_expired_keys_are_refused(ledger: Store) -> None:
    key = create_key(ledger, "operator", "信用中心")
    found = authenticate(ledger, key, NOW)
    assert found is not None and not found.revoked
    revoke(ledger, found.id)
    assert authenticate(ledger, key, NOW) is None
    again = get_principal(ledger, found.id)
    assert again is not None and again.revoked
    with pytest.raises(ApiKeyError, match="no principal"):
        revoke(ledger, "p_0000000000000000")
    soon = create_key(ledger, "auditor", "审计", expires="2026-11-26T17:00:00+08:00")
    expiring = authenticate(ledger, soon, NOW)
    assert expiring is not None and expiring.expires == "2026-11-26T09:00:00+00:00"
    assert authenticate(ledger, soon, NOW + timedelta(hours=1)) is None
    assert authenticate(ledger, soon, NOW + timedelta(minutes=59)) is not None
    assert authenticate(ledger, "nonsense", NOW) is None
    assert authenticate(ledger, soon + "x", NOW) is None


def test_keys_made_before_principals_keep_working(ledger: Store) -> None:
    # the first key table: five columns, no principal id
    ledger.execute("DROP TABLE IF EXISTS api_keys")
    ledger.execute(
        "CREATE TABLE api_keys (key_hash TEXT PRIMARY KEY, role TEXT NOT NULL, "
        "name TEXT NOT NULL, actions TEXT NOT NULL, created TEXT NOT NULL)"
    )
    key = "tlk_" + "a" * 32
    key_hash = principals._hash(key)
    ledger.execute(
        "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?)",
        [(key_hash, "checker", "old agency", '["air_travel"]', "2026-01-01T00:00:00+00:00")],
    )
    found = authenticate(ledger, key, NOW)
    assert found is not None and found.role == "checker" and found.actions == {"air_travel"}
    assert found.id == principals.principal_id_of(key_hash) and not found.revoked
    assert found.expires is None
    # and new keys sit beside it
    create_key(ledger, "operator", "new")
    assert len(list_principals(ledger)) == 2
