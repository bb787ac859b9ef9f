"""Open data: the published organisation records, the effective list memberships and the
measures in force, as CSV, JSON Lines, Parquet and FollowTheMoney entities, with a manifest
naming the ledger tree head they were cut from.

What leaves here is decided by an allow-list: every column is named below and read by name
from the tables (never ``SELECT *``), so a field added to a record later (a person's keyed
id, a reason typed by a clerk) stays inside until someone decides it is public. Nothing
about a person is written: persons' subjects, records and list memberships are filtered in
SQL (by kind *and* by the form of the id), the person references an organisation's record
carries (the legal representative a court names, the persons a measure extends to) are
never selected, and every free text that goes out is scrubbed of anything that reads as a
resident ID number or a person's keyed id.

Rows are streamed a page at a time (keyset pages over each table's key) to every format at
once, so memory stays flat whatever the size of the register; Parquet is written in row
groups with a typed schema.
"""

from __future__ import annotations

import csv
import hashlib
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from trustledger.catalogue import Catalogue
from trustledger.evaluate.inforce import Standing, publicity_ends, standing_until
from trustledger.evaluate.profile import CompiledRulebook, compile_rulebook, in_effect
from trustledger.ids import mask_personal_numbers
from trustledger.ledger.projection import RecordRow
from trustledger.ledger.store import Store, TreeHead
from trustledger.rulebook.durations import Duration
from trustledger.rulebook.load import parse_rulebook
from trustledger.rulebook.publish import published_rulebooks, regime_versions, version_on
from trustledger.rulebook.schema import Rulebook

FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet", "ftm")
TABULAR = ("csv", "jsonl", "parquet")
DATASETS: tuple[str, ...] = ("organisations", "records", "list_memberships", "measures")
FTM_FILE = "entities.ftm.json"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
PAGE = 10_000

# The national bounds by tier (Guobanfa [2025] No. 22, NDRC Order No. 36 in force from
# 2026-04-01, which repealed NDRC Order No. 58): a minor penalty is in principle not
# published (None), a general one at most 1 year, a serious one at most 3 years. A record no
# published rulebook covers (a court's consumption restriction outside a rulebook's scope,
# a procurement debarment, a grade-A rating) still has a bounded public life: this one.
NATIONAL_PUBLICITY_MAX: dict[str, Duration | None] = {
    "minor": None,
    "general": Duration(1, "y"),
    "serious": Duration(3, "y"),
}
NATIONAL_PUBLICITY_BASIS = (
    "NDRC Order No. 36 (in force 2026-04-01) and Guobanfa [2025] No. 22: publicity by tier "
    "(minor not published, general at most 1y, serious at most 3y)"
)


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # str, date, int, bool, amount, list
    doc: str


