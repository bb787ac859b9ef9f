"""Verifying a credit report (trustledger.exports.report) with no database.

Offline, in order: the PDF signature is intact, covers the whole file and was made with
the centre's certificate; the attachment is canonical JSON whose SHA-256 and report
number are the ones printed on the first page; the number is the one the subject, the
day and the tree head give; every carried entry's inclusion proof leads to the tree
head's root; and replaying the carried entries gives the subject, authorities, records
and rulebooks the report shows. Live, against any ledger that answers head and
consistency proofs: the report's tree head is a prefix of it.

Every failure is a reason in words; checks go on after one fails where they still can,
so a report gets every reason at once.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from trustledger.exports.report import (
    ATTACHMENT_NAME,
    FORMAT,
    Payload,
    decode_uscc,
    report_number,
)
from trustledger.ledger import merkle
from trustledger.ledger.canonical import CanonicalJSONError, canonical_json, parse_json
from trustledger.ledger.entry import Entry, entry_hash
from trustledger.ledger.projection import ProjectionError, Projector

# the fields of a record the report prints, as the record's entries must give them
_RECORD_FIELDS = (
    "category",
    "document_number",
    "decision_type",
    "decision_date",
    "publication_date",
    "title",
    "amount_cny",
    "status",
    "status_date",
)
_RECORD_COLUMNS = {"authority": "authority_id"}


@dataclass
class Outcome:
    reasons: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    payload: Payload | None = None


class LiveLedger(Protocol):
    def head(self) -> tuple[int, bytes]: ...

    def consistency(self, old: int, new: int) -> list[bytes]: ...

    def entry_hashes(self, seqs: list[int]) -> dict[int, bytes] | None: ...


# --- the signature --------------------------------------------------------------------
def _check_signature(pdf: bytes, cert_der: bytes, out: Outcome) -> Any:
    """The signature's checks; returns the PDF reader (None if the file is unreadable)."""
    from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:  # an untrusted file: whatever the parser trips on is a reason
        kind = "" if isinstance(exc, PdfReadError) else f"{type(exc).__name__}: "
        out.reasons.append(f"the file is not a readable PDF: {kind}{exc}")
        return None
    if not signatures:
        out.reasons.append("the file is not signed")
        return reader
    if len(signatures) > 1:
        out.reasons.append(f"the file holds {len(signatures)} signatures; a report holds one")
    signature = signatures[0]
    expected = asn1_x509.Certificate.load(cert_der)
    try:
        status = validate_pdf_signature(signature, ValidationContext(trust_roots=[expected]))
    except Exception as exc:  # pyHanko raises many kinds for a mangled signature
        out.reasons.append(f"the signature cannot be read: {type(exc).__name__}: {exc}")
        return reader
    signer = status.signing_cert
    out.facts["signer"] = signer.subject.human_friendly if signer is not None else None
    out.facts["signer_sha256"] = (
        None if signer is None else hashlib.sha256(signer.dump()).hexdigest()
    )
    out.facts["signed_at"] = (
        None if status.signer_reported_dt is None else status.signer_reported_dt.isoformat()
    )
    if not status.intact:
        out.reasons.append("the signed bytes were altered: their digest is not the one signed")
    elif not status.valid:
        out.reasons.append("the signature does not verify with the signer's key")
    if status.coverage is not SignatureCoverageLevel.ENTIRE_FILE:
        level = "unclear" if status.coverage is None else status.coverage.name.lower()
        out.reasons.append(
            f"the signature does not cover the whole file ({level.replace('_', ' ')})"
        )
    if signer is None or signer.dump() != expected.dump():
        out.reasons.append(
            "the signer is not the centre's certificate (signed by "
            f"{out.facts['signer']}, certificate sha256 {out.facts['signer_sha256']}; "
            f"expected sha256 {hashlib.sha256(cert_der).hexdigest()})"
        )
    try:
        _check_contents(pdf, signature, cert_der, out)
    except Exception as exc:  # a mangled signature dictionary: a reason, never a crash
        out.reasons.append(f"the signature's contents cannot be read: {type(exc).__name__}")
    return reader


