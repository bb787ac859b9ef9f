"""The enterprise's verifiable public credit report: a signed PDF with its proofs inside.

What the report says is first built as one payload (the ledger's canonical JSON, RFC 8785):
the subject's identity, its published records, the grades, lists and measures under each
applicable rulebook, the ledger tree head, and every ledger entry the report rests on with
its RFC 6962 inclusion proof. The PDF is rendered from that payload, carries it as an
attachment and its SHA-256 on the first page (in text and in a QR code), and is signed as
a whole (PAdES, pyHanko) with the credit centre's report key — an ECDSA P-256 key and a
self-signed certificate kept in a file outside the database, like the person key.

Verifying it (trustledger.exports.report_verify) needs no database: the signature proves
the file is the centre's and unaltered, the proofs prove the entries are in the ledger
whose tree head is printed, and replaying the entries proves the records shown are theirs.

Which facts the report may show is decided by the application layer (the public view);
this module builds, renders and signs what it is given.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from trustledger.catalogue import Catalogue
from trustledger.domain import kind_of_uscc
from trustledger.ids import create_private_file, division_of
from trustledger.ledger import merkle
from trustledger.ledger.canonical import canonical_json
from trustledger.ledger.entry import Entry
from trustledger.ledger.projection import AuthorityRow, Projector, RecordRow, SubjectRow
from trustledger.ledger.store import Store

FORMAT = "trustledger.report/1"
ATTACHMENT_NAME = "trustledger-report.json"
NUMBER_PREFIX = "TLR-"
SIGNER_NAME = "trustledger credit centre report signing"
SIGNATURE_FIELD = "TrustledgerReport"


class ReportKeyError(Exception):
    """The report-signing key file is missing or unusable."""


# --- the report number ----------------------------------------------------------------
def report_number(subject_id: str, on: str, size: int, root_hex: str) -> str:
    """``TLR-YYYYMMDD-xxxxxxxx``: the day, and a digest of subject, day and tree head, so
    one subject's report on one day at one tree head always has the same number."""
    digest = hashlib.sha256(f"{subject_id}|{on}|{size}|{root_hex}".encode()).hexdigest()
    return f"{NUMBER_PREFIX}{on.replace('-', '')}-{digest[:8].upper()}"


def qr_text(number: str, payload_sha256: str, size: int, root_hex: str) -> str:
    """What the QR code carries: the number, the payload's hash and the tree head."""
    return f"{number};sha256={payload_sha256};tree={size}:{root_hex}"