_ARROW: dict[str, pa.DataType] = {
    "str": pa.string(),
    "date": pa.date32(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "amount": pa.decimal128(18, 2),
    "list": pa.list_(pa.string()),
}

ORGANISATION_FIELDS = (
    Field("subject_id", "str", "Unified Social Credit Code (GB 32100)"),
    Field("name", "str", "registered name"),
    Field("kind", "str", "enterprise, individual_business, cooperative, government, "
          "public_institution, social_organisation or other_organisation"),
    Field("division", "str", "GB/T 2260 division code from the USCC (positions 3-8)"),
    Field("former_names", "list", "earlier registered names"),
    Field("aliases", "list", "other known names (romanised, English)"),
    Field("address", "str", "registered address"),
    Field("established", "date", "date of establishment"),
    Field("registered_seq", "int", "ledger entry that first registered the subject"),
    Field("last_seq", "int", "ledger entry that last changed its register row"),
)  # fmt: skip
RECORD_FIELDS = (
    Field("record_id", "str", "the record's id (derived from its natural key)"),
    Field("subject_id", "str", "USCC of the organisation the record is about"),
    Field("subject_name", "str", "its registered name"),
    Field("subject_kind", "str", "its kind"),
    Field("category", "str", "catalogue category code"),
    Field("category_title", "str", "category title (English)"),
    Field("category_title_zh", "str", "category title (Chinese)"),
    Field("domain", "str", "area of regulation"),
    Field("polarity", "str", "negative or positive"),
    Field("tier", "str", "severity tier: minor, general, serious"),
    Field("decision_type", "str", "the legal act the record rests on"),
    Field("document_number", "str", "number of the decision document"),
    Field("decision_date", "date", "date of the decision"),
    Field("publication_date", "date", "date the record entered the public credit file"),
    Field("title", "str", "short statement of the facts, as the issuer wrote it"),
    Field("amount_cny", "amount", "fine or amount in yuan"),
    Field("authority_id", "str", "USCC of the issuing authority"),
    Field("authority_name", "str", "name of the issuing authority"),
    Field("status", "str", "issued or corrected (or a scheduled end: ended, repaired)"),
    Field("status_date", "date", "effective date of the correction or scheduled end"),
    Field("publicity_ends", "date", "first day the record is no longer published (the "
          "latest end among the regimes that publish it; empty: no fixed term)"),
    Field("under_objection", "bool", "an objection to it is open"),
    Field("evidence_digest", "str", "sha256 of the evidence file, if the issuer gave one"),
    Field("legal_basis", "list", "the law the category rests on"),
    Field("ledger_seq", "int", "ledger entry that issued the record (ask for its inclusion "
          "proof against the manifest's tree head)"),
    Field("last_seq", "int", "ledger entry that last changed it"),
)  # fmt: skip
MEMBERSHIP_FIELDS = (
    Field("rulebook", "str", "rulebook id@version"),
    Field("rulebook_title", "str", "rulebook title"),
    Field("list_id", "str", "list id within the rulebook"),
    Field("list_title", "str", "list title"),
    Field("list_kind", "str", "black or red"),
    Field("subject_id", "str", "USCC of the listed organisation"),
    Field("subject_name", "str", "its registered name"),
    Field("since", "date", "first day the list's condition held"),
    Field("until", "date", "first day off the list if nothing new happens (empty: no such day)"),
    Field("effective_from", "date", "day the listing took effect after its notice period"),
    Field("records", "list", "the published records behind the listing (record_id)"),
    Field("condition", "str", "the list's condition, as the rulebook writes it"),
    Field("legal_basis", "list", "the law the list rests on"),
)
MEASURE_FIELDS = (
    Field("rulebook", "str", "rulebook id@version"),
    Field("rulebook_title", "str", "rulebook title"),
    Field("measure_id", "str", "measure id within the rulebook"),
    Field("measure_kind", "str", "restriction or incentive"),
    Field("list_id", "str", "the list the measure rests on"),
    Field("list_title", "str", "its title"),
    Field("subject_id", "str", "USCC of the organisation"),
    Field("subject_name", "str", "its registered name"),
    Field("actions", "list", "action codes restricted or rewarded"),
    Field("starts", "date", "first day in force"),
    Field(
        "ends", "date", "first day no longer in force (empty: until the subject leaves the list)"
    ),
    Field("agency", "str", "the agency that applies it"),
    Field("legal_basis", "list", "the law the measure rests on"),
)
SCHEMAS: dict[str, tuple[Field, ...]] = {
    "organisations": ORGANISATION_FIELDS,
    "records": RECORD_FIELDS,
    "list_memberships": MEMBERSHIP_FIELDS,
    "measures": MEASURE_FIELDS,
}

# Why a record of an organisation is withheld, in the manifest's counts.
_WITHHELD_ORDER = (
    "revoked",
    "not_published",
    "unconfirmed",
    "not_yet_published",
    "repaired",
    "ended",
    "publicity_over",
)
_STANDING_REASON = {
    Standing.UNCONFIRMED: "unconfirmed",
    Standing.NOT_YET_PUBLISHED: "not_yet_published",
    Standing.REVOKED: "revoked",
    Standing.REPAIRED: "repaired",
    Standing.ENDED: "ended",
    Standing.PUBLICITY_ENDED: "publicity_over",
}


class LedgerMoved(RuntimeError):
    """Entries were appended (or the state re-evaluated) while the export read: the files
    would not be a cut at one tree head. Retry."""


class ExportError(RuntimeError):
    """The data cannot be exported as asked (a value FollowTheMoney refuses where it is
    required)."""


@dataclass(frozen=True)
class FileEntry:
    name: str
    format: str
    dataset: str
    rows: int
    bytes: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "format": self.format, "dataset": self.dataset,
                "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}  # fmt: skip


@dataclass(frozen=True)
class Manifest:
    head: TreeHead
    on: date
    generated_us: int
    formats: tuple[str, ...]
    files: list[FileEntry]
    rows: dict[str, int]
    withheld: dict[str, int]
    state: dict[str, str | None]
    masked_values: int = 0
    ftm_refused: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "publisher": "trustledger open data",
            "tree_head": {
                **self.head.to_json(),
                "time": _iso_us(self.head.time_us),
            },
            "on": self.on.isoformat(),
            "generated_at": _iso_us(self.generated_us),
            "formats": list(self.formats),
            "files": [f.to_json() for f in self.files],
            "rows": self.rows,
            "withheld": self.withheld,
            "masked_values": self.masked_values,
            "ftm_refused": self.ftm_refused,
            "state": self.state,
            "datasets": {
                name: [{"name": f.name, "type": f.kind, "doc": f.doc} for f in fields]
                for name, fields in SCHEMAS.items()
            },
            "never_exported": [
                "persons: their subjects, records, list memberships and measures",
                "person references in organisations' records (legal representatives' keyed "
                "ids) and measures (the persons a measure extends to)",
                "records not yet published, resting on automated data not yet confirmed, "
                "revoked, repaired, ended or past their publicity period",
                "pending (not yet effective) listings and the measures they would trigger",
                "free-text reasons of corrections, revocations and ends",
            ],
        }


