"""The ledger page: the current tree head, one entry looked up by its sequence number with
its RFC 6962 inclusion proof, checked in the browser by ``static/ledger-verify.js``
(WebCrypto, independent of the server's code), and how to verify without this site.

Thin: ``app.ledger_pages`` builds the proof and decides whether an entry may be shown (an
entry about a person never is: only its leaf hash and proof)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from trustledger.api.deps import ServerState, server
from trustledger.app import ledger_pages
from trustledger.app.errors import NotFound
from trustledger.portal import render

router = APIRouter(include_in_schema=False)


def _page(request: Request, state: ServerState, seq_text: str | None) -> Response:
    entry = None
    problem = None
    status = 200
    with state.lock:
        head = ledger_pages.head(state.ctx)
        ledger_pages.prepare(state.ctx)  # the first lookup after a start is then fast
    text = (seq_text or "").strip()
    if text and (not text.isascii() or not text.isdigit()):
        problem, status = f"{text[:40]!r} is not a sequence number (0, 1, 2, …)", 422
    elif text:
        try:
            # the lock is taken inside, around the reads on the shared connection only
            entry = ledger_pages.entry_page(state.ctx, int(text), lock=state.lock)
        except NotFound as exc:
            problem, status = exc.message, 404
    title = "Ledger" if entry is None else f"Ledger entry {entry.seq}"
    return render.page(request, "ledger.html", title=title, status=status, head=head,
                       entry=entry, problem=problem, seq=text[:40],
                       timezone=state.ctx.settings.timezone)  # fmt: skip


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(
    request: Request,
    state: Annotated[ServerState, Depends(server)],
    seq: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    return _page(request, state, seq)


@router.get("/ledger/entries/{seq}", response_class=HTMLResponse)
def ledger_entry(
    request: Request,
    state: Annotated[ServerState, Depends(server)],
    seq: Annotated[str, Path(max_length=40)],
) -> Response:
    return _page(request, state, seq)
