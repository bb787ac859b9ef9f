"""The verifiable credit report: a report verifies; one changed byte anywhere, a changed
record (re-signed with another key, or with the centre's own, or a forged attachment) or
another tree head fails with a reason; a person is refused; the Chinese text is in the PDF;
every reject path of generating and verifying."""

from __future__ import annotations

import copy
import io
import json
import os
import re
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from builders import (
    FIRM,
    FIRM2,
    PERSON_ID,
    TAX,
    authorities,
    debtor,
    issue,
    monitoring_authority,
    rated_high,
    resident_id,
)
from pypdf import PdfReader
from typer.testing import CliRunner

from trustledger.app import reports
from trustledger.app.context import Context
from trustledger.app.errors import BadInput, ConfigError, Forbidden, NotFound
from trustledger.app.time import When
from trustledger.catalogue import national_catalogue
from trustledger.evaluate.state import evaluate_all
from trustledger.exports import report as R
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger import merkle
from trustledger.ledger.store import open_store
from trustledger.rulebook.publish import publish_rulebook
from trustledger.settings import Settings

KEYER = PersonKeyer(bytes(range(32)))
ON = date(2026, 11, 26)
RULEBOOKS = sorted(
    (Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped").glob("*.yaml")
)
REPRESENTATIVE = resident_id(seq="555")  # FIRM's legal representative, named by the court
NUMBER = re.compile(r"^TLR-20261126-[0-9A-F]{8}$")


def _ledger(url: str) -> None:
    store = open_store(url)
    store.init(KEYER.fingerprint())
    intake = Intake(store, national_catalogue(), KEYER, today=ON)
    lines = [*authorities(), issue(), debtor(legal_representative=REPRESENTATIVE),
             issue(document_number="深税稽罚〔2025〕3号", decision_date="2025-02-01",
                   publication_date="2025-02-03", title="逾期申报"),
             debtor(subject=FIRM2, subject_name="北京某某", document_number="(2025)粤0305执9号",
                    decision_date="2025-05-01", publication_date="2025-05-02"),
             debtor(subject=PERSON_ID, subject_name="张三", document_number="(2025)粤0305执7号",
                    decision_date="2025-06-01", publication_date="2025-06-02"),
             # in force and corrected: shown as corrected, both entries carried
             issue(document_number="深税稽罚〔2026〕5号", decision_date="2026-06-01",
                   publication_date="2026-06-03"),
             {"op": "correct", "authority": TAX, "subject": FIRM,
              "category": "TAX-PENALTY-GENERAL", "target_document_number": "深税稽罚〔2026〕5号",
              "document_number": "深税更〔2026〕2号", "effective_date": "2026-06-10",
              "reason": "金额更正", "changes": {"amount_cny": "18000"}},
             # a record ended by its issuer: no longer in force, so not shown
             {"op": "end", "authority": TAX, "subject": FIRM, "category": "TAX-PENALTY-GENERAL",
              "target_document_number": "深税稽罚〔2025〕3号",
              "document_number": "深税结〔2025〕1号",
              "effective_date": "2025-03-01", "reason": "case_closed"},
             # emissions within the limits: green under the environmental rulebook, whose
             # incentives a judgment debtor does not get
             monitoring_authority(), rated_high(FIRM, ON)]  # fmt: skip
    results = intake.submit_many(lines)
    assert all(r.outcome == "accepted" for r in results), results
    for path in RULEBOOKS:
        publish_rulebook(store, path, national_catalogue())
    evaluate_all(store, national_catalogue(), at_us=None, on=ON)
    store.close()


@dataclass
class World:
    dir: Path
    settings: Settings
    report: reports.Report
    cert: str

    def ctx(self) -> Context:
        return Context.open(self.settings, keyer=KEYER)


def when(ctx: Context) -> When:
    return When(None, ON, ctx.now_us(), ctx.settings.timezone)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{base / 'ledger.db'}"
    _ledger(url)
    settings = Settings(
        db_url=url, person_key_file=base / "person.key", report_key_file=base / "report.key"
    )
    with Context.open(settings, keyer=KEYER) as ctx:
        made = reports.generate(ctx, FIRM, when(ctx))
    return World(base, settings, made, reports.certificate_pem(settings))


@pytest.fixture
def ctx(world: World) -> Iterator[Context]:
    with world.ctx() as c:
        yield c


def payload_of(pdf: bytes) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(
        PdfReader(io.BytesIO(pdf)).attachments[R.ATTACHMENT_NAME][0]
    )
    return content


def resign(
    content: dict[str, Any], key: R.SigningKey, *, html_of: dict[str, Any] | None = None
) -> bytes:
    """A report made from ``content`` (pages from ``html_of`` if given), signed by ``key``."""
    payload = R.payload_of(content)
    html = R.render_html(R.payload_of(html_of)) if html_of is not None else None
    return R.sign_pdf(R.render_pdf(payload, html), key)


def centre_key(world: World) -> R.SigningKey:
    return R.load_signing_key(world.settings.report_key_file)


# --- a report verifies ------------------------------------------------------------------
def test_a_report_verifies_offline_and_live(world: World, ctx: Context) -> None:
    report = world.report
    assert NUMBER.match(report.number)
    offline = reports.verify(report.pdf, cert_pem=world.cert)
    assert offline.ok, offline.reasons
    assert offline.facts["number"] == report.number
    assert offline.facts["entries_checked"] == len(report.entries)
    assert offline.facts["tree_head"]["size"] == report.tree_size
    live = reports.verify(report.pdf, ctx=ctx)  # the local key's certificate, the local ledger
    assert live.ok, live.reasons
    assert live.facts["live"][0]["consistent"] is True


def test_the_report_shows_the_public_standing(world: World) -> None:
    content = payload_of(world.report.pdf)
    assert content["subject"]["name"] == "深圳市华韵科技有限公司"
    assert content["subject"]["uscc"]["registering_authority"] == "工商（市场监督管理）"
    assert content["subject"]["uscc"]["division_names"][-1] == "南山区"
    records = {r["document_number"]: r for r in content["records"]}
    # the ended record and the one past its publicity period are no longer published: only
    # the records in force are shown
    assert set(records) == {
        "深税稽罚〔2026〕5号",
        "(2024)粤0305执1234号",
        f"HJ212-RATE-{FIRM}-20261126",
    }
    assert all(r["in_force"] for r in records.values())
    corrected = records["深税稽罚〔2026〕5号"]
    assert (corrected["status"], corrected["amount_cny"]) == ("corrected", "18000.00")
    assert len(corrected["entries"]) == 2  # the issue and the correction, both carried
    spc = next(r for r in content["rulebooks"] if r["ref"].startswith("cn-spc-dishonest-debtors"))
    assert [m["list_id"] for m in spc["lists"]] == ["dishonest-judgment-debtors"]
    assert spc["measures"] and all("extends_to" not in m for m in spc["measures"])
    # on a black list: no incentive reaches it (the check's conflict rule), shown withheld
    incentives = [
        m for r in content["rulebooks"] for m in r["measures"] if m["kind"] == "incentive"
    ]
    assert incentives and all(m["withheld"].startswith("失信被执行人名单") for m in incentives)
    # every entry cited anywhere is carried, and every carried entry is in the tree
    carried = {e["seq"] for e in content["entries"]}
    cited = {
        *content["subject"]["entries"],
        *(s for r in content["records"] for s in r["entries"]),
        *(a["entry"] for a in content["authorities"]),
        *(r["entry"] for r in content["rulebooks"]),
    }
    assert cited == carried
    assert PERSON_ID not in json.dumps(content, ensure_ascii=False)


def test_the_pdf_holds_the_chinese_text_and_the_printed_hash(world: World) -> None:
    reader = PdfReader(io.BytesIO(world.report.pdf))
    first = reader.pages[0].extract_text()
    assert "企业公共信用报告" in first and "深圳市华韵科技有限公司" in first
    assert world.report.number in first
    assert world.report.payload_sha256 in "".join(first.split())
    text = "".join(page.extract_text() for page in reader.pages)
    assert "深圳市南山区人民法院" in text and "失信被执行人" in text


def test_inclusion_proofs_in_one_pass_are_rfc_6962s() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(40)]
    for size in range(1, 41):
        proofs = R.inclusion_proofs(leaves, list(range(size)), size)
        for index in range(size):
            assert proofs[index] == merkle.inclusion_proof(leaves, index, size), (size, index)