def _check_contents(pdf: bytes, signature: Any, cert_der: bytes, out: Outcome) -> None:
    """The one part of the file a signature cannot cover is its own /Contents hex string:
    it must be exactly what the signer writes (upper-case hex of the DER, zero-padded), or
    a changed byte there (a padding digit, a letter's case) would go unseen."""
    byte_range = list(signature.sig_object["/ByteRange"])
    if len(byte_range) != 4:
        out.reasons.append("the signature's byte range is malformed")
        return
    gap = pdf[byte_range[1] : byte_range[2]]
    if not re.fullmatch(rb"<[0-9A-F]*>", gap):
        out.reasons.append("the signature's contents were altered (not the hex the signer writes)")
        return
    raw = bytes.fromhex(gap[1:-1].decode("ascii"))
    if len(raw) < 2 or raw[0] != 0x30:
        out.reasons.append("the signature's contents were altered (not a DER signature)")
        return
    # the DER's own length (a SEQUENCE header): what follows it must be the zero padding
    width = raw[1] & 0x7F if raw[1] & 0x80 else 0
    length = 2 + width + (int.from_bytes(raw[2 : 2 + width]) if width else raw[1])
    if length > len(raw) or raw[length:].strip(b"\x00"):
        out.reasons.append("the signature's contents were altered (bytes after the signature)")
        return
    problem = _unsigned_parts(raw[:length], cert_der)
    if problem is not None:
        out.reasons.append(f"the signature's contents were altered ({problem})")


def _is_der(data: bytes) -> bool:
    """Every length in ``data`` definite and minimal, and the values nested exactly: the one
    encoding of what it holds (re-encoding with asn1crypto would cost ten times more)."""
    # (start, end) of the constructed values still to walk
    stack = [(0, len(data))]
    while stack:
        pos, end = stack.pop()
        while pos < end:
            if pos + 2 > end:
                return False
            tag, first = data[pos], data[pos + 1]
            if tag & 0x1F == 0x1F:
                return False  # high tag numbers: none in a CMS signature
            pos += 2
            if first < 0x80:
                length = first
            else:
                width = first & 0x7F
                if width == 0 or width > 4 or pos + width > end or data[pos] == 0:
                    return False  # indefinite, oversized or padded long form
                length = int.from_bytes(data[pos : pos + width])
                if length < 0x80:
                    return False  # the short form was required
                pos += width
            if pos + length > end:
                return False
            if tag & 0x20:
                stack.append((pos, pos + length))
            pos += length
    return True


def _unsigned_parts(der: bytes, cert_der: bytes) -> str | None:
    """What is wrong with the parts of the CMS signature its own signature does not cover
    (the certificates carried, the algorithm lists, the encoding), or None. Each must be
    the one value the signer writes, so no byte of the file can change unnoticed."""
    from asn1crypto import cms

    if not _is_der(der):
        return "not in DER form"
    try:
        info = cms.ContentInfo.load(der, strict=True)
        signed = info["content"]
        signers = list(signed["signer_infos"])
        if info["content_type"].native != "signed_data" or len(signers) != 1:
            return "not one signer's signed data"
        signer = signers[0]
        if (signed["version"].native, signer["version"].native) != ("v1", "v1"):
            return "versions other than the signer's"
        digest = signer["digest_algorithm"]
        if [d.dump() for d in signed["digest_algorithms"]] != [digest.dump()]:
            return "digest algorithms that are not the signer's"
        if signed["encap_content_info"].native != {"content_type": "data", "content": None}:
            return "content that is not detached"
        certificates = list(signed["certificates"] or [])
        if not certificates or any(c.chosen.dump() != cert_der for c in certificates):
            return "certificates other than the centre's"
        if signed["crls"].native or signer["unsigned_attrs"].native:
            return "unsigned attributes or revocation lists"
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


