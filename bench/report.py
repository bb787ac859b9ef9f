"""The verifiable credit report at the default demo size: generation per entity and
verification, each against a baseline measured in the same run.

    python bench/report.py [--demo DIR] [--subjects 20] [--runs 3]

``--demo DIR`` names a folder holding a ready demo (trustledger.db and person.key, as
`trustledger demo` leaves them; default /work/demo if it exists); it is only read: the
database is copied (SQLite's backup API) into a temporary folder first. Without one, the
demo is made there (`trustledger demo`, 50,000 subjects: about a minute).

Figures:
- generation per entity (in process, warm): `trustledger.app.reports.generate` for a
  sample of organisations with records (every k-th by id), median and p90; the three with
  the most records (the most entries and pages) apart; the first report of a process and
  one with the tree's block roots not yet kept (every leaf hash read); and its parts:
  evaluation and payload with every inclusion proof, HTML and PDF rendering, signing.
  Baseline: the JSON API's answer to the same question (the subject's profiles in the
  public view, serialised), and rendering the same pages to PDF without
  proofs or signature.
- verification (warm): `trustledger.app.reports.verify` offline, and with the live check
  against the local ledger. Baseline: the PDF signature's validation alone (pyHanko).
- whole processes: `trustledger report USCC --out` and `trustledger report verify`.
Targets: generation ≤ 1 s per entity, verification ≤ 200 ms.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import Timer, save

TARGETS = {"generate_s": 1.0, "verify_s": 0.2}


def copy_demo(source: Path, work: Path) -> None:
    src = sqlite3.connect(f"file:{source / 'trustledger.db'}?mode=ro", uri=True)
    dst = sqlite3.connect(work / "trustledger.db")
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    (work / "person.key").write_bytes((source / "person.key").read_bytes())


def make_demo(work: Path) -> None:
    exe = str(Path(sys.executable).with_name("trustledger"))
    subprocess.run([exe, "demo", "--dir", str(work / "demo-data")], cwd=work,
                   capture_output=True, check=True)  # fmt: skip


_WITH_RECORDS = (
    "SELECT r.subject_id, count(*) AS c FROM records r JOIN subjects s ON s.id = r.subject_id "
    "WHERE s.kind != 'person' GROUP BY r.subject_id"
)


def sample_subjects(db: Path, n: int) -> list[str]:
    """Every k-th organisation with a record, in id order: n typical entities."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        ids = [r[0] for r in conn.execute(f"SELECT subject_id FROM ({_WITH_RECORDS}) ORDER BY 1")]
    step = max(1, len(ids) // n)
    return ids[::step][:n]


def heaviest_subjects(db: Path, n: int) -> list[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(f"{_WITH_RECORDS} ORDER BY c DESC, 1 LIMIT ?", (n,)).fetchall()
    return [r[0] for r in rows]


def best(seconds: list[float]) -> float:
    return min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--demo", type=Path, default=None)
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    demo = args.demo or (Path("/work/demo") if Path("/work/demo/trustledger.db").exists() else None)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if demo is not None:
            copy_demo(demo, work)
        else:
            make_demo(work)
        os.chdir(work)
        figures = run(work, args.subjects, args.runs)
        figures["demo"] = str(demo) if demo else "made in this run"
    save("report", figures)


def run(work: Path, n: int, runs: int) -> dict[str, Any]:
    import orjson
    from pypdf import PdfReader

    from trustledger.app import profiles, reports
    from trustledger.app.context import Context
    from trustledger.app.time import When
    from trustledger.exports import report as R
    from trustledger.ledger.projection import SubjectRow

    subjects = sample_subjects(work / "trustledger.db", n)
    heavy = heaviest_subjects(work / "trustledger.db", 3)
    ctx = Context.open()
    cert = reports.certificate_pem(ctx.settings)
    key = R.load_signing_key(ctx.settings.report_key_file)
    on = ctx.today()

    def when() -> When:
        return When(None, on, ctx.now_us(), ctx.settings.timezone)

    with Timer() as first:
        reports.generate(ctx, subjects[0], when())  # imports, fonts, the tree's block roots
    R._blocks.clear()
    with Timer() as cold_tree:  # warm imports, but every leaf hash read and the tree built
        reports.generate(ctx, subjects[0], when())
    gen: list[float] = []
    parts: dict[str, list[float]] = {"payload": [], "html": [], "pdf": [], "sign": []}
    baseline_json: list[float] = []
    baseline_render: list[float] = []
    verify_offline: list[float] = []
    verify_live: list[float] = []
    baseline_signature: list[float] = []
    pages: list[int] = []
    entries: list[int] = []
    for subject in subjects:
        t: list[float] = []
        for _ in range(runs):
            with Timer() as timer:
                made = reports.generate(ctx, subject, when())
            t.append(timer.seconds)
        gen.append(best(t))
        entries.append(len(made.entries))
        # the parts, once per subject
        with Timer() as timer:
            found = profiles.profile(ctx, subject, when(), log=False)
            views = [reports._report_view(p) for p in profiles.view_of(found, "full")]
            row = SubjectRow._make(ctx.store.get_row("subjects", subject))
            payload = R.build_payload(ctx.store, ctx.catalogue, row, views, on=on.isoformat(),
                                      at_us=None, generated_at="now")  # fmt: skip
        parts["payload"].append(timer.seconds)
        with Timer() as timer:
            html = R.render_html(payload)
        parts["html"].append(timer.seconds)
        with Timer() as timer:
            pdf = R.render_pdf(payload, html)
        parts["pdf"].append(timer.seconds)
        baseline_render.append(timer.seconds)
        with Timer() as timer:
            R.sign_pdf(pdf, key)
        parts["sign"].append(timer.seconds)
        b: list[float] = []
        for _ in range(runs):
            with Timer() as timer:
                answer = profiles.profile(ctx, subject, when(), log=False)
                orjson.dumps({**answer.when.to_json(), "subject": subject,
                              "profiles": profiles.view_of(answer, "public")})  # fmt: skip
            b.append(timer.seconds)
        baseline_json.append(best(b))
        pages.append(len(PdfReader(__import__("io").BytesIO(made.pdf)).pages))
        for bucket, kwargs in ((verify_offline, {"cert_pem": cert}), (verify_live, {"ctx": ctx})):
            v: list[float] = []
            for _ in range(runs):
                with Timer() as timer:
                    result = reports.verify(made.pdf, **kwargs)  # type: ignore[arg-type]
                v.append(timer.seconds)
                assert result.ok, result.reasons
            bucket.append(best(v))
        s: list[float] = []
        for _ in range(runs):
            with Timer() as timer:
                signature_only(made.pdf, key.cert_der)
            s.append(timer.seconds)
        baseline_signature.append(best(s))
    heavy_gen: list[float] = []
    heavy_verify: list[float] = []
    heavy_pages: list[int] = []
    for subject in heavy:
        with Timer() as timer:
            made = reports.generate(ctx, subject, when())
        heavy_gen.append(timer.seconds)
        with Timer() as timer:
            assert reports.verify(made.pdf, cert_pem=cert).ok
        heavy_verify.append(timer.seconds)
        heavy_pages.append(len(PdfReader(__import__("io").BytesIO(made.pdf)).pages))
    ctx.close()
    process = whole_processes(work, subjects[0], runs)

    def med(xs: list[float]) -> float:
        return round(statistics.median(xs), 4)

    figures: dict[str, Any] = {
        "ledger_entries": made.tree_size,
        "subjects": len(subjects),
        "runs_each": runs,
        "entries_per_report_median": statistics.median(entries),
        "pages_median": statistics.median(pages),
        "first_report_in_process_s": round(first.seconds, 3),
        "generate_tree_not_cached_s": round(cold_tree.seconds, 3),
        "generate_median_s": med(gen),
        "generate_p90_s": round(sorted(gen)[int(0.9 * (len(gen) - 1))], 4),
        "generate_max_s": round(max(gen), 4),
        **{f"part_{k}_median_s": med(v) for k, v in parts.items()},
        "baseline_json_profile_median_s": med(baseline_json),
        "baseline_render_only_median_s": med(baseline_render),
        "generate_over_json": round(statistics.median(gen) / statistics.median(baseline_json), 1),
        "generate_over_render_only": round(
            statistics.median(gen) / statistics.median(baseline_render), 2
        ),
        "verify_offline_median_s": med(verify_offline),
        "verify_offline_max_s": round(max(verify_offline), 4),
        "verify_live_local_median_s": med(verify_live),
        "baseline_signature_only_median_s": med(baseline_signature),
        "verify_over_signature_only": round(
            statistics.median(verify_offline) / statistics.median(baseline_signature), 2
        ),
        "heaviest_subjects": heavy,
        "heaviest_pages": heavy_pages,
        "heaviest_generate_s": [round(x, 3) for x in heavy_gen],
        "heaviest_verify_s": [round(x, 3) for x in heavy_verify],
        **process,
        "targets": TARGETS,
        "generate_meets_target": statistics.median(gen) <= TARGETS["generate_s"],
        "verify_meets_target": statistics.median(verify_offline) <= TARGETS["verify_s"],
        "on": on.isoformat() if isinstance(on, date) else str(on),
    }
    return figures


def signature_only(pdf: bytes, cert_der: bytes) -> None:
    import io

    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    cert = asn1_x509.Certificate.load(cert_der)
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    status = validate_pdf_signature(signature, ValidationContext(trust_roots=[cert]))
    assert status.intact and status.valid


def whole_processes(work: Path, subject: str, runs: int) -> dict[str, float]:
    exe = str(Path(sys.executable).with_name("trustledger"))
    out = work / "bench-report.pdf"
    commands = {
        "report": [exe, "report", subject, "--out", str(out)],
        "verify": [exe, "report", "verify", str(out)],
        "version": [exe, "--version"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs + 1):  # the first round warms the OS page cache
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, cwd=work, capture_output=True, check=True)
            times[name].append(time.perf_counter() - start)
    return {f"process_{name}_median_s": round(statistics.median(t[1:]), 3)
            for name, t in times.items()}  # fmt: skip


if __name__ == "__main__":
    main()
