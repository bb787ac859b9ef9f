"""The verifiable enterprise credit report: generate one, verify one (docs/reports.md).

The faces call ``generate(ctx, subject, when)`` (the CLI's `trustledger report`, the
portal's download button) and ``verify(pdf_bytes, …)`` (`trustledger report verify`, the
portal's verification page). A report is a public document: it shows what the public may
see of an organisation and a person is refused, decided by the id's form as everywhere.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import BadInput, ConfigError, Forbidden, NotFound

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.app.time import When
    from trustledger.exports.report import SigningKey
    from trustledger.settings import Settings

__all__ = ["Report", "Verification", "certificate_pem", "generate", "verify"]

NOT_AN_ORGANISATION = "a credit report is made for organisations only, never for a person"


@dataclass(frozen=True)
class Report:
    """A signed report: the PDF's bytes, its number, the ledger entries it rests on."""

    pdf: bytes
    number: str
    subject_id: str
    on: str
    entries: list[int]
    tree_size: int
    root: str
    payload_sha256: str

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "subject": self.subject_id,
            "on": self.on,
            "entries": self.entries,
            "tree_size": self.tree_size,
            "root": self.root,
            "payload_sha256": self.payload_sha256,
            "bytes": len(self.pdf),
        }


@dataclass(frozen=True)
class Verification:
    """The outcome: ``ok`` only when no check failed; ``reasons`` name every failure,
    ``facts`` what was checked (number, subject, tree head, signer, live ledger), ``notes``
    what is worth knowing but is no failure (a live ledger that could not be reached)."""

    ok: bool
    reasons: list[str]
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "reasons": self.reasons, "facts": self.facts, "notes": self.notes}


def _signing_key(settings: Settings, *, create: bool) -> SigningKey:
    from trustledger.exports.report import ReportKeyError, load_signing_key

    try:
        return load_signing_key(settings.report_key_file, create=create)
    except ReportKeyError as exc:
        raise ConfigError(str(exc)) from None


def certificate_pem(settings: Settings) -> str:
    """The centre's report-signing certificate (PEM), the key made first if missing: what
    the centre publishes so that anyone can check its reports."""
    return _signing_key(settings, create=True).cert_pem


def _report_view(profile: dict[str, Any]) -> dict[str, Any]:
    """What a report shows of one profile: the public view (``app.profiles.public``:
    published records, effective listings, their measures, score and grade). These rest on
    nothing but published records and published rulebooks, so anyone holding the public
    data can compute them; the persons a measure reaches are left out."""
    from trustledger.app.profiles import public

    return public(profile)