# --- identity -------------------------------------------------------------------------
# GB 32100-2015, table 1: the registering-authority code (character 1) and, under each,
# the organisation-type code (character 2)
_REGISTERING = {
    "1": (
        "机构编制",
        {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    ),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": (
        "司法行政",
        {
            "1": "律师执业机构",
            "2": "公证处",
            "3": "基层法律服务所",
            "4": "司法鉴定机构",
            "5": "仲裁委员会",
            "9": "其他",
        },
    ),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": (
        "旅游",
        {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地代表机构", "9": "其他"},
    ),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商（市场监督管理）", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": (
        "农业",
        {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    ),
    "Y": ("其他", {}),
}


@lru_cache(maxsize=1)
def _division_names() -> dict[str, str]:
    text = resources.files("trustledger.data").joinpath("divisions.csv").read_text("utf-8")
    return {row["code"]: row["name"] for row in csv.DictReader(text.splitlines())}


def decode_uscc(code: str) -> dict[str, Any]:
    """A USCC read out: registering authority, organisation type, division (with names),
    organisation code and the kind it implies."""
    authority, types = _REGISTERING.get(code[:1], ("未知", {}))
    out: dict[str, Any] = {
        "registering_authority": authority,
        "type": types.get(code[1:2], "未知"),
        "kind": kind_of_uscc(code).value,
        "division": code[2:8],
        "organisation_code": f"{code[8:16]}-{code[16:17]}",
        "division_names": [],
    }
    try:
        division = division_of(code[2:8])
    except ValueError:
        return out
    names = _division_names()
    seen: list[str] = []
    for level in (division.province, division.prefecture, division.county):
        name = names.get(level)
        if name and name not in seen:
            seen.append(name)
    out["division_names"] = seen
    return out


# --- the payload ----------------------------------------------------------------------
@dataclass(frozen=True)
class Payload:
    """The report's content as canonical JSON (``body``) and its parsed form."""

    body: bytes
    content: dict[str, Any]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def number(self) -> str:
        return str(self.content["number"])

    @property
    def seqs(self) -> list[int]:
        return [int(e["seq"]) for e in self.content["entries"]]


def _json_list(text: str | None) -> list[str]:
    import orjson

    return [str(v) for v in orjson.loads(text)] if text else []


def build_payload(
    store: Store,
    catalogue: Catalogue,
    subject: SubjectRow,
    profiles: Sequence[dict[str, Any]],
    *,
    on: str,
    at_us: int | None,
    generated_at: str,
) -> Payload:
    """The payload of one subject's report. ``profiles`` are the profiles the report may
    show (one per published rulebook, as JSON: the application layer has already cut them
    to what the public may see); the records shown are those of them in force on the day
    under some rulebook, read back from their own ledger entries so that the report says
    exactly what the entries say."""
    standing = _standings(profiles)
    # records in force on the day under some rulebook: one whose publicity period is over,
    # or that was ended, revoked or repaired, is no longer published as a credit record
    shown = sorted(rid for rid, seen in standing.items() if seen["in_force"])
    current = {r.id: r for r in store.rows_where("records", "subject_id", [subject.id])}
    events = store.rows_where("record_events", "record_id", shown)
    record_seqs = [current[r].issued_seq for r in shown if r in current] + [e.seq for e in events]
    wanted = {*record_seqs, subject.registered_seq, subject.last_seq}
    rulebook_seqs: dict[str, int] = {}
    for p in profiles:
        row = store.get_row("rulebooks", p["rulebook"])
        if row is not None:
            rulebook_seqs[p["rulebook"]] = int(row[-1])
    wanted.update(rulebook_seqs.values())
    objection_ids = sorted({r["under_objection"] for p in profiles for r in p["records"]
                            if r.get("under_objection") and r["record_id"] in standing
                            and standing[r["record_id"]]["in_force"]})  # fmt: skip
    for oid in objection_ids:
        row = store.get_row("objections", oid)
        if row is not None:
            wanted.add(int(row[-2]))  # the filing: what makes the record "under objection"
    entries = [
        e
        for e in store.entries_at(sorted(wanted))
        if at_us is None or e.time_us <= at_us or e.seq == subject.registered_seq
    ]
    # the subject and records as their entries make them (a later correction or renaming
    # known after at_us is not carried, so it cannot show)
    projector = Projector()
    for entry in entries:
        if entry.kind.startswith("record.") or entry.kind == "subject.registered":
            projector.apply(entry)
    records: dict[str, RecordRow] = projector.changed["records"]
    subject = projector.changed["subjects"].get(subject.id, subject)
    authority_ids = sorted({r.authority_id for r in records.values()})
    authorities: dict[str, AuthorityRow] = {}
    for aid in authority_ids:
        row = store.get_row("authorities", aid)
        if row is not None:
            authorities[aid] = AuthorityRow._make(row)
    extra = {a.last_seq for a in authorities.values()} - {e.seq for e in entries}
    if extra:
        entries = sorted([*entries, *store.entries_at(sorted(extra))])
    # the tree head read last: every entry used is inside it
    head = store.head()
    proofs = store_proofs(store, [e.seq for e in entries], head.size, head.root)
    root_hex = head.root.hex()
    events_of: dict[str, list[int]] = {}
    for e in entries:
        if e.kind.startswith("record.") and e.kind != "record.issued":
            events_of.setdefault(str(e.payload_obj()["record_id"]), []).append(e.seq)
    content: dict[str, Any] = {
        "format": FORMAT,
        "number": report_number(subject.id, on, head.size, root_hex),
        "on": on,
        "known_at_us": at_us,
        "generated_at": generated_at,
        "subject": {
            "id": subject.id,
            "name": subject.name,
            "kind": subject.kind,
            "division": subject.division,
            "former_names": _json_list(subject.former_names),
            "established": subject.established,
            "address": subject.address,
            "uscc": decode_uscc(subject.id),
            "entries": [e.seq for e in entries if e.kind == "subject.registered"],
        },
        "records": [
            _record_json(
                records[rid], catalogue, authorities, standing.get(rid, {}), events_of.get(rid, [])
            )
            for rid in shown
            if rid in records
        ],
        "authorities": [
            {"id": a.id, "name": a.name, "authority_type": a.authority_type, "entry": a.last_seq}
            for a in authorities.values()
        ],
        "rulebooks": [_rulebook_json(p, rulebook_seqs.get(p["rulebook"])) for p in profiles],
        "tree_head": {"size": head.size, "root": root_hex, "time_us": head.time_us},
        "entries": [_carried(e, proofs[e.seq]) for e in entries],
    }
    return Payload(canonical_json(content), content)


# a person's keyed id, as an entry's canonical JSON holds it
_PERSON_ID = re.compile(rb'"P[0-9a-f]{32}"')
WITHHELD = "it names a person"
WITHHELD_OBJECTION = "it holds an objection's contents"


def _carried(entry: Entry, proof: list[bytes]) -> dict[str, Any]:
    """An entry as the report carries it: its bytes and proof; or, when it names a person
    (a court record's legal representative) or is an objection, its leaf hash and proof
    only, as the public API gives it: the report is public, and neither a person's keyed
    id nor what a subject wrote in an objection is published."""
    envelope = entry.envelope()
    withheld: str | None = None
    if _PERSON_ID.search(envelope) is not None:
        withheld = WITHHELD
    elif entry.kind.startswith("objection."):
        # the record is shown as contested; what the subject wrote is not published
        withheld = WITHHELD_OBJECTION
    return {
        "seq": entry.seq,
        "kind": entry.kind,
        "entry": None if withheld else envelope.decode("utf-8"),
        "leaf_hash": entry.hash.hex(),
        "withheld": withheld,
        "proof": [p.hex() for p in proof],
    }


def _standings(profiles: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Record → how the rulebooks see it: in force under any, its standing otherwise, and
    whether an objection contests it."""
    out: dict[str, dict[str, Any]] = {}
    for p in profiles:
        for r in p["records"]:
            seen = out.setdefault(
                r["record_id"],
                {"in_force": False, "standing": None, "under_objection": None, "rulebooks": []},
            )
            covered = r["standing"] != "not covered by this rulebook"
            if r["counted"] or r["standing"] == "in force":
                seen["in_force"] = True
                seen["rulebooks"].append(p["rulebook"])
            # a covering rulebook's word wins over "not covered"
            if seen["standing"] is None or (
                covered and seen["standing"] == "not covered by this rulebook"
            ):
                seen["standing"] = r["standing"]
            if r.get("under_objection"):
                seen["under_objection"] = r["under_objection"]
    for seen in out.values():
        if seen["in_force"]:
            seen["standing"] = "in force"
    return out


def _record_json(
    r: RecordRow,
    catalogue: Catalogue,
    authorities: dict[str, AuthorityRow],
    standing: dict[str, Any],
    events: list[int],
) -> dict[str, Any]:
    category = catalogue.get(r.category)
    authority = authorities.get(r.authority_id)
    return {
        "record_id": r.id,
        "category": r.category,
        "category_title": None if category is None else category.title,
        "category_title_zh": None if category is None else category.title_zh,
        "legal_basis": [] if category is None else [str(b) for b in category.legal_basis],
        "authority": r.authority_id,
        "authority_name": None if authority is None else authority.name,
        "document_number": r.document_number,
        "decision_type": r.decision_type,
        "decision_date": r.decision_date,
        "publication_date": r.publication_date,
        "title": r.title,
        "amount_cny": r.amount_cny,
        "status": r.status,
        "status_date": r.status_date,
        "standing": standing.get("standing"),
        "in_force": bool(standing.get("in_force")),
        "in_force_under": standing.get("rulebooks", []),
        "under_objection": standing.get("under_objection"),
        "entries": [r.issued_seq, *events],
    }


def _rulebook_json(p: dict[str, Any], seq: int | None) -> dict[str, Any]:
    return {
        "ref": p["rulebook"],
        "entry": seq,
        "applicable": p["applicable"],
        "score": p.get("score"),
        "grade": p.get("grade") or None,
        "lists": [
            {
                "list_id": m["list_id"],
                "kind": m["kind"],
                "title": m["title"],
                "since": m["since"],
                "until": m["until"],
                "effective_from": m["effective_from"],
                "condition": m["condition"],
                "records": list(m["records"]),
            }
            for m in p["lists"]
        ],
        "measures": [
            {
                "measure_id": m["measure_id"],
                "kind": m["kind"],
                "list_id": m["list_id"],
                "actions": list(m["actions"]),
                "start": m["start"],
                "end": m["end"],
                "agency": m["agency"],
                "legal_basis": list(m["legal_basis"]),
                "withheld": m.get("withheld"),
            }
            for m in p["measures"]
        ],
    }


def inclusion_proofs(
    leaves: Sequence[bytes], indices: Sequence[int], size: int
) -> dict[int, list[bytes]]:
    """RFC 9162 inclusion proofs of many leaves in the tree of ``size``, from one pass.

    The tree is built once, level by level, carrying an odd last node up unchanged (the
    same tree as RFC 6962's split: trustledger.ledger.merkle); a leaf's path is then its
    sibling on each level where it has one. Proof by proof, each would hash about the
    whole tree again.
    """
    levels = _carry_levels(list(leaves[:size]))
    out: dict[int, list[bytes]] = {}
    for index in indices:
        if not 0 <= index < size:
            raise ValueError(f"index {index} is outside a tree of size {size}")
        path = []
        for k, nodes in enumerate(levels[:-1]):
            sibling = (index >> k) ^ 1
            if sibling < len(nodes):
                path.append(nodes[sibling])
        out[index] = path
    return out


# Between reports a process keeps the roots of the tree's aligned 64-leaf blocks (32 bytes
# per 64 entries): the ledger only grows, so a later report reads only the leaves of the
# blocks its entries sit in and of the tail appended since, instead of every leaf hash.
_SHIFT = 6
_BLOCK = 1 << _SHIFT
_blocks: dict[str, tuple[int, list[bytes]]] = {}
_blocks_lock = threading.Lock()


def _leaf_range(store: Store, start: int, end: int) -> list[bytes]:
    rows = store.query("SELECT hash FROM entries WHERE seq >= ? AND seq < ? ORDER BY seq",
                       (start, end))  # fmt: skip
    return [bytes(r[0]) for r in rows]


def _carry_levels(nodes: list[bytes]) -> list[list[bytes]]:
    """The levels of the tree over ``nodes``, pairing neighbours and carrying an odd last
    node up unchanged (RFC 6962's tree: trustledger.ledger.merkle)."""
    levels = [nodes]
    sha = hashlib.sha256
    while len(nodes) > 1:
        it = iter(nodes)
        nxt = [sha(b"\x01" + a + b).digest() for a, b in zip(it, it, strict=False)]
        if len(nodes) & 1:
            nxt.append(nodes[-1])
        levels.append(nxt)
        nodes = nxt
    return levels


def _path(levels: list[list[bytes]], index: int) -> list[bytes]:
    path = []
    for k, nodes in enumerate(levels[:-1]):
        sibling = (index >> k) ^ 1
        if sibling < len(nodes):
            path.append(nodes[sibling])
    return path


def _block_roots(store: Store, size: int, root: bytes) -> list[bytes]:
    with _blocks_lock:
        cached = _blocks.get(store.url)
    blocks: list[bytes] | None = None
    if cached is not None and cached[0] <= size:
        keep = cached[0] >> _SHIFT  # whole blocks never change in an append-only ledger
        tail = _leaf_range(store, keep << _SHIFT, size)
        blocks = cached[1][:keep] + [merkle.root(tail[i : i + _BLOCK])
                                     for i in range(0, len(tail), _BLOCK)]  # fmt: skip
        if _carry_levels(blocks)[-1][0] != root:
            blocks = None  # another database at the same URL: start again
    if blocks is None:
        leaves = store.leaf_hashes(size)
        blocks = [merkle.root(leaves[i : i + _BLOCK]) for i in range(0, size, _BLOCK)]
        if _carry_levels(blocks)[-1][0] != root:
            raise ValueError(f"the ledger's leaves do not give its tree head's root at {size}")
    with _blocks_lock:
        if store.url not in _blocks or _blocks[store.url][0] <= size:
            _blocks[store.url] = (size, blocks)
    return blocks


def store_proofs(
    store: Store, indices: Sequence[int], size: int, root: bytes
) -> dict[int, list[bytes]]:
    """The inclusion proofs of ``indices`` in the store's tree of ``size`` entries (whose
    root is ``root``; ValueError if the leaves disagree), the same as
    ``inclusion_proofs(store.leaf_hashes(size), indices, size)``."""
    for index in indices:
        if not 0 <= index < size:
            raise ValueError(f"index {index} is outside a tree of size {size}")
    upper = _carry_levels(_block_roots(store, size, root))
    out: dict[int, list[bytes]] = {}
    lower: dict[int, list[list[bytes]]] = {}
    for index in indices:
        block = index >> _SHIFT
        if block not in lower:
            start = block << _SHIFT
            lower[block] = _carry_levels(_leaf_range(store, start, min(start + _BLOCK, size)))
        out[index] = _path(lower[block], index - (block << _SHIFT)) + _path(upper, block)
    return out


# --- the signing key --------------------------------------------------------------------
@dataclass(frozen=True)
class SigningKey:
    """The centre's report key (PKCS #8, DER) and its self-signed certificate (DER)."""

    key_der: bytes
    cert_der: bytes

    @property
    def cert_pem(self) -> str:
        return cert_pem(self.cert_der)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.cert_der).hexdigest()


def cert_pem(cert_der: bytes) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_der_x509_certificate(cert_der).public_bytes(Encoding.PEM).decode("ascii")


def cert_der_from_pem(text: str | bytes) -> bytes:
    """A certificate's DER from PEM (or DER) bytes; ValueError if it is neither."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    data = text.encode("ascii") if isinstance(text, str) else text
    if b"-----BEGIN CERTIFICATE-----" in data:
        return x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)
    return x509.load_der_x509_certificate(data).public_bytes(Encoding.DER)


def new_signing_key(now: datetime | None = None) -> SigningKey:
    """A fresh ECDSA P-256 key with a self-signed certificate valid for ten years.

    P-256 with SHA-256 rather than Ed25519: pyHanko signs with either, but generic tools
    verify only the former as yet (OpenSSL 3.0's CMS refuses Ed25519 with SHA-512, and PDF
    readers lag), and the report must be checkable without trustledger."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "trustledger"),
            x509.NameAttribute(NameOID.COMMON_NAME, SIGNER_NAME),
        ]
    )
    start = (now or datetime.now(UTC)) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        # self-signed: it is its own trust anchor, so a verifier pins this very certificate
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return SigningKey(der, cert.public_bytes(Encoding.DER))


def _pem(label: str, der: bytes) -> str:
    import base64

    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _from_pem(text: str, label: str, source: str) -> bytes:
    import base64
    import binascii

    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    if begin not in text or end not in text:
        raise ReportKeyError(f"{source} holds no {label.lower()}")
    body = text.split(begin, 1)[1].split(end, 1)[0]
    try:
        return base64.b64decode("".join(body.split()), validate=True)
    except binascii.Error:
        raise ReportKeyError(f"{source}: the {label.lower()} is not valid base64") from None


def load_signing_key(path: Path, *, create: bool = False) -> SigningKey:
    """The report key from ``path`` (the private key and the certificate, PEM); with
    ``create``, a new one is written there first if the file does not exist (mode 0600,
    never overwriting)."""
    if create and not path.exists():
        made = new_signing_key()
        text = _pem("PRIVATE KEY", made.key_der) + _pem("CERTIFICATE", made.cert_der)
        try:
            create_private_file(path, text)
        except FileExistsError:
            pass  # another first run wrote it: read that one
        except OSError as exc:
            raise ReportKeyError(f"cannot create report key file {path}: {exc.strerror}") from None
    source = f"report key file {path}"
    try:
        text = path.read_text("ascii")
    except FileNotFoundError:
        raise ReportKeyError(
            f"no report key: {path} does not exist (TRUSTLEDGER_REPORT_KEY_FILE); "
            "`trustledger report USCC --out FILE.pdf` creates one"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not ASCII"
        raise ReportKeyError(f"cannot read {source}: {reason}") from None
    key = SigningKey(_from_pem(text, "PRIVATE KEY", source), _from_pem(text, "CERTIFICATE", source))
    _check_pair(key, source)
    return key


def _check_pair(key: SigningKey, source: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_der_private_key,
    )

    try:
        private = load_der_private_key(key.key_der, None)
        cert = x509.load_der_x509_certificate(key.cert_der)
    except ValueError as exc:
        raise ReportKeyError(f"{source} is unusable: {exc}") from None
    raw = Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(*raw) != cert.public_key().public_bytes(*raw):
        raise ReportKeyError(f"{source}: the certificate is not the private key's")


def certificate_of(path: Path) -> bytes:
    """The certificate (DER) in a report key file, without creating one."""
    return load_signing_key(path).cert_der


# --- rendering and signing -------------------------------------------------------------
@lru_cache(maxsize=1)
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trustledger.exports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("report.html")


def render_html(payload: Payload) -> str:
    import segno

    c = payload.content
    head = c["tree_head"]
    qr = segno.make(qr_text(payload.number, payload.sha256, head["size"], head["root"]), error="m")
    return str(
        _template().render(
            r=c,
            sha256=payload.sha256,
            qr=qr.png_data_uri(scale=4, border=2),
            tree_time=_instant(head["time_us"]),
            leaves={e["seq"]: e["leaf_hash"] for e in c["entries"]},
            attachment=ATTACHMENT_NAME,
            categories={rec["category"]: rec for rec in c["records"]},
        )
    )


def _instant(time_us: int) -> str:
    moment = datetime.fromtimestamp(time_us / 1_000_000, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def render_pdf(payload: Payload, html: str | None = None) -> bytes:
    """The unsigned PDF: the pages and the payload as an attachment."""
    import weasyprint

    attachment = weasyprint.Attachment(
        string=payload.body,
        name=ATTACHMENT_NAME,
        description="the report's content as canonical JSON (RFC 8785), with its proofs",
    )
    document = weasyprint.HTML(string=html or render_html(payload))
    pdf: bytes = document.write_pdf(
        attachments=[attachment], pdf_identifier=payload.sha256[:32].encode()
    )
    return pdf


def sign_pdf(pdf: bytes, key: SigningKey, *, reason: str | None = None) -> bytes:
    """The PDF signed whole (PAdES baseline B) with the centre's key."""
    from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped]
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    cert = asn1_x509.Certificate.load(key.cert_der)
    signer = signers.SimpleSigner(
        cert,
        asn1_keys.PrivateKeyInfo.load(key.key_der),
        SimpleCertificateStore.from_certs([cert]),  # type: ignore[no-untyped-call]
    )
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location="trustledger",
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out: io.BytesIO = signers.sign_pdf(writer, meta, signer=signer)
    return out.getvalue()


def make_pdf(payload: Payload, key: SigningKey) -> bytes:
    """The signed report."""
    return sign_pdf(render_pdf(payload), key, reason=f"credit report {payload.number}")


def payload_of(content: dict[str, Any]) -> Payload:
    """A payload from its parsed form (tests forge reports with it)."""
    return Payload(canonical_json(content), content)


__all__ = [
    "ATTACHMENT_NAME",
    "FORMAT",
    "Payload",
    "ReportKeyError",
    "SigningKey",
    "build_payload",
    "cert_der_from_pem",
    "cert_pem",
    "certificate_of",
    "decode_uscc",
    "inclusion_proofs",
    "load_signing_key",
    "make_pdf",
    "new_signing_key",
    "payload_of",
    "qr_text",
    "render_html",
    "render_pdf",
    "report_number",
    "sign_pdf",
]
