"""The credit report on the portal: download an organisation's report (the button on its
page), check one (``/verify``: upload a PDF, see every check and why it failed), and the
centre's signing certificate, for checking reports elsewhere."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from trustledger.api.deps import ServerState, server, when
from trustledger.app import reports
from trustledger.app.errors import NotFound
from trustledger.ids import check_uscc
from trustledger.portal import render

router = APIRouter(include_in_schema=False)

MAX_REPORT = 20 * 1024 * 1024


@router.get("/entities/{subject}/report.pdf")
def report_pdf(
    state: Annotated[ServerState, Depends(server)],
    subject: Annotated[str, Path(max_length=40)],
    on: Annotated[date | None, Query()] = None,
) -> Response:
    code = subject.strip().upper()
    if not check_uscc(code).valid:
        raise NotFound("no such organisation")  # a person's number never reaches a report
    with state.lock:
        made = reports.generate(state.ctx, code, when(state, None, on))
    disposition = f'attachment; filename="{made.number}.pdf"'
    return Response(made.pdf, media_type="application/pdf",
                    headers={"Content-Disposition": disposition})  # fmt: skip


@router.get("/verify", response_class=HTMLResponse)
def verify_form(request: Request) -> Response:
    return render.page(request, "verify.html", title="Check a credit report", result=None,
                       problem=None)  # fmt: skip


@router.post("/verify", response_class=HTMLResponse)
def verify_upload(
    request: Request,
    state: Annotated[ServerState, Depends(server)],
    report: UploadFile | None = None,
) -> Response:
    # a plain function, run in a worker thread: the signature check runs an event loop of
    # its own, which cannot start inside the server's
    data = b"" if report is None else report.file.read(MAX_REPORT + 1)
    problem = None
    if not data:
        problem = "Choose the report's PDF file."
    elif len(data) > MAX_REPORT:
        problem = "This file is larger than any report (20 MB)."
    if problem is not None:
        return render.page(request, "verify.html", title="Check a credit report", status=422,
                           result=None, problem=problem)  # fmt: skip
    with state.lock:
        result = reports.verify(data, ctx=state.ctx)
    return render.page(request, "verify.html", title="Check a credit report", result=result,
                       problem=None)  # fmt: skip


@router.get("/report-certificate.pem")
def certificate(state: Annotated[ServerState, Depends(server)]) -> Response:
    disposition = 'attachment; filename="trustledger-reports.pem"'
    return Response(reports.certificate_pem(state.ctx.settings),
                    media_type="application/x-pem-file",
                    headers={"Content-Disposition": disposition})  # fmt: skip