# --- the payload -----------------------------------------------------------------------
def _payload(reader: Any, pdf: bytes, out: Outcome) -> Payload | None:
    from pypdf import PdfReader

    try:
        document = PdfReader(io.BytesIO(pdf))
        attached = document.attachments.get(ATTACHMENT_NAME)
    except Exception as exc:  # an untrusted file, as above
        out.reasons.append(f"the attachment cannot be read: {type(exc).__name__}: {exc}")
        return None
    if not attached:
        out.reasons.append(f"the file carries no {ATTACHMENT_NAME} attachment")
        return None
    if len(attached) > 1:
        out.reasons.append(f"the file carries {len(attached)} attachments named {ATTACHMENT_NAME}")
    body = attached[0]
    try:
        content = parse_json(body)
        canonical = canonical_json(content)
    except (ValueError, CanonicalJSONError) as exc:
        out.reasons.append(f"the attachment is not JSON: {exc}")
        return None
    if canonical != body:
        out.reasons.append("the attachment is not in canonical JSON (RFC 8785) form")
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        out.reasons.append(f"the attachment is not a {FORMAT} payload")
        return None
    payload = Payload(body, content)
    out.facts["payload_sha256"] = payload.sha256
    try:
        first = document.pages[0].extract_text() or ""
    except Exception as exc:  # an untrusted file, as above
        out.reasons.append(f"the first page's text cannot be read: {type(exc).__name__}: {exc}")
        return payload
    printed = "".join(first.split())
    if str(content.get("number")) not in printed:
        out.reasons.append(
            f"the first page does not show the report number {content.get('number')}"
        )
    if payload.sha256 not in printed:
        out.reasons.append(
            f"the attachment's SHA-256 {payload.sha256} is not the one on the first page"
        )
    return payload


# --- proofs and claims -------------------------------------------------------------------
def _entries(payload: Payload, out: Outcome) -> list[Entry]:
    """Every carried entry checked against the tree head; those whose bytes parse."""
    c = payload.content
    try:
        size = int(c["tree_head"]["size"])
        root = bytes.fromhex(c["tree_head"]["root"])
    except (KeyError, TypeError, ValueError):
        out.reasons.append("the payload's tree head is malformed")
        return []
    out.facts["tree_head"] = {
        "size": size,
        "root": root.hex(),
        "time_us": c["tree_head"].get("time_us"),
    }
    entries: list[Entry] = []
    withheld: set[int] = set()
    for item in c.get("entries", []):
        seq = item.get("seq")
        if item.get("entry") is None:
            # an entry naming a person: only its place in the tree can be checked
            try:
                leaf = bytes.fromhex(item["leaf_hash"])
                proof = [bytes.fromhex(p) for p in item["proof"]]
            except (KeyError, TypeError, ValueError) as exc:
                out.reasons.append(f"entry {seq}'s leaf hash cannot be read: {exc}")
                continue
            if not isinstance(seq, int) or not merkle.verify_inclusion(leaf, seq, size, proof,
                                                                       root):  # fmt: skip
                out.reasons.append(
                    f"entry {seq}'s inclusion proof does not lead to root {root.hex()} "
                    f"(tree size {size})"
                )
                continue
            withheld.add(seq)
            continue
        try:
            raw = str(item["entry"]).encode("utf-8")
            proof = [bytes.fromhex(p) for p in item["proof"]]
            env = parse_json(raw)
            if canonical_json(env) != raw:
                raise ValueError("not canonical JSON")
            body = canonical_json(env["payload"])
            prev = bytes.fromhex(env["prev"])
            entry = Entry(
                env["seq"],
                env["time_us"],
                env["kind"],
                prev,
                body,
                entry_hash(env["seq"], env["time_us"], env["kind"], prev, body),
            )
        except (KeyError, TypeError, ValueError, CanonicalJSONError) as exc:
            out.reasons.append(f"entry {seq}'s bytes cannot be read: {exc}")
            continue
        if entry.seq != seq:
            out.reasons.append(f"entry {seq}'s bytes are those of entry {entry.seq}")
            continue
        if entry.hash != merkle.leaf_hash(raw):
            out.reasons.append(f"entry {seq}'s bytes are not an entry envelope")
            continue
        if item.get("leaf_hash") not in (None, entry.hash.hex()):
            out.reasons.append(f"entry {seq}'s leaf hash is not its bytes' hash")
            continue
        if not merkle.verify_inclusion(entry.hash, entry.seq, size, proof, root):
            out.reasons.append(
                f"entry {seq}'s inclusion proof does not lead to root {root.hex()} "
                f"(tree size {size})"
            )
            continue
        entries.append(entry)
    out.facts["entries_checked"] = len(entries) + len(withheld)
    out.facts["entries_withheld"] = sorted(withheld)
    return sorted(entries)