# --- one changed byte ----------------------------------------------------------------------
def _positions(pdf: bytes) -> list[int]:
    """Bytes everywhere: the first and last, an even spread, inside the signature's hex
    (its DER and its zero padding), inside the attachment's stream, in the trailer."""
    n = len(pdf)
    start = pdf.index(b"/Contents <") + len(b"/Contents <")
    end = pdf.index(b">", start)
    picks = {
        0,
        1,
        n // 2,
        n - 1,
        n - 2,
        start,
        start + 1,
        start + 700,
        end - 1,
        end - 2,
        pdf.index(b"/EmbeddedFile") + 5,
        pdf.rindex(b"startxref") + 3,
    }
    picks.update(range(0, n, n // 25))
    return sorted(picks)


def test_one_changed_byte_anywhere_fails(world: World) -> None:
    pdf = world.report.pdf
    for pos in _positions(pdf):
        for new in {pdf[pos] ^ 0x01, ord("0") if pdf[pos] != ord("0") else ord("1")}:
            tampered = pdf[:pos] + bytes([new]) + pdf[pos + 1 :]
            result = reports.verify(tampered, cert_pem=world.cert)
            assert not result.ok and result.reasons, (pos, pdf[pos : pos + 1], new)


def test_a_lower_case_hex_digit_in_the_signature_fails(world: World) -> None:
    # the same bytes in another spelling: the signature cannot cover its own hex string
    pdf = world.report.pdf
    start = pdf.index(b"/Contents <") + len(b"/Contents <")
    pos = next(i for i in range(start, start + 200) if pdf[i : i + 1] in b"ABCDEF")
    tampered = pdf[:pos] + pdf[pos : pos + 1].lower() + pdf[pos + 1 :]
    result = reports.verify(tampered, cert_pem=world.cert)
    assert "the signature's contents were altered (not the hex the signer writes)" in result.reasons


def test_bytes_added_after_signing_fail(world: World) -> None:
    result = reports.verify(world.report.pdf + b"\n% more\n", cert_pem=world.cert)
    assert any("does not cover the whole file" in r for r in result.reasons), result.reasons


# --- a changed record ------------------------------------------------------------------------
def _changed_record(content: dict[str, Any]) -> dict[str, Any]:
    forged = copy.deepcopy(content)
    record = next(r for r in forged["records"] if r["document_number"] == "深税稽罚〔2026〕5号")
    record["document_number"] = "深税稽罚〔2026〕9号"
    return forged


def test_a_changed_record_signed_with_another_key_fails(world: World) -> None:
    forged = resign(_changed_record(payload_of(world.report.pdf)), R.new_signing_key())
    result = reports.verify(forged, cert_pem=world.cert)
    assert not result.ok
    assert any(r.startswith("the signer is not the centre's certificate") for r in result.reasons)
    assert any(
        "document number: the report shows '深税稽罚〔2026〕9号'" in r for r in result.reasons
    ), result.reasons


def test_a_changed_record_signed_with_the_centres_key_fails(world: World) -> None:
    # the signature proves who made the file, not that it says what the ledger says
    forged = resign(_changed_record(payload_of(world.report.pdf)), centre_key(world))
    result = reports.verify(forged, cert_pem=world.cert)
    assert not result.ok
    (reason,) = result.reasons
    assert re.fullmatch(
        r"record R\w+'s document number: the report shows '深税稽罚〔2026〕9号', its ledger "
        r"entry \d+ says '深税稽罚〔2026〕5号'",
        reason,
    ), reason


def test_a_changed_entry_fails_its_inclusion_proof(world: World) -> None:
    content = _changed_record(payload_of(world.report.pdf))
    item = next(e for e in content["entries"] if "深税稽罚〔2026〕5号" in (e["entry"] or ""))
    item["entry"] = item["entry"].replace("深税稽罚〔2026〕5号", "深税稽罚〔2026〕9号")
    item["leaf_hash"] = merkle.leaf_hash(item["entry"].encode()).hex()  # forged consistently
    result = reports.verify(resign(content, centre_key(world)), cert_pem=world.cert)
    root = content["tree_head"]["root"]
    assert (
        f"entry {item['seq']}'s inclusion proof does not lead to root {root} "
        f"(tree size {content['tree_head']['size']})" in result.reasons
    )


def test_a_forged_attachment_fails(world: World) -> None:
    # pages of the true report, the attachment of a forged one, signed by the centre's key
    true = payload_of(world.report.pdf)
    forged = resign(_changed_record(true), centre_key(world), html_of=true)
    result = reports.verify(forged, cert_pem=world.cert)
    assert any(
        r.startswith("the attachment's SHA-256") and "is not the one on the first page" in r
        for r in result.reasons
    ), result.reasons


def test_a_record_left_out_of_the_entries_fails(world: World) -> None:
    content = payload_of(world.report.pdf)
    record = next(r for r in content["records"] if r["document_number"] == "深税稽罚〔2026〕5号")
    content["entries"] = [e for e in content["entries"] if e["seq"] not in record["entries"]]
    result = reports.verify(resign(content, centre_key(world)), cert_pem=world.cert)
    assert f"record {record['record_id']}'s ledger entry is not carried" in result.reasons


def test_an_entry_naming_a_person_is_withheld_and_its_place_proved(world: World) -> None:
    content = payload_of(world.report.pdf)
    assert re.search(r"P[0-9a-f]{32}", json.dumps(content)) is None  # no keyed person id
    debt = next(r for r in content["records"] if r["document_number"] == "(2024)粤0305执1234号")
    (item,) = [e for e in content["entries"] if e["seq"] == debt["entries"][0]]
    assert (item["entry"], item["withheld"]) == (None, "it names a person")
    result = reports.verify(world.report.pdf, cert_pem=world.cert)
    assert result.ok and item["seq"] in result.facts["entries_withheld"]
    assert any(n.startswith(f"record {debt['record_id']} rests on entry {item['seq']}, withheld")
               for n in result.notes), result.notes  # fmt: skip
    # a withheld entry's leaf hash must still be in the tree
    item["leaf_hash"] = "00" * 32
    forged = reports.verify(resign(content, centre_key(world)), cert_pem=world.cert)
    assert any(r.startswith(f"entry {item['seq']}'s inclusion proof does not lead to root")
               for r in forged.reasons), forged.reasons  # fmt: skip


# --- another tree head ---------------------------------------------------------------------
def test_another_tree_head_fails(world: World, ctx: Context) -> None:
    content = payload_of(world.report.pdf)
    ctx.store.append_one(
        "authority.registered",
        {"id": "11440305000000099X", "name": "某局", "authority_type": "tax", "division": "440305"},
    )
    later = ctx.store.head()
    content["tree_head"] = later.to_json()
    result = reports.verify(resign(content, centre_key(world)), cert_pem=world.cert)
    assert any(
        re.fullmatch(
            rf"entry \d+'s inclusion proof does not lead to root {later.root.hex()} "
            rf"\(tree size {later.size}\)",
            r,
        )
        for r in result.reasons
    )
    assert any(
        r.startswith(f"the report number {content['number']} is not the one")
        for r in result.reasons
    )
    # the true report still verifies against the grown ledger (a consistency proof)
    grown = reports.verify(world.report.pdf, ctx=ctx)
    assert grown.ok, grown.reasons
    assert any("grown by 1 entries" in n for n in grown.notes)


def test_a_report_of_another_ledger_is_not_part_of_this_one(world: World, tmp_path: Path) -> None:
    # the same history, then each ledger its own next entry: same size, different roots
    other = tmp_path / "other.db"
    shutil.copy(world.dir / "ledger.db", other)
    settings = replace(world.settings, db_url=f"sqlite:///{other}")
    with Context.open(settings, keyer=KEYER) as octx:
        octx.store.append_one(
            "authority.registered",
            {
                "id": "11440305000000088X",
                "name": "另一局",
                "authority_type": "tax",
                "division": "440305",
            },
        )
        theirs = reports.generate(octx, FIRM, when(octx))
    with world.ctx() as mine:
        mine.store.append_one(
            "authority.registered",
            {
                "id": "11440305000000077X",
                "name": "本局",
                "authority_type": "tax",
                "division": "440305",
            },
        )
        size = theirs.tree_size
        assert mine.store.size() >= size
        result = reports.verify(theirs.pdf, ctx=mine)
    assert not result.ok
    assert any(
        r.startswith(f"the tree head of size {size} is not part of this ledger")
        for r in result.reasons
    ), result.reasons
    # offline it is a sound report of its own ledger
    assert reports.verify(theirs.pdf, cert_pem=world.cert).ok


def test_a_tree_head_larger_than_the_ledger_is_not_part_of_it(world: World, tmp_path: Path) -> None:
    small = tmp_path / "small.db"
    _ledger(f"sqlite:///{small}")  # the same lines, but no entries appended by other tests
    settings = replace(world.settings, db_url=f"sqlite:///{small}")
    with Context.open(settings, keyer=KEYER) as sctx:
        sctx.store.append_one(
            "authority.registered",
            {
                "id": "11440305000000066X",
                "name": "再一局",
                "authority_type": "tax",
                "division": "440305",
            },
        )
        bigger = reports.generate(sctx, FIRM, when(sctx))
    fresh = tmp_path / "fresh.db"
    _ledger(f"sqlite:///{fresh}")
    with Context.open(replace(world.settings, db_url=f"sqlite:///{fresh}"), keyer=KEYER) as fctx:
        result = reports.verify(bigger.pdf, ctx=fctx)
        held = fctx.store.size()
    assert (
        f"the tree head of size {bigger.tree_size} is not part of this ledger (it holds "
        f"{held} entries)"
    ) in result.reasons


def test_the_live_check_over_http(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from trustledger.api import create_app

    with TestClient(create_app(world.settings, reload_interval=0.0)) as client:
        head = client.get("/v1/ledger/head").json()
        assert head["size"] >= world.report.tree_size
        proof = client.get(
            "/v1/ledger/proof/inclusion",
            params={"seq": world.report.entries[0], "size": world.report.tree_size},
        )
        assert proof.json()["root"] == world.report.root
        assert client.get("/v1/ledger/proof/inclusion", params={"seq": 10**9}).status_code == 404
        assert client.get("/v1/ledger/proof/consistency", params={"old": 10**9}).status_code == 404

        def get(self: Any, path: str, **params: int) -> dict[str, Any]:
            found: dict[str, Any] = client.get(path, params=params).json()
            return found

        monkeypatch.setattr(reports._HttpLedger, "_get", get)
        result = reports.verify(
            world.report.pdf, cert_pem=world.cert, ledger_url="http://ledger.test"
        )
    assert result.ok, result.reasons
    assert result.facts["live"][0]["ledger"] == "http://ledger.test"
    assert result.facts["live"][0]["consistent"] is True


def test_an_unreachable_ledger_is_a_note(world: World) -> None:
    result = reports.verify(world.report.pdf, cert_pem=world.cert, ledger_url="http://127.0.0.1:9")
    assert result.ok
    assert any("could not be checked" in n for n in result.notes), result.notes
    assert result.facts["live"] == [{"ledger": "http://127.0.0.1:9", "checked": False}]


# --- refusals and reject paths ----------------------------------------------------------------
def test_a_person_is_refused_never_rendered(ctx: Context, world: World) -> None:
    for who in (PERSON_ID, KEYER.person_id(PERSON_ID)):
        with pytest.raises(Forbidden, match="never for a person"):
            reports.generate(ctx, who, when(ctx))


def test_unknown_and_bad_subjects(ctx: Context) -> None:
    from builders import uscc

    with pytest.raises(NotFound):
        reports.generate(ctx, uscc("91", "440305", "MA5DYYY1"), when(ctx))
    with pytest.raises(BadInput):
        reports.generate(ctx, "91440305MA5DA0A1X9", when(ctx))


def test_verify_reject_paths(world: World) -> None:
    with pytest.raises(BadInput, match="pass the centre's"):
        reports.verify(world.report.pdf)
    with pytest.raises(BadInput, match="cannot be read"):
        reports.verify(world.report.pdf, cert_pem="-----BEGIN CERTIFICATE-----\nnope\n")
    with pytest.raises(BadInput, match="http"):
        reports.verify(world.report.pdf, cert_pem=world.cert, ledger_url="file:///etc/passwd")
    assert (
        reports.verify(b"not a pdf", cert_pem=world.cert)
        .reasons[0]
        .startswith("the file is not a readable PDF")
    )
    unsigned = R.render_pdf(R.payload_of(payload_of(world.report.pdf)))
    assert reports.verify(unsigned, cert_pem=world.cert).reasons == ["the file is not signed"]
    pages = R.render_html(R.payload_of(payload_of(world.report.pdf)))
    without = R.sign_pdf(R.render_pdf(R.payload_of({"format": "x"}), pages), centre_key(world))
    assert reports.verify(without, cert_pem=world.cert).reasons == [
        "the attachment is not a trustledger.report/1 payload"
    ]


def test_verify_without_a_certificate_or_a_local_key(world: World, tmp_path: Path) -> None:
    settings = replace(world.settings, report_key_file=tmp_path / "none.key")
    with Context.open(settings, keyer=KEYER) as c, pytest.raises(BadInput, match="--cert"):
        reports.verify(world.report.pdf, ctx=c)
    assert not (tmp_path / "none.key").exists()  # verifying never makes a key


def test_the_key_file(world: World, tmp_path: Path) -> None:
    path = world.settings.report_key_file
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    assert "PRIVATE KEY" in text and world.cert in text
    assert R.load_signing_key(path, create=True).cert_pem == world.cert  # never replaced
    # a certificate that is not the key's is refused
    other = R.new_signing_key()
    bad = tmp_path / "bad.key"
    bad.write_text(text.split("-----BEGIN CERTIFICATE-----")[0] + other.cert_pem)
    with pytest.raises(ConfigError, match="not the private key's"):
        reports.certificate_pem(replace(world.settings, report_key_file=bad))
    (tmp_path / "junk.key").write_text("junk")
    with pytest.raises(ConfigError, match="holds no private key"):
        reports.certificate_pem(replace(world.settings, report_key_file=tmp_path / "junk.key"))


def test_the_command_line(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trustledger.cli import app

    runner = CliRunner()
    monkeypatch.setenv("TRUSTLEDGER_DB", world.settings.db_url)
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY", bytes(range(32)).hex())
    monkeypatch.setenv("TRUSTLEDGER_REPORT_KEY_FILE", str(world.settings.report_key_file))
    out = tmp_path / "r.pdf"
    made = runner.invoke(app, ["report", FIRM, "--out", str(out), "--on", "2026-11-26"])
    assert made.exit_code == 0, made.output
    assert made.output.startswith("report TLR-20261126-")
    also = runner.invoke(
        app,
        [
            "report",
            "create",
            FIRM,
            "--out",
            str(tmp_path / "c.pdf"),
            "--on",
            "2026-11-26",
            "--json",
        ],
    )
    assert also.exit_code == 0 and json.loads(also.stdout)["number"].startswith("TLR-20261126-")
    ok = runner.invoke(app, ["report", "verify", str(out)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("verified:") and "consistent with the live ledger" in ok.output
    pem = runner.invoke(app, ["report", "certificate"])
    assert pem.exit_code == 0 and pem.stdout.strip() == world.cert.strip()
    cert = tmp_path / "centre.pem"
    cert.write_text(pem.stdout)
    data = out.read_bytes()
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(data[:1000] + bytes([data[1000] ^ 1]) + data[1001:])
    failed = runner.invoke(
        app, ["report", "verify", str(bad), "--cert", str(cert), "--offline", "--json"]
    )
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["reasons"]
    # a verifier without a ledger: offline, and no database file is made
    missing = tmp_path / "none.db"
    alone = runner.invoke(app, ["report", "verify", str(out), "--cert", str(cert),
                                "--db", f"sqlite:///{missing}"])  # fmt: skip
    assert alone.exit_code == 0 and "there is none at" in alone.output
    assert not missing.exists()
    refused = runner.invoke(app, ["report", PERSON_ID, "--out", str(tmp_path / "p.pdf")])
    assert refused.exit_code == 2 and "never for a person" in refused.output
    assert not (tmp_path / "p.pdf").exists()


@pytest.mark.postgres
def test_a_report_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    _ledger(pg_url)
    settings = Settings(db_url=pg_url, person_key_file=tmp_path / "person.key",
                        report_key_file=tmp_path / "report.key")  # fmt: skip
    with Context.open(settings, keyer=KEYER) as c:
        made = reports.generate(c, FIRM, when(c))
        result = reports.verify(made.pdf, ctx=c)
    assert result.ok, result.reasons
    assert result.facts["live"][0]["consistent"] is True


def test_proofs_from_the_store_are_rfc_6962s(tmp_path: Path) -> None:
    # block roots kept between reports: right for every size, as the ledger grows
    store = open_store(f"sqlite:///{tmp_path / 'grow.db'}")
    store.init(KEYER.fingerprint())
    for n in range(1, 200):
        entry = {"id": f"A{n}", "name": "局", "authority_type": "tax", "division": "440305"}
        store.append_one("authority.registered", entry)
        if n in (1, 2, 63, 64, 65, 127, 128, 129, 150, 199):
            leaves = store.leaf_hashes(n)
            head = store.head()
            proofs = R.store_proofs(store, list(range(n)), n, head.root)
            for index in range(n):
                assert proofs[index] == merkle.inclusion_proof(leaves, index, n), (n, index)
    with pytest.raises(ValueError, match="do not give"):
        R.store_proofs(open_store(f"sqlite:///{tmp_path / 'grow.db'}"), [0], 199, bytes(32))
    store.close()


def test_a_report_as_known_at_an_earlier_instant(world: World, tmp_path: Path) -> None:
    # a later correction is neither shown nor carried in a report known before it
    copy_db = tmp_path / "earlier.db"
    shutil.copy(world.dir / "ledger.db", copy_db)
    settings = replace(world.settings, db_url=f"sqlite:///{copy_db}")
    with Context.open(settings, keyer=KEYER) as c:
        before = c.store.head().time_us
        intake = Intake(c.store, national_catalogue(), KEYER, today=ON)
        (done,) = intake.submit_many([{
            "op": "correct", "authority": TAX, "subject": FIRM, "category": "TAX-PENALTY-GENERAL",
            "target_document_number": "深税稽罚〔2026〕5号", "document_number": "深税更〔2026〕3号",
            "effective_date": "2026-06-20", "reason": "再次更正",
            "changes": {"amount_cny": "17000"},
        }])  # fmt: skip
        assert done.outcome == "accepted", done
        now = reports.generate(c, FIRM, when(c))
        earlier = reports.generate(c, FIRM, When(before, ON, c.now_us(), c.settings.timezone))
        for made, amount, changes in ((now, "17000.00", 3), (earlier, "18000.00", 2)):
            record = next(r for r in payload_of(made.pdf)["records"]
                          if r["document_number"] == "深税稽罚〔2026〕5号")  # fmt: skip
            assert (record["amount_cny"], len(record["entries"])) == (amount, changes)
            assert reports.verify(made.pdf, ctx=c).ok


def test_a_record_under_objection_shows_contested_without_the_objection(
    world: World, tmp_path: Path
) -> None:
    from trustledger.access import create_key, get_principal
    from trustledger.access.principals import authenticate
    from trustledger.app import dueprocess

    copy_db = tmp_path / "objected.db"
    shutil.copy(world.dir / "ledger.db", copy_db)
    settings = replace(world.settings, db_url=f"sqlite:///{copy_db}")
    with Context.open(settings, keyer=KEYER) as c:
        key = create_key(c.store, "subject", "华韵", subject=FIRM)
        found = authenticate(c.store, key, c.clock.now())
        assert found is not None and get_principal(c.store, found.id) is not None
        content = payload_of(reports.generate(c, FIRM, when(c)).pdf)
        tax = next(r for r in content["records"] if r["document_number"] == "深税稽罚〔2026〕5号")
        dueprocess.file_objection(c, found, record_id=tax["record_id"], ground="content",
                                  reasons="金额有误，另附缴款凭证")  # fmt: skip
        made = reports.generate(c, FIRM, when(c))
        result = reports.verify(made.pdf, ctx=c)
    assert result.ok, result.reasons
    content = payload_of(made.pdf)
    shown = next(r for r in content["records"] if r["record_id"] == tax["record_id"])
    assert shown["under_objection"]
    objection = [e for e in content["entries"] if e["kind"] == "objection.filed"]
    assert [e["withheld"] for e in objection] == ["it holds an objection's contents"]
    assert "金额有误" not in json.dumps(content, ensure_ascii=False)