def _iso_us(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat(timespec="microseconds")


# --- scrubbing ---------------------------------------------------------------------------
# a person's keyed id (trustledger.ids.PersonKeyer.person_id) standing alone in text
_PERSON_ID = re.compile(r"(?<![0-9A-Za-z])P[0-9a-f]{32}(?![0-9A-Za-z])")


class _Scrubber:
    """Free text on its way out: resident ID numbers and person ids masked, counted."""

    def __init__(self) -> None:
        self.masked = 0

    def text(self, value: str | None) -> str | None:
        if not value:
            return value
        out = _PERSON_ID.sub("P********", mask_personal_numbers(value))
        if out != value:
            self.masked += 1
        return out

    def texts(self, values: Sequence[str]) -> list[str]:
        return [t for v in values if (t := self.text(v))]


# --- reading ------------------------------------------------------------------------------
def _pages(
    store: Store, sql: str, key_width: int, params: Sequence[Any], start: tuple[Any, ...]
) -> Iterator[tuple[Any, ...]]:
    """Rows of ``sql``, a page at a time: its first ``?`` are the keyset (the first
    ``key_width`` columns, which it orders by), then ``params``, then the page size. Each
    page is one short query, so nothing holds a cursor (or the whole table) open."""
    key = start
    while True:
        rows = store.query(sql, (*key, *params, PAGE))
        yield from rows
        if len(rows) < PAGE:
            return
        key = tuple(rows[-1][:key_width])


# Organisations only, decided twice: by the kind the register holds and by the id's form
# (a person's id is "P" + HMAC), so neither a mislabelled row nor a mistyped kind lets one out.
_ORG = "s.kind <> 'person' AND substr(s.id, 1, 1) <> 'P'"

_RECORDS_SQL = (
    "SELECT r.subject_id, r.id, r.authority_id, r.category, r.tier, r.decision_type, "
    "r.document_number, r.decision_date, r.publication_date, r.title, r.amount_cny, "
    "r.evidence_digest, r.status, r.status_date, r.issued_seq, r.last_seq, r.confirmation, "
    "s.kind, s.division, s.name "
    "FROM records r JOIN subjects s ON s.id = r.subject_id "
    f"WHERE (r.subject_id, r.id) > (?, ?) AND {_ORG} ORDER BY r.subject_id, r.id LIMIT ?"
)
_LISTS_SQL = (
    "SELECT l.subject_id, l.rulebook, l.list_id, l.since, l.kind, l.until, l.records, "
    "l.effective_from, s.name "
    "FROM state_lists l JOIN subjects s ON s.id = l.subject_id "
    "WHERE (l.subject_id, l.rulebook, l.list_id, l.since) > (?, ?, ?, ?) "
    f"AND {_ORG} AND l.effective_from IS NOT NULL AND l.effective_from <= ? "
    "AND (l.until IS NULL OR l.until > ?) "
    "ORDER BY l.subject_id, l.rulebook, l.list_id, l.since LIMIT ?"
)
_MEASURES_SQL = (
    "SELECT m.subject_id, m.rulebook, m.measure_id, m.starts, m.kind, m.list_id, m.actions, "
    "m.ends, m.agency, s.name "
    "FROM state_measures m JOIN subjects s ON s.id = m.subject_id "
    "WHERE (m.subject_id, m.rulebook, m.measure_id, m.starts) > (?, ?, ?, ?) "
    f"AND {_ORG} AND m.starts <= ? AND (m.ends IS NULL OR m.ends > ?) "
    "ORDER BY m.subject_id, m.rulebook, m.measure_id, m.starts LIMIT ?"
)
_SUBJECTS_SQL = (
    "SELECT s.id, s.name, s.kind, s.division, s.former_names, s.aliases, s.address, "
    f"s.established, s.registered_seq, s.last_seq FROM subjects s WHERE s.id > ? AND {_ORG} "
    "ORDER BY s.id LIMIT ?"
)


def _moved_marks(store: Store) -> tuple[Any, ...]:
    """What must stay the same from the first read to the last for the files to be one
    cut: the tree head, and the state's generation and ledger size (a re-evaluation)."""
    meta = store.query(
        "SELECT key, value FROM meta WHERE key IN "
        "('state_generation', 'state_ledger_size', 'state_on')"
    )
    head = store.head()
    return (head.size, head.root, tuple(sorted(meta)))


# --- the publicity rule ---------------------------------------------------------------------
class _Publicity:
    """Which records of organisations are published on the day ``on``.

    A record is published when it is *in force* on that day under at least one regime
    that publishes it: the rulebooks in effect that apply to the subject (its kind and the
    rulebook's territorial scope) and cover its category — or, when none covers it, the
    national publicity bounds by tier (NDRC Order No. 36). In force is the same test
    evaluation uses (trustledger.evaluate.inforce): published by that day (the public
    profile view hides records "not yet published"), not resting on automated data still
    awaiting a person's confirmation (it counts toward nothing and the public view hides
    it), not revoked, repaired or ended by then, and inside its publicity window.

    Stricter than the public profile view (trustledger.app.profiles.public), which also
    shows records that ended, were repaired or ran out their publicity, in a subject's
    timeline: open data is copied in bulk and kept by others for ever, so what leaves
    here must be what is public *now* — a record past its maximum publicity period, or
    one repaired, would otherwise outlive the time limits and credit repair (principles 4
    and 5). A revoked record is never exported, whatever its effective date: its decision
    was annulled or withdrawn.
    """

    def __init__(self, versions: dict[str, list[Rulebook]], catalogue: Catalogue, on: date) -> None:
        self.on = on
        self._found: dict[tuple[str, str, str | None], list[CompiledRulebook]] = {}
        self._rules: list[tuple[frozenset[str], str, CompiledRulebook]] = []
        for regime in versions.values():
            # the law as it stood on the day, as evaluation judges it
            rulebook = version_on(regime, on)
            if not in_effect(rulebook, on):
                continue
            cr = compile_rulebook(rulebook, catalogue, regime)
            kinds = frozenset(k.value for k in rulebook.subject_kinds)
            self._rules.append((kinds, rulebook.scope.division_prefix, cr))

    def _covering(self, category: str, kind: str, division: str | None) -> list[CompiledRulebook]:
        key = (category, kind, division)
        known = self._found.get(key)
        if known is None:
            known = self._found[key] = [
                cr
                for kinds, prefix, cr in self._rules
                if kind in kinds
                and category in cr.treatment_of
                and (not prefix or (division or "").startswith(prefix))
            ]
        return known

    def judge(
        self, record: RecordRow, kind: str, division: str | None
    ) -> tuple[str | None, date | None]:
        """(None, the first day it stops being published, None where no term ends it) for
        a published record; (the reason, None) for one withheld."""
        if record.status == "revoked":
            return "revoked", None
        covering = self._covering(record.category, kind, division)
        # each regime's own window (its maximum, its clock, its transitional rule); a
        # record none covers has the national bounds by tier, from publication
        ends: list[date | None]
        if covering:
            ends = [cr.publicity_end(record) for cr in covering]
        else:
            default = NATIONAL_PUBLICITY_MAX.get(record.tier)
            if default is None:
                return "not_published", None  # no regime here publishes it (a minor penalty)
            ends = [publicity_ends(record, default)]
        kept: list[date | None] = []
        reason = "publicity_over"
        for end in ends:
            standing = standing_until(record, self.on, end)
            if standing is Standing.IN_FORCE:
                kept.append(end)
            else:
                reason = _STANDING_REASON.get(standing, "publicity_over")
        if not kept:
            return reason, None
        if any(end is None for end in kept):
            return None, None  # no fixed term under some regime: none ends it
        return None, max(end for end in kept if end is not None)


# --- writers ------------------------------------------------------------------------------
class _Sink(ABC):
    """One dataset in one tabular format (CSV, JSON Lines, Parquet below)."""

    def __init__(self, path: Path, fields: tuple[Field, ...]) -> None:
        self.rows = 0

    @abstractmethod
    def write(self, row: dict[str, Any]) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        # JSON, not "|": a name may hold any character, and JSON says where each one ends
        return orjson.dumps(value).decode()
    return str(value)


class _CsvSink(_Sink):
    def __init__(self, path: Path, fields: tuple[Field, ...]) -> None:
        super().__init__(path, fields)
        # UTF-8 with a BOM: spreadsheet programs then read the Chinese text as UTF-8
        self._file: IO[str] = path.open("w", encoding="utf-8-sig", newline="")
        self._names = [f.name for f in fields]
        self._writer = csv.writer(self._file)
        self._writer.writerow(self._names)

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow([_csv_cell(row[n]) for n in self._names])
        self.rows += 1

    def close(self) -> None:
        self._file.close()


class _JsonlSink(_Sink):
    def __init__(self, path: Path, fields: tuple[Field, ...]) -> None:
        super().__init__(path, fields)
        self._file: IO[bytes] = path.open("wb")

    def write(self, row: dict[str, Any]) -> None:
        # rows are built with their fields in schema order (the tests hold them to it)
        self._file.write(orjson.dumps(row) + b"\n")
        self.rows += 1

    def close(self) -> None:
        self._file.close()


class _ParquetSink(_Sink):
    """Row groups of ``PAGE`` rows, columns typed (dates, decimals, lists, booleans)."""

    def __init__(self, path: Path, fields: tuple[Field, ...]) -> None:
        super().__init__(path, fields)
        self._fields = fields
        self._schema = pa.schema(
            [pa.field(f.name, _ARROW[f.kind], metadata={"doc": f.doc}) for f in fields]
        )
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="zstd")
        self._rows: list[dict[str, Any]] = []

    def write(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        self.rows += 1
        if len(self._rows) >= PAGE:
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        arrays = []
        for f in self._fields:
            values = [row[f.name] for row in self._rows]
            if f.kind in ("date", "amount"):
                # ISO dates and decimal text are cast by Arrow itself (checked: a bad one fails)
                arrays.append(pa.array(values, pa.string()).cast(_ARROW[f.kind]))
            else:
                arrays.append(pa.array(values, _ARROW[f.kind]))
        self._rows = []
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema))

    def close(self) -> None:
        self._flush()
        self._writer.close()


