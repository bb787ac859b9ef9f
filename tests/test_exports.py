"""Open data (trustledger export): every format read back with the manifest's counts, every
FollowTheMoney entity valid under the library's schema, not one byte about a person, the
manifest's tree head the ledger's own, only what is published today, and reject paths that
leave nothing behind."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from followthemoney import model
from followthemoney.exc import InvalidData
from typer.testing import CliRunner

from trustledger.app import demo, exports
from trustledger.app.context import Context
from trustledger.app.errors import BadInput, Unavailable
from trustledger.app.profiles import public
from trustledger.cli import app as cli_app
from trustledger.evaluate.service import subject_profiles
from trustledger.exports import opendata
from trustledger.ids import check_resident_id
from trustledger.settings import Settings

SUBJECTS = 500
TABULAR = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet"}


@dataclass
class Demo:
    ctx: Context
    work: Path
    url: str
    out: Path  # one export of every format, shared by the read-only tests
    result: exports.ExportResult
    secrets: list[str]  # every person id and resident ID number of the generated input


def _person_secrets(ctx: Context, data: Path) -> list[str]:
    """Resident ID numbers of the generated files (the persons' own and the legal
    representatives' their organisations' records name), their bodies without the check
    character, and every person id the database holds anywhere."""
    numbers: set[str] = set()
    for line in (data / "subjects.jsonl").read_bytes().splitlines():
        code = str(orjson.loads(line)["subject"])
        if check_resident_id(code).valid:
            numbers.add(code)
    for line in (data / "records.jsonl").read_bytes().splitlines():
        row = orjson.loads(line)
        for code in (row.get("subject"), row.get("legal_representative")):
            if code and check_resident_id(str(code)).valid:
                numbers.add(str(code))
    persons = {str(r[0]) for r in ctx.store.query("SELECT id FROM subjects WHERE kind = 'person'")}
    representatives = ctx.store.query(
        "SELECT legal_representative FROM records WHERE legal_representative IS NOT NULL"
    )
    persons |= {str(r[0]) for r in representatives}
    for (extends,) in ctx.store.query("SELECT extends_to FROM state_measures"):
        for ids in json.loads(extends).values():
            persons.update(ids)
    assert numbers and persons, "the demo must hold persons for this test to mean anything"
    return sorted(numbers | {n[:17] for n in numbers} | persons)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    work = tmp_path_factory.mktemp("exports")
    url, schema, server = f"sqlite:///{work / 'demo.db'}", None, ""
    if request.param == "postgres":
        server = request.getfixturevalue("pg_server")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        url = f"{server}{'&' if '?' in server else '?'}options=-csearch_path%3D{schema}"
    settings = Settings(db_url=url, person_key_file=work / "p.key")
    ctx = Context.open(settings, must_exist=False)
    demo.run(ctx, directory=work / "demo", subjects=SUBJECTS)
    secrets = _person_secrets(ctx, work / "demo")
    out = work / "open-data"
    result = exports.export(ctx, None, out)
    yield Demo(ctx, work, url, out, result, secrets)
    ctx.close()
    if schema is not None:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _manifest(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    return data


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _jsonl_rows(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _entities(out: Path) -> list[dict[str, Any]]:
    return _jsonl_rows(out / opendata.FTM_FILE)


# --- formats ---------------------------------------------------------------------------
def test_every_file_reads_back_with_the_manifests_rows_bytes_and_digest(built: Demo) -> None:
    manifest = _manifest(built.out)
    names = {f["name"] for f in manifest["files"]}
    expected = {d + s for d in opendata.DATASETS for s in TABULAR.values()} | {opendata.FTM_FILE}
    assert names == expected
    assert set(p.name for p in built.out.iterdir()) == expected | {"manifest.json"}
    for f in manifest["files"]:
        path = built.out / f["name"]
        data = path.read_bytes()
        assert len(data) == f["bytes"] and hashlib.sha256(data).hexdigest() == f["sha256"]
        if f["format"] == "csv":
            rows = len(_csv_rows(path))
        elif f["format"] == "jsonl":
            rows = len(_jsonl_rows(path))
        elif f["format"] == "parquet":
            rows = pq.read_table(path).num_rows
        else:
            rows = len(_entities(built.out))
        assert rows == f["rows"], f["name"]
        if f["dataset"] in opendata.DATASETS:
            assert rows == manifest["rows"][f["dataset"]]
    assert all(manifest["rows"][d] > 0 for d in opendata.DATASETS)
    # the use case reports what the manifest says
    assert {f.path.name: f.rows for f in built.result.files} == {
        f["name"]: f["rows"] for f in manifest["files"]
    }


def test_the_three_tabular_formats_hold_the_same_rows(built: Demo) -> None:
    for dataset, fields in opendata.SCHEMAS.items():
        names = [f.name for f in fields]
        jsonl = _jsonl_rows(built.out / f"{dataset}.jsonl")
        assert all(list(row) == names for row in jsonl)  # the allow-list, in order, no more
        table = pq.read_table(built.out / f"{dataset}.parquet")
        assert table.schema.names == names
        parquet = table.to_pylist()
        text = _csv_rows(built.out / f"{dataset}.csv")
        assert len(jsonl) == len(parquet) == len(text)
        for j, p, c in zip(jsonl, parquet, text, strict=True):
            for f in fields:
                value = j[f.name]
                if f.kind == "list":
                    assert p[f.name] == value and json.loads(c[f.name]) == value
                elif f.kind == "date":
                    assert (p[f.name].isoformat() if p[f.name] else None) == value
                    assert c[f.name] == (value or "")
                elif f.kind == "amount":
                    assert (str(p[f.name]) if p[f.name] is not None else None) == value
                elif f.kind == "bool":
                    assert p[f.name] is value and c[f.name] == str(value).lower()
                else:
                    assert p[f.name] == value and c[f.name] == ("" if value is None else str(value))


def test_parquet_has_a_typed_schema(built: Demo) -> None:
    schema = pq.read_schema(built.out / "records.parquet")
    assert schema.field("decision_date").type == pa.date32()
    assert schema.field("amount_cny").type == pa.decimal128(18, 2)
    assert schema.field("under_objection").type == pa.bool_()
    assert schema.field("ledger_seq").type == pa.int64()
    assert schema.field("legal_basis").type == pa.list_(pa.string())
    assert pq.read_schema(built.out / "measures.parquet").field("actions").type == pa.list_(
        pa.string()
    )


def test_every_followthemoney_entity_passes_the_schema(built: Demo) -> None:
    entities = _entities(built.out)
    by_schema = Counter(e["schema"] for e in entities)
    assert set(by_schema) <= {"Company", "Organization", "PublicBody", "Sanction"}
    ids = [e["id"] for e in entities]
    assert len(ids) == len(set(ids))
    organisations = {e["id"] for e in entities if e["schema"] != "Sanction"}
    for data in entities:
        proxy = model.get_proxy(data, cleaned=False)  # the library cleans every value again
        assert proxy.to_dict()["properties"] == data["properties"], data["id"]
        try:
            proxy.schema.validate(data)  # type: ignore[arg-type]  # a TypedDict, read from JSON
        except InvalidData as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"{data['id']}: {exc}")
        if data["schema"] == "Sanction":
            (target,) = data["properties"]["entity"]
            assert target in organisations
        else:
            props = data["properties"]
            assert props["jurisdiction"] == ["cn"] and props["registrationNumber"]
    rows = {d: _jsonl_rows(built.out / f"{d}.jsonl") for d in opendata.DATASETS}
    assert by_schema["Company"] + by_schema["Organization"] + by_schema["PublicBody"] == len(
        rows["organisations"]
    )
    sanctions = (
        sum(r["polarity"] == "negative" for r in rows["records"])
        + sum(r["list_kind"] == "black" for r in rows["list_memberships"])
        + sum(r["measure_kind"] == "restriction" for r in rows["measures"])
    )
    assert by_schema["Sanction"] == sanctions > 0
    kinds = {r["subject_id"]: r["kind"] for r in rows["organisations"]}
    for e in entities:
        if e["schema"] != "Sanction":
            assert e["schema"] == opendata.ftm_schema(kinds[e["id"].removeprefix("tl-")])
    assert _manifest(built.out)["ftm_refused"] == {}


# --- privacy ---------------------------------------------------------------------------
def _exported_text(out: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(out.iterdir()):
        yield path.name, path.read_bytes()
        if path.suffix == ".parquet":  # compressed columns: read them as values too
            values = pq.read_table(path).to_pylist()
            yield (
                path.name + " (values)",
                json.dumps(values, default=str, ensure_ascii=False).encode(),
            )


def test_no_person_id_or_resident_id_number_in_any_exported_byte(built: Demo) -> None:
    pattern = re.compile("|".join(re.escape(s) for s in built.secrets).encode(), re.IGNORECASE)
    for name, data in _exported_text(built.out):
        found = pattern.search(data)
        assert found is None, f"{name} holds {found.group()!r}"
    # and nothing shaped like one: every subject is an organisation's USCC
    for dataset in opendata.DATASETS:
        for row in _jsonl_rows(built.out / f"{dataset}.jsonl"):
            assert not row["subject_id"].startswith("P") and len(row["subject_id"]) == 18
            assert row.get("subject_kind", row.get("kind", "x")) != "person"


def test_a_resident_id_number_an_issuer_typed_into_a_title_is_masked(
    built: Demo, tmp_path: Path
) -> None:
    from trustledger.app import ingest

    ctx = built.ctx
    number = next(s for s in built.secrets if len(s) == 18 and not s.startswith("P"))
    (firm, _) = ctx.store.query(
        "SELECT id, name FROM subjects WHERE kind = 'enterprise' ORDER BY id LIMIT 1"
    )[0]
    (tax,) = ctx.store.query("SELECT id FROM authorities WHERE authority_type = 'tax' LIMIT 1")[0]
    today = ctx.today().isoformat()
    line = {"op": "issue", "authority": tax, "category": "TAX-PENALTY-GENERAL", "subject": firm,
            "document_number": f"测税罚〔2026〕{uuid.uuid4().int % 10**6}号",
            "decision_type": "administrative_penalty", "decision_date": today,
            "publication_date": today,
            "title": f"法定代表人（身份证号{number}）未按期申报"}  # fmt: skip
    source = tmp_path / "one.jsonl"
    source.write_bytes(orjson.dumps(line) + b"\n")
    result = ingest.ingest(ctx, [source], tmp_path)
    assert result.reports[0].counts.accepted == 1
    out = tmp_path / "od"
    exports.export(ctx, ["jsonl", "ftm"], out)
    text = b"".join(p.read_bytes() for p in out.iterdir())
    assert number.encode() not in text and number[:17].encode() not in text
    assert "未按期申报".encode() in text  # the rest of the title is there
    assert _manifest(out)["masked_values"] >= 1


# --- what is published -----------------------------------------------------------------
def test_the_manifest_carries_the_ledgers_tree_head(built: Demo) -> None:
    manifest = _manifest(built.out)
    head = built.ctx.store.head()
    assert manifest["tree_head"]["size"] == built.result.head.size
    # later tests append; the export was cut at the head of its moment, which is a head
    heads = {h.size: h for h in built.ctx.store.tree_heads()}
    cut = heads[manifest["tree_head"]["size"]]
    assert manifest["tree_head"]["root"] == cut.root.hex()
    assert manifest["tree_head"]["time_us"] == cut.time_us
    assert head.size >= cut.size
    assert manifest["on"] == built.ctx.today().isoformat()


def test_only_published_organisation_records_leave(built: Demo) -> None:
    ctx, on = built.ctx, built.ctx.today().isoformat()
    exported = {r["record_id"]: r for r in _jsonl_rows(built.out / "records.jsonl")}
    rows = {r[0]: r for r in ctx.store.query(
        "SELECT id, subject_id, status, status_date, confirmation, publication_date "
        "FROM records")}  # fmt: skip
    for rid, row in exported.items():
        _, subject, status, status_date, confirmation, published = rows[rid]
        assert not subject.startswith("P")
        assert status != "revoked" and confirmation != "pending" and published <= on
        assert status not in ("ended", "repaired") or (status_date or "") > on
        assert row["publicity_ends"] is None or row["publicity_ends"] > on
    withheld = _manifest(built.out)["withheld"]
    assert withheld["records_about_persons"] > 0 and withheld["revoked"] > 0
    assert withheld["publicity_over"] > 0
    assert not any(r[4] == "pending" for rid, r in rows.items() if rid in exported)


def test_what_the_evaluator_counts_is_exported_and_listings_match_the_public_view(
    built: Demo, tmp_path: Path
) -> None:
    """An independent path: the evaluator's profiles of a sample of organisations, and the
    public view of them (trustledger.app.profiles.public), against an export cut now
    (other tests append to the shared ledger)."""
    ctx, today = built.ctx, built.ctx.today()
    on = today.isoformat()
    out = exports.export(ctx, "jsonl", tmp_path / "od").out_dir
    records = {r["record_id"] for r in _jsonl_rows(out / "records.jsonl")}
    listings = {(r["subject_id"], r["rulebook"], r["list_id"], r["since"])
                for r in _jsonl_rows(out / "list_memberships.jsonl")}  # fmt: skip
    measures = {(r["subject_id"], r["rulebook"], r["measure_id"], r["starts"])
                for r in _jsonl_rows(out / "measures.jsonl")}  # fmt: skip
    sample = [str(r[0]) for r in ctx.store.query(
        "SELECT DISTINCT subject_id FROM state_lists WHERE substr(subject_id, 1, 1) <> 'P' "
        "ORDER BY subject_id LIMIT 60")]  # fmt: skip
    seen_listing = seen_measure = 0
    for sid in sample:
        for p in subject_profiles(ctx.store, ctx.catalogue, sid, at_us=None, on=today):
            view = public(p.to_json())
            for r in p.records:
                if r.standing == "in force":
                    assert r.record_id in records, (sid, r)
            for m in view["lists"]:
                assert (sid, p.rulebook, m["list_id"], m["since"]) in listings
                seen_listing += 1
            for m in p.measures:
                assert (sid, p.rulebook, m.measure_id, m.start) in measures
                seen_measure += 1
        mine = {k for k in listings if k[0] == sid}
        shown = {(sid, p.rulebook, m.list_id, m.since)
                 for p in subject_profiles(ctx.store, ctx.catalogue, sid, at_us=None, on=today)
                 for m in p.lists if m.status_on(on) == "effective"}  # fmt: skip
        assert mine == shown, sid
    assert seen_listing and seen_measure


def test_pending_listings_and_their_measures_are_not_exported(built: Demo, tmp_path: Path) -> None:
    on = built.ctx.today().isoformat()
    out = exports.export(built.ctx, "jsonl", tmp_path / "od").out_dir
    pending = built.ctx.store.query(
        "SELECT subject_id, rulebook, list_id, since FROM state_lists WHERE since <= ? "
        "AND (until IS NULL OR until > ?) AND (effective_from IS NULL OR effective_from > ?)",
        (on, on, on),
    )
    exported = {(r["subject_id"], r["rulebook"], r["list_id"], r["since"])
                for r in _jsonl_rows(out / "list_memberships.jsonl")}  # fmt: skip
    assert pending, "the demo has listings in their notice period"
    assert not {tuple(r) for r in pending} & exported
    for m in _jsonl_rows(out / "measures.jsonl"):
        assert m["starts"] <= on and (m["ends"] is None or m["ends"] > on)


# --- reject paths ----------------------------------------------------------------------
def _listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_an_unknown_format_is_refused_and_nothing_is_written(built: Demo, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"unknown format 'xml'.*csv, jsonl, parquet, ftm"):
        exports.export(built.ctx, "csv,xml", tmp_path / "od")
    with pytest.raises(BadInput, match="no format"):
        exports.export(built.ctx, " , ", tmp_path / "od")
    assert _listing(tmp_path) == set()


def test_bad_destinations_are_refused_and_left_as_they_were(built: Demo, tmp_path: Path) -> None:
    ctx = built.ctx
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    with pytest.raises(BadInput, match="not a folder"):
        exports.export(ctx, "csv", afile)
    assert afile.read_text() == "keep me"
    with pytest.raises(BadInput, match=r"parent folder .* does not exist"):
        exports.export(ctx, "csv", tmp_path / "missing" / "od")
    with pytest.raises(BadInput, match="not a folder"):
        exports.export(ctx, "csv", afile / "od")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(BadInput, match="neither empty nor an earlier export"):
        exports.export(ctx, "csv", busy)
    assert _listing(busy) == {"notes.txt"}
    assert _listing(tmp_path) == {"afile", "busy"}


def test_a_folder_that_cannot_be_written_is_refused(built: Demo, tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        target = Path("/sys/trustledger-open-data")  # even root cannot create files in sysfs
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "od"
    with pytest.raises(BadInput, match=r"cannot write|not writable"):
        exports.export(built.ctx, "csv", target)
    assert not target.exists()


def test_a_failure_half_way_leaves_nothing_behind(
    built: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = opendata.write_open_data

    def broken(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)  # every file written, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(opendata, "write_open_data", broken)
    with pytest.raises(BadInput, match="No space left"):
        exports.export(built.ctx, ["csv", "ftm"], tmp_path / "od")
    assert _listing(tmp_path) == set()


def test_a_ledger_that_keeps_moving_is_unavailable_and_leaves_nothing(
    built: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def moving(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        (args[2] / "records.csv").write_text("half")
        raise opendata.LedgerMoved("moved")

    monkeypatch.setattr(opendata, "write_open_data", moving)
    with pytest.raises(Unavailable, match="moved during each of 3 attempts"):
        exports.export(built.ctx, "csv", tmp_path / "od")
    assert len(calls) == exports.ATTEMPTS
    assert _listing(tmp_path) == set()


def test_an_earlier_export_is_replaced_whole(built: Demo, tmp_path: Path) -> None:
    out = tmp_path / "od"
    exports.export(built.ctx, "csv,ftm", out)
    assert "entities.ftm.json" in _listing(out)
    exports.export(built.ctx, "parquet", out)
    assert _listing(out) == {f"{d}.parquet" for d in opendata.DATASETS} | {"manifest.json"}
    assert _listing(tmp_path) == {"od"}


# --- the portal's cached export ----------------------------------------------------------
def test_open_data_is_made_again_only_when_the_head_moves(
    built: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trustledger.app import ingest

    ctx, cache = built.ctx, tmp_path / "cache"
    calls = []
    real = opendata.write_open_data

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(opendata, "write_open_data", counted)
    first = exports.open_data(ctx, cache)
    again = exports.open_data(ctx, cache)
    assert len(calls) == 1 and again.out_dir == first.out_dir
    assert first.head == ctx.store.head()
    assert {f.path.name for f in first.files} >= {opendata.FTM_FILE, "records.parquet"}
    assert all(f.path.is_file() and f.path.stat().st_size == f.bytes for f in first.files)
    # one new entry: the head moved, so the next call cuts a new export
    firm = ctx.store.query("SELECT id, name FROM subjects WHERE kind = 'enterprise' LIMIT 1")[0]
    source = tmp_path / "rename.jsonl"
    source.write_bytes(orjson.dumps({"op": "subject", "subject": firm[0],
                                     "name": firm[1] + "（新）"}) + b"\n")  # fmt: skip
    ingest.ingest(ctx, [source], tmp_path)
    moved = exports.open_data(ctx, cache)
    assert len(calls) == 2 and moved.out_dir != first.out_dir
    assert moved.head.size > first.head.size == _manifest(first.out_dir)["tree_head"]["size"]
    assert first.out_dir.is_dir()  # a download of the previous one can still finish


# --- the command -----------------------------------------------------------------------
def test_the_export_command(built: Demo, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "od"
    done = runner.invoke(cli_app, ["export", "--format", "jsonl,ftm", "--out", str(out),
                                   "--db", built.url, "--json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert {f["name"] for f in result["files"]} == {
        *(f"{d}.jsonl" for d in opendata.DATASETS),
        opendata.FTM_FILE,
    }
    assert result["tree_head"]["size"] == _manifest(out)["tree_head"]["size"]
    table = runner.invoke(cli_app, ["export", "--format", "csv", "--out", str(tmp_path / "t"),
                                    "--db", built.url])  # fmt: skip
    assert table.exit_code == 0 and "records.csv" in table.stdout and "tree head" in table.stdout
    bad = runner.invoke(cli_app, ["export", "--format", "xls", "--out", str(tmp_path / "x"),
                                  "--db", built.url])  # fmt: skip
    assert bad.exit_code == 2 and "unknown format 'xls'" in bad.output
    assert not (tmp_path / "x").exists()


def test_formats_parse_in_canonical_order() -> None:
    assert exports.parse_formats("ftm, CSV") == ["csv", "ftm"]
    assert exports.parse_formats(None) == exports.parse_formats("all") == list(opendata.FORMATS)
    assert exports.FORMATS == opendata.FORMATS


def test_the_national_publicity_bounds_cover_every_tier() -> None:
    from trustledger.domain import Tier

    bounds = opendata.NATIONAL_PUBLICITY_MAX
    assert set(bounds) == {t.value for t in Tier}
    # NDRC Order No. 36: general at most 1 year, serious 3 years, minor not published
    general, serious = bounds["general"], bounds["serious"]
    assert general is not None and general.after(date(2025, 3, 1)) == date(2026, 3, 1)
    assert serious is not None and serious.after(date(2025, 3, 1)) == date(2028, 3, 1)
    assert bounds["minor"] is None


def test_a_record_under_objection_is_still_published_and_says_so(
    built: Demo, tmp_path: Path
) -> None:
    from trustledger.access import authenticate, create_key
    from trustledger.app import dueprocess

    ctx = built.ctx
    negative = [r for r in _jsonl_rows(built.out / "records.jsonl")
                if r["polarity"] == "negative" and not r["under_objection"]]  # fmt: skip
    record = negative[-1]
    key = create_key(ctx.store, "subject", "test subject", subject=record["subject_id"])
    firm = authenticate(ctx.store, key)
    assert firm is not None
    dueprocess.file_objection(ctx, firm, record_id=record["record_id"], ground="content",
                              reasons="处罚决定认定事实有误")  # fmt: skip
    out = exports.export(ctx, "jsonl,ftm", tmp_path / "od").out_dir
    (again,) = [r for r in _jsonl_rows(out / "records.jsonl")
                if r["record_id"] == record["record_id"]]  # fmt: skip
    assert again["under_objection"] is True
    (sanction,) = [e for e in _entities(out) if e["id"] == f"tl-rec-{record['record_id']}"]
    assert sanction["properties"]["status"] == ["under objection"]
    # who objected and why are not open data
    assert "处罚决定认定事实有误".encode() not in b"".join(p.read_bytes() for p in out.iterdir())
