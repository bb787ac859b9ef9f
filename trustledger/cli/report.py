"""`trustledger report …`: the verifiable credit report (docs/reports.md).

trustledger report USCC --out FILE.pdf [--on DAY] [--known-at T]   (= report create)
trustledger report verify FILE.pdf [--cert PEM] [--ledger URL] [--offline]
trustledger report certificate
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from trustledger.cli.common import (
    DbOption,
    JsonOption,
    KnownAtOption,
    OnOption,
    context,
    print_json,
    say_line,
    settings_for,
    when_for,
)

if TYPE_CHECKING:
    from typer._click import Context


class _CreateByDefault(TyperGroup):
    """`report USCC …` means `report create USCC …`: a first argument that is no
    subcommand's name (nor an option) is the subject."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["create", *args]
        return list(super().parse_args(ctx, args))


app = typer.Typer(
    cls=_CreateByDefault,
    help="Verifiable credit reports: `report USCC --out FILE.pdf`, `report verify FILE.pdf`.",
    no_args_is_help=True,
)


@app.command("create")
def create(
    subject: Annotated[str, typer.Argument(help="The organisation's USCC.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the PDF.")],
    on: OnOption = None,
    known_at: KnownAtOption = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """A signed PDF of the organisation's public credit standing on a day, with the
    ledger tree head and the inclusion proof of every entry it rests on. The report key
    (TRUSTLEDGER_REPORT_KEY_FILE, default report.key) is created on first use."""
    from trustledger.app import reports

    with context(db) as ctx:
        report = reports.generate(ctx, subject, when_for(ctx, known_at, on))
    out_file.write_bytes(report.pdf)
    if json_output:
        print_json({**report.to_json(), "out": str(out_file)})
        return
    say_line(f"report {report.number}: {out_file} ({len(report.pdf):,} bytes)")
    say_line(
        f"  {report.subject_id} on {report.on}; {len(report.entries)} ledger entries, "
        f"tree size {report.tree_size:,}, root {report.root}"
    )
    say_line(f"  payload sha256 {report.payload_sha256}")
    say_line(f"verify: trustledger report verify {out_file}")


@app.command("verify")
def verify(
    pdf_file: Annotated[
        Path, typer.Argument(help="The report (PDF).", exists=True, dir_okay=False, readable=True)
    ],
    cert: Annotated[
        Path | None,
        typer.Option(
            "--cert",
            help="The centre's certificate (PEM); default: the local report key's.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
    ledger_url: Annotated[
        str | None,
        typer.Option(
            "--ledger",
            help="Also check against the live ledger behind this API (e.g. http://127.0.0.1:8000).",
        ),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not open the local database.")
    ] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Check a report: the signature covers the whole file and is the centre's, the
    attachment is the content printed, every inclusion proof leads to the tree head's
    root, the records are their entries'; then, when reachable, that the tree head is part
    of the live ledger (the local --db, and --ledger URL). Exit 0 verified, 1 failed."""
    import logging

    from trustledger.app import reports
    from trustledger.app.errors import TrustledgerError

    # a tampered file makes the PDF readers log every object they skip; the reasons say it
    for name in ("pypdf", "pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    data = pdf_file.read_bytes()
    cert_pem = None if cert is None else cert.read_bytes()
    ctx = None
    notes: list[str] = []
    url = settings_for(db).db_url
    local = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if not offline and local is not None and not local.exists():
        # opening a missing SQLite file would create it: a verifier's folder stays as it was
        offline = True
        notes.append(f"the local ledger was not checked: there is none at {url}")
    if not offline:
        try:
            ctx = context(db)
        except TrustledgerError as exc:
            if cert_pem is None:
                raise
            notes.append(f"the local ledger was not checked: {exc}")
    try:
        result = reports.verify(data, cert_pem=cert_pem, ctx=ctx, ledger_url=ledger_url)
    finally:
        if ctx is not None:
            ctx.close()
    body: dict[str, Any] = result.to_json()
    body["notes"] = [*notes, *body["notes"]]
    if json_output:
        print_json(body)
    else:
        facts = result.facts
        say_line(("verified" if result.ok else "FAILED") + f": {pdf_file}")
        if facts.get("number"):
            say_line(f"  report {facts['number']} of {facts.get('subject')} on {facts.get('on')}")
        if facts.get("tree_head"):
            head = facts["tree_head"]
            say_line(
                f"  tree head size {head['size']:,} root {head['root']}; "
                f"{facts.get('entries_checked', 0)} entries proved, "
                f"{facts.get('records_checked', 0)} records checked"
            )
        if facts.get("signer"):
            say_line(f"  signed by {facts['signer']} at {facts.get('signed_at')}")
        for live in facts.get("live", []):
            if live.get("consistent"):
                say_line(
                    f"  consistent with the live ledger {live['ledger']} (size {live['size']:,})"
                )
        for reason in result.reasons:
            say_line(f"  reason: {reason}")
        for note in body["notes"]:
            say_line(f"  note: {note}")
    raise typer.Exit(result.exit_code)


@app.command("certificate")
def certificate() -> None:
    """The centre's report-signing certificate (PEM), to publish: verifiers pass it as
    --cert. The key (TRUSTLEDGER_REPORT_KEY_FILE) is created first if there is none."""
    from trustledger.app import reports
    from trustledger.settings import Settings

    say_line(reports.certificate_pem(Settings.from_env()).rstrip("\n"))