_SINKS: dict[str, type[_Sink]] = {"csv": _CsvSink, "jsonl": _JsonlSink, "parquet": _ParquetSink}
_SUFFIX = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet"}


# --- FollowTheMoney -------------------------------------------------------------------------
_COMPANY_KINDS = frozenset({"enterprise", "individual_business", "cooperative"})
_PUBLIC_KINDS = frozenset({"government", "public_institution"})
_DEBARMENT_ACTIONS = frozenset({"public_procurement", "public_bidding"})
# per organisation, what its exported facts say, for its FtM topics
_NEGATIVE, _DEBARRED = 1, 2


_CLEAN_CACHE = 200_000


def ftm_schema(kind: str) -> str:
    """The FollowTheMoney schema of an organisation of this kind."""
    if kind in _COMPANY_KINDS:
        return "Company"
    if kind in _PUBLIC_KINDS:
        return "PublicBody"
    return "Organization"


def ftm_org_id(subject_id: str) -> str:
    return f"tl-{subject_id}"


class _FtmSink:
    """FollowTheMoney entities, one JSON object a line (the ``entities.ftm.json`` layout
    OpenSanctions publishes). Every value goes through the library's own cleaning for its
    property type; one it refuses is counted, or stops the export where it is required."""

    def __init__(self, path: Path, action_titles: dict[str, str]) -> None:
        from followthemoney import model

        self._model = model
        self._file: IO[bytes] = path.open("wb")
        self._actions = action_titles
        self.rows = 0
        self.refused: Counter[str] = Counter()
        self._cleaned: dict[tuple[str, str | None, Any], str | None] = {}

    def _entity(self, schema: str, entity_id: str) -> Any:
        from followthemoney import registry

        if registry.entity.clean(entity_id) != entity_id:
            raise ExportError(f"not a FollowTheMoney entity id: {entity_id!r}")
        entity = self._model.make_entity(schema)
        entity.id = entity_id
        return entity

    def _put(self, entity: Any, prop: str, values: Any, *, required: bool = False) -> None:
        p = entity.schema.properties[prop]  # an unknown property is a bug: KeyError
        for value in values if isinstance(values, list) else [values]:
            if value is None or value == "":
                continue
            cleaned = self._clean(entity, p, value)
            # unsafe_add takes the library's cleaned value (and may still refuse it: size)
            if cleaned is None or entity.unsafe_add(p, cleaned, cleaned=True) is None:
                if required:
                    raise ExportError(
                        f"FollowTheMoney refuses {entity.schema.name}.{prop} = {value!r} "
                        f"({entity.id})"
                    )
                self.refused[f"{entity.schema.name}.{prop}"] += 1

    def _clean(self, entity: Any, p: Any, value: Any) -> str | None:
        """The library's cleaning of ``value`` for property ``p``. Dates, countries,
        authorities and programmes repeat on every line, and cleaning a date costs
        more than the rest of an entity, so results are kept (not for entity references,
        whose cleaning depends on the entity they are added to)."""
        if p.type.name == "entity":
            cleaned: str | None = p.type.clean(value, proxy=entity, format=p.format)
            return cleaned
        key = (p.type.name, p.format, value)
        try:
            known: str | None = self._cleaned[key]
            return known
        except KeyError:
            pass
        if len(self._cleaned) >= _CLEAN_CACHE:
            self._cleaned.clear()
        cleaned = self._cleaned[key] = p.type.clean(value, format=p.format)
        return cleaned

    def _emit(self, entity: Any) -> None:
        self._file.write(orjson.dumps(entity.to_dict()) + b"\n")
        self.rows += 1

    def record(self, row: dict[str, Any]) -> None:
        if row["polarity"] != "negative":
            return  # a commendation or a grade-A rating is no sanction
        e = self._entity("Sanction", f"tl-rec-{row['record_id']}")
        self._put(e, "entity", ftm_org_id(row["subject_id"]), required=True)
        self._put(e, "authority", row["authority_name"])
        self._put(e, "authorityId", row["document_number"])
        self._put(e, "program", f"{row['category_title']} ({row['category_title_zh']})")
        self._put(e, "programId", row["category"])
        self._put(e, "reason", row["title"])
        self._put(e, "provisions", f"{row['tier']} tier; {row['decision_type'].replace('_', ' ')}"
                  + (f"; CNY {row['amount_cny']}" if row["amount_cny"] else ""))  # fmt: skip
        self._put(e, "startDate", row["decision_date"])
        self._put(e, "listingDate", row["publication_date"])
        self._put(e, "endDate", row["publicity_ends"])
        self._put(e, "status", "under objection" if row["under_objection"] else "in force")
        self._put(e, "summary", "Legal basis: " + "; ".join(row["legal_basis"]))
        self._put(e, "recordId", row["record_id"])
        self._put(e, "country", "cn")
        self._emit(e)

    def membership(self, row: dict[str, Any], authority: str) -> None:
        if row["list_kind"] != "black":
            return  # a red list rewards: no sanction
        key = "|".join((row["rulebook"], row["list_id"], row["subject_id"], row["since"]))
        e = self._entity("Sanction", f"tl-list-{hashlib.sha1(key.encode()).hexdigest()}")
        self._put(e, "entity", ftm_org_id(row["subject_id"]), required=True)
        self._put(e, "authority", authority)
        self._put(e, "program", f"{row['rulebook_title']} — {row['list_title']}")
        self._put(e, "programId", f"{row['rulebook']}/{row['list_id']}")
        self._put(e, "reason", f"{row['list_title']}: {row['condition']}")
        self._put(e, "provisions", "listed")
        self._put(e, "listingDate", row["since"])
        self._put(e, "startDate", row["effective_from"])
        self._put(e, "endDate", row["until"])
        self._put(e, "summary", "Legal basis: " + "; ".join(row["legal_basis"]))
        self._put(e, "country", "cn")
        self._emit(e)

    def measure(self, row: dict[str, Any]) -> None:
        if row["measure_kind"] != "restriction":
            return  # an incentive rewards: no sanction
        key = "|".join((row["rulebook"], row["measure_id"], row["subject_id"], row["starts"]))
        e = self._entity("Sanction", f"tl-measure-{hashlib.sha1(key.encode()).hexdigest()}")
        self._put(e, "entity", ftm_org_id(row["subject_id"]), required=True)
        self._put(e, "authority", row["agency"])
        self._put(e, "program", f"{row['rulebook_title']} — {row['list_title']}")
        self._put(e, "programId", f"{row['rulebook']}/{row['list_id']}")
        self._put(e, "provisions", [self._actions.get(a, a) for a in row["actions"]])
        self._put(e, "reason", f"on the list {row['list_title']} ({row['measure_id']})")
        self._put(e, "startDate", row["starts"])
        self._put(e, "endDate", row["ends"])
        self._put(e, "summary", "Legal basis: " + "; ".join(row["legal_basis"]))
        self._put(e, "country", "cn")
        self._emit(e)

    def organisation(self, row: dict[str, Any], flags: int) -> None:
        e = self._entity(ftm_schema(row["kind"]), ftm_org_id(row["subject_id"]))
        self._put(e, "name", row["name"], required=True)
        self._put(e, "previousName", row["former_names"])
        self._put(e, "alias", row["aliases"])
        self._put(e, "registrationNumber", row["subject_id"], required=True)
        # FtM checks the GB 32100 check character itself; the register also holds codes
        # issued with a wrong one, which keep their registrationNumber (counted if refused)
        self._put(e, "uscCode", row["subject_id"])
        self._put(e, "jurisdiction", "cn")
        self._put(e, "country", "cn")
        self._put(e, "address", row["address"])
        self._put(e, "incorporationDate", row["established"])
        self._put(e, "legalForm", row["kind"].replace("_", " "))
        if flags & _NEGATIVE:
            self._put(e, "topics", "reg.action")
        if flags & _DEBARRED:
            self._put(e, "topics", "debarment")
        self._emit(e)

    def close(self) -> None:
        self._file.close()