def _differs(what: str, shown: Any, found: Any, seq: int | Sequence[int]) -> str:
    return f"{what}: the report shows {shown!r}, its ledger entry {seq} says {found!r}"


def _check_claims(payload: Payload, entries: list[Entry], out: Outcome) -> None:
    c = payload.content
    withheld = set(out.facts.get("entries_withheld", []))
    # records resting on a withheld entry: their other entries cannot be replayed either
    unseen = {r.get("record_id") for r in c.get("records", [])
              if withheld & set(r.get("entries", []))}  # fmt: skip
    projector = Projector()
    for entry in entries:
        if entry.kind.startswith("record.") and entry.payload_obj().get("record_id") in unseen:
            continue
        try:
            projector.apply(entry)
        except (ProjectionError, KeyError, TypeError) as exc:
            out.reasons.append(f"entry {entry.seq} cannot be replayed: {exc}")
    rows = projector.changed
    carried = {e.seq for e in entries} | withheld
    subject = c.get("subject") or {}
    sid = subject.get("id")
    out.facts["subject"] = sid
    out.facts["number"] = c.get("number")
    out.facts["on"] = c.get("on")
    head = out.facts.get("tree_head") or {}
    if sid is not None and head:
        expected = report_number(str(sid), str(c.get("on")), head["size"], head["root"])
        if expected != c.get("number"):
            out.reasons.append(
                f"the report number {c.get('number')} is not the one its subject, day and tree "
                f"head give ({expected})"
            )
    row = rows["subjects"].get(str(sid))
    if row is None:
        out.reasons.append(f"the subject {sid}'s registration entry is not carried")
    else:
        for name, value in (("name", row.name), ("kind", row.kind), ("division", row.division)):
            if subject.get(name) != value:
                out.reasons.append(
                    _differs(f"the subject's {name}", subject.get(name), value, row.last_seq)
                )
        if subject.get("uscc") != decode_uscc(str(sid)):
            out.reasons.append(f"the decoded USCC of {sid} is not what its characters say")
    authorities = {a.get("id"): a for a in c.get("authorities", [])}
    for aid, shown in authorities.items():
        found = rows["authorities"].get(aid)
        if found is None:
            out.reasons.append(f"authority {aid}'s registration entry is not carried")
        elif shown.get("name") != found.name:
            out.reasons.append(
                _differs(f"authority {aid}'s name", shown.get("name"), found.name, found.last_seq)
            )
    shown_records = set()
    for record in c.get("records", []):
        rid = record.get("record_id")
        shown_records.add(rid)
        if rid in unseen:
            seqs = sorted(withheld & set(record.get("entries", [])))
            out.notes.append(
                f"record {rid} rests on entry {', '.join(map(str, seqs))}, withheld because "
                "it names a person: its place in the ledger is proved, its content is not "
                "compared"
            )  # (an objection's filing is withheld too, but no record rests on one)
            continue
        found = rows["records"].get(rid)
        if found is None:
            out.reasons.append(f"record {rid}'s ledger entry is not carried")
            continue
        if found.subject_id != sid:
            out.reasons.append(f"record {rid} is about {found.subject_id}, not {sid}")
        missing = [s for s in record.get("entries", []) if s not in carried]
        if missing:
            out.reasons.append(f"record {rid} rests on entries not carried: {missing}")
        for name in (*_RECORD_FIELDS, *_RECORD_COLUMNS):
            value = getattr(found, _RECORD_COLUMNS.get(name, name))
            if record.get(name) != value:
                out.reasons.append(
                    _differs(
                        f"record {rid}'s {name.replace('_', ' ')}",
                        record.get(name),
                        value,
                        found.last_seq,
                    )
                )
        aid = record.get("authority")
        authority = rows["authorities"].get(aid)
        if record.get("authority_name") is not None and (
            authority is None or authority.name != record.get("authority_name")
        ):
            out.reasons.append(f"record {rid}'s authority name is not its authority's entry's")
    out.facts["records_checked"] = len(shown_records - unseen)
    rulebooks = rows["rulebooks"]
    for rb in c.get("rulebooks", []):
        ref = rb.get("ref")
        found = rulebooks.get(ref)
        if found is None or found.seq != rb.get("entry"):
            out.reasons.append(f"rulebook {ref}'s publication entry is not carried")
        for membership in rb.get("lists", []):
            stray = [r for r in membership.get("records", []) if r not in shown_records]
            if stray:
                out.reasons.append(
                    f"the {ref} list {membership.get('list_id')} rests on records the report "
                    f"does not show: {stray}"
                )
        lists = {m.get("list_id") for m in rb.get("lists", [])}
        for measure in rb.get("measures", []):
            if measure.get("list_id") not in lists:
                out.reasons.append(
                    f"the {ref} measure {measure.get('measure_id')} rests on a "
                    "list the report does not show"
                )