def _withhold_incentives(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The platform's conflict rule, as a check applies it: no incentive reaches a subject
    on any black list that day, so an incentive in force under one rulebook is shown
    withheld, naming the list, when another (or the same) lists the subject black."""
    black = [f"{m['title']} ({p['rulebook']})" for p in views for m in p["lists"]
             if m["kind"] == "black"]  # fmt: skip
    if not black:
        return views
    return [{**p, "measures": [{**m, "withheld": black[0]} if m["kind"] == "incentive" else m
                               for m in p["measures"]]} for p in views]  # fmt: skip


def generate(ctx: Context, subject: str, when: When) -> Report:
    """The signed report of an organisation's public credit standing on ``when.on`` as
    known at ``when`` (now by default). NotFound for an unknown subject, Forbidden for a
    person (decided by the id's form, before any lookup), BadInput for a bad identifier."""
    from trustledger.app import profiles
    from trustledger.app.access import file_view, is_person
    from trustledger.app.access import subject as subject_row
    from trustledger.app.checks import resolve_subject
    from trustledger.app.time import instant_text
    from trustledger.domain import SubjectKind
    from trustledger.exports.report import build_payload, make_pdf
    from trustledger.ids import check_identifier

    text = subject.strip()
    if is_person(text) or check_identifier(text, None, frozenset()).kind is SubjectKind.PERSON:
        raise Forbidden(NOT_AN_ORGANISATION)  # never hashed, never looked up
    subject_id = resolve_subject(ctx, text)
    try:
        file_view(None, subject_id)
    except Forbidden:
        raise Forbidden(NOT_AN_ORGANISATION) from None
    row = subject_row(ctx, subject_id)
    if row.kind == "person":  # an organisation id never names one; never rendered anyway
        raise Forbidden(NOT_AN_ORGANISATION)
    key = _signing_key(ctx.settings, create=True)
    found = profiles.profile(ctx, subject_id, when, log=False)
    views = _withhold_incentives([_report_view(p) for p in profiles.view_of(found, "full")])
    payload = build_payload(
        ctx.store,
        ctx.catalogue,
        row,
        views,
        on=when.on.isoformat(),
        at_us=when.at_us,
        generated_at=instant_text(ctx.now_us(), ctx.settings.timezone),
    )
    pdf = make_pdf(payload, key)
    head = payload.content["tree_head"]
    return Report(
        pdf,
        payload.number,
        subject_id,
        when.on.isoformat(),
        payload.seqs,
        head["size"],
        head["root"],
        payload.sha256,
    )


# --- verifying ------------------------------------------------------------------------
class _LocalLedger:
    """The live ledger in the local database."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.where = ctx.settings.db_url

    def head(self) -> tuple[int, bytes]:
        head = self.ctx.store.head()
        return head.size, head.root

    def consistency(self, old: int, new: int) -> list[bytes]:
        from trustledger.app.ledger import consistency

        return [bytes.fromhex(p) for p in consistency(self.ctx, old, new)["proof"]]

    def entry_hashes(self, seqs: list[int]) -> dict[int, bytes] | None:
        return {e.seq: e.hash for e in self.ctx.store.entries_at(seqs)}


class _HttpLedger:
    """The live ledger behind the API at ``url`` (GET /v1/ledger/head and proofs)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.where = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, **params: int) -> dict[str, Any]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        request = urllib.request.Request(
            self.where + path + query, headers={"Accept": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            found: dict[str, Any] = json.loads(response.read())
            return found

    def head(self) -> tuple[int, bytes]:
        found = self._get("/v1/ledger/head")
        return int(found["size"]), bytes.fromhex(found["root"])

    def consistency(self, old: int, new: int) -> list[bytes]:
        found = self._get("/v1/ledger/proof/consistency", old=old, new=new)
        return [bytes.fromhex(p) for p in found["proof"]]

    def entry_hashes(self, seqs: list[int]) -> dict[int, bytes] | None:
        return None  # the consistency proof covers them (docs/reports.md)


def verify(
    pdf: bytes,
    *,
    cert_pem: str | bytes | None = None,
    ctx: Context | None = None,
    ledger_url: str | None = None,
) -> Verification:
    """Check a report: offline (the signature covers the whole file and is the centre's —
    ``cert_pem``, or the local report key's certificate from ``ctx``; the payload's hash is
    the one printed; every inclusion proof leads to the printed root; the records shown are
    their entries'), then live against ``ctx``'s database and/or the API at
    ``ledger_url`` (the tree head is part of that ledger; the entries are still there).
    A forged or altered report is a Verification with ``ok`` False, not an error; BadInput
    only for a certificate that cannot be read or no certificate at all."""
    from trustledger.exports.report import ReportKeyError, cert_der_from_pem, certificate_of
    from trustledger.exports.report_verify import check_live, verify_offline

    if cert_pem is not None:
        try:
            cert_der = cert_der_from_pem(cert_pem)
        except ValueError as exc:
            raise BadInput(f"the certificate given cannot be read: {exc}") from None
    elif ctx is not None:
        try:
            cert_der = certificate_of(ctx.settings.report_key_file)
        except ReportKeyError as exc:
            raise BadInput(f"no certificate to check the signer against (--cert): {exc}") from None
    else:
        raise BadInput("no certificate to check the signer against: pass the centre's (--cert)")
    result = verify_offline(pdf, cert_der)
    reasons, facts, notes = list(result.reasons), dict(result.facts), list(result.notes)
    if result.payload is not None:
        ledgers: list[_LocalLedger | _HttpLedger] = []
        if ctx is not None:
            ledgers.append(_LocalLedger(ctx))
        if ledger_url is not None:
            if not ledger_url.startswith(("http://", "https://")):
                raise BadInput(f"--ledger {ledger_url!r} is not an http(s) URL")
            ledgers.append(_HttpLedger(ledger_url))
        live: list[dict[str, Any]] = []
        for ledger in ledgers:
            try:
                found = check_live(result.payload, ledger)
            except (OSError, ValueError, KeyError, urllib.error.URLError, NotFound) as exc:
                notes.append(f"the live ledger at {ledger.where} could not be checked: {exc}")
                live.append({"ledger": ledger.where, "checked": False})
                continue
            except Exception as exc:  # the local store's own errors (a closed database)
                from trustledger.app.ledger import configuration_error

                message = configuration_error(exc)
                if message is None:
                    raise
                notes.append(f"the live ledger at {ledger.where} could not be checked: {message}")
                live.append({"ledger": ledger.where, "checked": False})
                continue
            reasons.extend(found.reasons)
            notes.extend(found.notes)
            live.append({"ledger": ledger.where, "checked": True, **found.facts})
        facts["live"] = live
    return Verification(not reasons, reasons, facts, notes)