# --- the export ------------------------------------------------------------------------------
def _amount(text: str | None) -> str | None:
    if text is None or text == "":
        return None
    try:
        return str(Decimal(text).quantize(Decimal("0.01")))
    except InvalidOperation:
        return None


class _Exporter:
    def __init__(
        self,
        store: Store,
        catalogue: Catalogue,
        out_dir: Path,
        formats: Sequence[str],
        on: date,
        progress: Callable[[str, int], None] | None,
    ) -> None:
        self.store, self.catalogue, self.out_dir, self.on = store, catalogue, out_dir, on
        self.formats = tuple(f for f in FORMATS if f in formats)
        self.progress = progress
        self.scrub = _Scrubber()
        self.withheld: Counter[str] = Counter()
        self.flags: dict[str, int] = {}  # subject id → _NEGATIVE | _DEBARRED
        self.record_ids: set[str] = set()
        self.sinks: dict[str, list[_Sink]] = {}
        self.files: list[tuple[str, str, str, Any]] = []  # name, format, dataset, sink
        for dataset, fields in SCHEMAS.items():
            self.sinks[dataset] = []
            for fmt in TABULAR:
                if fmt in self.formats:
                    name = dataset + _SUFFIX[fmt]
                    sink = _SINKS[fmt](out_dir / name, fields)
                    self.sinks[dataset].append(sink)
                    self.files.append((name, fmt, dataset, sink))
        self.ftm: _FtmSink | None = None
        if "ftm" in self.formats:
            from trustledger.sanctions.actions import load_actions

            titles = {a.code: f"{a.title} ({a.title_zh})" for a in load_actions().actions}
            self.ftm = _FtmSink(out_dir / FTM_FILE, titles)
            self.files.append((FTM_FILE, "ftm", "entities", self.ftm))
        self.rows: Counter[str] = Counter()

    def _out(self, dataset: str, row: dict[str, Any]) -> None:
        for sink in self.sinks[dataset]:
            sink.write(row)
        n = self.rows[dataset] = self.rows[dataset] + 1
        if self.progress is not None and n % PAGE == 0:
            self.progress(dataset, n)

    def _seen(self, subject_id: str, flag: int = 0) -> None:
        self.flags[subject_id] = self.flags.get(subject_id, 0) | flag

    def run(self) -> None:
        try:
            self._records()
            rulebooks = self._rulebooks_by_ref()
            self._memberships(rulebooks)
            self._measures(rulebooks)
            self._organisations()
        finally:
            for _, _, _, sink in self.files:
                sink.close()

    def _records(self) -> None:
        store = self.store
        publicity = _Publicity(regime_versions(store), self.catalogue, self.on)
        authorities = {row[0]: row[1] for row in store.iter_rows("authorities")}
        contested = {
            str(r[0]) for r in store.query("SELECT record_id FROM objections WHERE status = 'open'")
        }
        persons = store.query(
            "SELECT count(*) FROM records r LEFT JOIN subjects s ON s.id = r.subject_id "
            "WHERE s.kind = 'person' OR substr(r.subject_id, 1, 1) = 'P' OR s.id IS NULL"
        )
        self.withheld["records_about_persons"] = int(persons[0][0])
        categories = {c.code: c for c in self.catalogue}
        scrubbed_authorities = {k: self.scrub.text(v) for k, v in authorities.items()}
        last_subject, subject_name = "", None
        for page_row in _pages(store, _RECORDS_SQL, 2, (), ("", "")):
            (sid, rid, authority, category, tier, dtype, doc, decided, published, title,
             amount, digest, status, status_date, issued_seq, last_seq, confirmation,
             kind, division, name) = page_row  # fmt: skip
            record = RecordRow(rid, sid, authority, category, tier, dtype, doc, decided,
                               published, title, amount, digest, status, status_date, None,
                               issued_seq, last_seq, None, confirmation)  # fmt: skip
            reason, ends = publicity.judge(record, kind, division)
            if reason is not None:
                self.withheld[reason] += 1
                continue
            assert not sid.startswith("P")  # filtered twice in SQL; a third time costs nothing
            if sid != last_subject:  # rows come a subject at a time
                last_subject, subject_name = sid, self.scrub.text(name)
            c = categories.get(category)
            row = {
                "record_id": rid,
                "subject_id": sid,
                "subject_name": subject_name,
                "subject_kind": kind,
                "category": category,
                "category_title": c.title if c else category,
                "category_title_zh": c.title_zh if c else "",
                "domain": c.domain.value if c else None,
                "polarity": c.polarity.value if c else None,
                "tier": tier,
                "decision_type": dtype,
                "document_number": self.scrub.text(doc),
                "decision_date": decided,
                "publication_date": published,
                "title": self.scrub.text(title),
                "amount_cny": _amount(amount),
                "authority_id": authority,
                "authority_name": scrubbed_authorities.get(authority, authority),
                "status": status,
                "status_date": status_date if status != "issued" else None,
                "publicity_ends": ends.isoformat() if ends else None,
                "under_objection": rid in contested,
                "evidence_digest": digest,
                "legal_basis": [str(b) for b in c.legal_basis] if c else [],
                "ledger_seq": issued_seq,
                "last_seq": last_seq,
            }
            self.record_ids.add(rid)
            self._seen(sid, _NEGATIVE if row["polarity"] == "negative" else 0)
            self._out("records", row)
            if self.ftm is not None:
                self.ftm.record(row)

    def _rulebooks_by_ref(self) -> dict[str, Rulebook]:
        """Every published version by ``id@version``: the state names the version it was
        evaluated under, which a newer publication may have followed since."""
        latest = {f"{rid}@{rb.version}": rb for rid, rb in published_rulebooks(self.store).items()}
        out: dict[str, Rulebook] = {}
        for row in self.store.iter_rows("rulebooks"):
            out[row[0]] = latest.get(row[0]) or parse_rulebook(row[5], row[0])
        return out

    def _memberships(self, rulebooks: dict[str, Rulebook]) -> None:
        on = self.on.isoformat()
        for subject_id, ref, list_id, since, kind, until, records, effective, name in _pages(
            self.store, _LISTS_SQL, 4, (on, on), ("", "", "", "")
        ):
            rulebook = rulebooks.get(ref)
            spec = next((d for d in rulebook.lists if d.id == list_id), None) if rulebook else None
            basis = (spec.legal_basis if spec and spec.legal_basis else
                     rulebook.legal_basis if rulebook else [])  # fmt: skip
            row = {
                "rulebook": ref,
                "rulebook_title": rulebook.title if rulebook else ref,
                "list_id": list_id,
                "list_title": spec.title if spec else list_id,
                "list_kind": kind,
                "subject_id": subject_id,
                "subject_name": self.scrub.text(name),
                "since": since,
                "until": until,
                "effective_from": effective,
                # only records published here: one revoked since the evaluation is not
                "records": [r for r in orjson.loads(records) if r in self.record_ids],
                "condition": spec.when.text if spec else None,
                "legal_basis": [str(b) for b in basis],
            }
            self._seen(subject_id, _NEGATIVE if kind == "black" else 0)
            self._out("list_memberships", row)
            if self.ftm is not None:
                self.ftm.membership(row, rulebook.authority if rulebook else ref)

    def _measures(self, rulebooks: dict[str, Rulebook]) -> None:
        on = self.on.isoformat()
        # extends_to (the persons a measure also reaches) is not selected: never public
        for (
            subject_id,
            ref,
            measure_id,
            starts,
            kind,
            list_id,
            actions,
            ends,
            agency,
            name,
        ) in _pages(self.store, _MEASURES_SQL, 4, (on, on), ("", "", "", "")):
            rulebook = rulebooks.get(ref)
            spec = (
                next((m for m in rulebook.measures if m.id == measure_id), None)
                if rulebook
                else None
            )
            list_spec = (
                next((d for d in rulebook.lists if d.id == list_id), None) if rulebook else None
            )
            codes: list[str] = orjson.loads(actions)
            row = {
                "rulebook": ref,
                "rulebook_title": rulebook.title if rulebook else ref,
                "measure_id": measure_id,
                "measure_kind": kind,
                "list_id": list_id,
                "list_title": list_spec.title if list_spec else list_id,
                "subject_id": subject_id,
                "subject_name": self.scrub.text(name),
                "actions": codes,
                "starts": starts,
                "ends": ends,
                "agency": self.scrub.text(agency),
                "legal_basis": [str(b) for b in spec.legal_basis] if spec else [],
            }
            debarred = kind == "restriction" and bool(_DEBARMENT_ACTIONS & set(codes))
            self._seen(subject_id, _DEBARRED if debarred else 0)
            self._out("measures", row)
            if self.ftm is not None:
                self.ftm.measure(row)

    def _organisations(self) -> None:
        """The organisations the exported facts are about (the register of every firm is
        the business registry's to publish, not the credit platform's)."""
        for sid, name, kind, division, former, aliases, address, established, reg, last in _pages(
            self.store, _SUBJECTS_SQL, 1, (), ("",)
        ):
            flags = self.flags.get(sid)
            if flags is None:
                continue
            row = {
                "subject_id": sid,
                "name": self.scrub.text(name),
                "kind": kind,
                "division": division,
                "former_names": self.scrub.texts(orjson.loads(former)),
                "aliases": self.scrub.texts(orjson.loads(aliases)),
                "address": self.scrub.text(address),
                "established": established,
                "registered_seq": reg,
                "last_seq": last,
            }
            self._out("organisations", row)
            if self.ftm is not None:
                self.ftm.organisation(row, flags)