def verify_offline(pdf: bytes, cert_der: bytes) -> Outcome:
    out = Outcome()
    reader = _check_signature(pdf, cert_der, out)
    if reader is None:
        return out
    payload = _payload(reader, pdf, out)
    if payload is None:
        return out
    out.payload = payload
    try:
        entries = _entries(payload, out)
        _check_claims(payload, entries, out)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # a forged payload of the wrong shape: a reason, never a crash
        out.reasons.append(f"the payload is malformed: {type(exc).__name__}: {exc}")
    return out


def check_live(payload: Payload, ledger: LiveLedger) -> Outcome:
    """Is the report's tree head part of this ledger, and are its entries still there?"""
    out = Outcome()
    head = payload.content["tree_head"]
    size, root = int(head["size"]), bytes.fromhex(head["root"])
    live_size, live_root = ledger.head()
    out.facts.update({"size": live_size, "root": live_root.hex()})
    if live_size < size:
        out.reasons.append(
            f"the tree head of size {size} is not part of this ledger (it holds {live_size} "
            "entries)"
        )
        return out
    proof = [] if live_size == size else ledger.consistency(size, live_size)
    if not merkle.verify_consistency(size, live_size, root, live_root, proof):
        out.reasons.append(
            f"the tree head of size {size} is not part of this ledger (root {root.hex()} is "
            f"not a prefix of the live root {live_root.hex()} of size {live_size})"
        )
        return out
    out.facts["consistent"] = True
    seqs = payload.seqs
    stored = ledger.entry_hashes(seqs)
    if stored is not None:
        carried = {
            int(e["seq"]): merkle.leaf_hash(str(e["entry"]).encode())
            if e.get("entry") is not None
            else bytes.fromhex(e["leaf_hash"])
            for e in payload.content["entries"]
        }
        for seq in seqs:
            if stored.get(seq) != carried[seq]:
                out.reasons.append(
                    f"entry {seq} in the live ledger differs from the report's (run "
                    "`trustledger verify` on that ledger)"
                )
    if live_size > size:
        out.notes.append(
            f"the ledger has grown by {live_size - size} entries since the report; later "
            "entries may have changed the subject's standing: a new report shows it"
        )
    return out
