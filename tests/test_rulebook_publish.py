"""Publishing rulebooks to the ledger and reading back the versions in force at an instant."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustledger.catalogue import national_catalogue
from trustledger.ledger.projection import TABLES
from trustledger.ledger.store import Store
from trustledger.ledger.verify import verify
from trustledger.rulebook.publish import PublishError, publish_rulebook, published_rulebooks

SHIPPED = sorted(
    (Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped").glob("*.yaml")
)


def test_publish_all_shipped(store: Store) -> None:
    refs = [publish_rulebook(store, p, national_catalogue()) for p in SHIPPED]
    assert all(r.seq is not None for r in refs)
    assert set(published_rulebooks(store)) == {r.ref.split("@")[0] for r in refs}
    again = publish_rulebook(store, SHIPPED[0], national_catalogue())
    assert again.seq is None  # the same source twice is one publication
    assert verify(store).ok
    before = {t: sorted(store.iter_rows(t)) for t in TABLES}
    store.rebuild()
    assert {t: sorted(store.iter_rows(t)) for t in TABLES} == before


def test_changed_content_needs_a_new_version(store: Store, tmp_path: Path) -> None:
    publish_rulebook(store, SHIPPED[0], national_catalogue())
    edited = tmp_path / SHIPPED[0].name
    edited.write_text(SHIPPED[0].read_text() + "\n# an edit\n")
    size = store.size()
    with pytest.raises(PublishError, match="already published with different content"):
        publish_rulebook(store, edited, national_catalogue())
    assert store.size() == size


def test_invalid_rulebook_is_not_published(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SHIPPED[0].read_text().replace("legal_basis:", "legal_basis_typo:", 1))
    with pytest.raises(PublishError, match="not published"):
        publish_rulebook(store, bad, national_catalogue())
    assert store.size() == 0


def test_versions_as_of_an_instant(store: Store, tmp_path: Path) -> None:
    first = publish_rulebook(store, SHIPPED[0], national_catalogue())
    (entry,) = store.entries_at([first.seq or 0])
    t = entry.time_us
    newer = tmp_path / "newer.yaml"
    text = SHIPPED[0].read_text()
    version_line = next(line for line in text.splitlines() if line.startswith("version:"))
    newer.write_text(text.replace(version_line, 'version: "2099.1"', 1))
    publish_rulebook(store, newer, national_catalogue())
    rid = first.ref.split("@")[0]
    assert published_rulebooks(store, t)[rid].version == first.ref.split("@")[1]
    assert published_rulebooks(store)[rid].version == "2099.1"
    assert published_rulebooks(store, t - 1) == {}