def _digest(path: Path) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def write_open_data(
    store: Store,
    catalogue: Catalogue,
    out_dir: Path,
    formats: Sequence[str],
    *,
    on: date,
    generated_us: int,
    progress: Callable[[str, int], None] | None = None,
) -> Manifest:
    """Write the open data files of ``formats`` and ``manifest.json`` into ``out_dir`` (an
    existing, empty folder), judged on the day ``on``. LedgerMoved when the ledger or the
    state changed while it read (the caller retries into a fresh folder)."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ValueError(f"unknown formats {unknown}: choose from {', '.join(FORMATS)}")
    before = _moved_marks(store)
    exporter = _Exporter(store, catalogue, out_dir, formats, on, progress)
    exporter.run()
    if _moved_marks(store) != before:
        raise LedgerMoved("the ledger moved while the export read it")
    head = store.head()
    meta = dict(store.query(
        "SELECT key, value FROM meta WHERE key IN ('state_on', 'state_ledger_size', "
        "'state_generation')"
    ))  # fmt: skip
    files = []
    for name, fmt, dataset, sink in exporter.files:
        size, digest = _digest(out_dir / name)
        files.append(FileEntry(name, fmt, dataset, sink.rows, size, digest))
    manifest = Manifest(
        head=head,
        on=on,
        generated_us=generated_us,
        formats=exporter.formats,
        files=files,
        rows={d: exporter.rows[d] for d in DATASETS},
        withheld={k: exporter.withheld[k] for k in ("records_about_persons", *_WITHHELD_ORDER)},
        state={
            "on": meta.get("state_on"),
            "ledger_size": meta.get("state_ledger_size"),
            "generation": meta.get("state_generation"),
        },
        masked_values=exporter.scrub.masked,
        ftm_refused=dict(sorted(exporter.ftm.refused.items())) if exporter.ftm else {},
    )
    (out_dir / MANIFEST).write_bytes(
        orjson.dumps(manifest.to_json(), option=orjson.OPT_INDENT_2) + b"\n"
    )
    return manifest


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of an export folder, as JSON."""
    data: dict[str, Any] = orjson.loads((directory / MANIFEST).read_bytes())
    return data


__all__ = [
    "DATASETS",
    "FORMATS",
    "FTM_FILE",
    "MANIFEST",
    "SCHEMAS",
    "ExportError",
    "FileEntry",
    "LedgerMoved",
    "Manifest",
    "ftm_schema",
    "read_manifest",
    "write_open_data",
]
