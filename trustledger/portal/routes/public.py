"""The public pages: search (home and /search), an organisation's page, the lists.

Thin: parse the request, call the application layer, render a template. Persons have no
page: the application layer answers NotFound for a person's id, which is a 404 page here.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trustledger.api.deps import ServerState, server, when
from trustledger.app import entities, lists, overview, search
from trustledger.app.errors import BadInput, NotFound
from trustledger.app.rulebooks import ID_PATTERN
from trustledger.ids import check_uscc
from trustledger.portal import charts, render

router = APIRouter(include_in_schema=False)

Subject = Annotated[str, Path(max_length=40)]
Day = Annotated[date | None, Query(description="YYYY-MM-DD")]
PAGE = 50


@router.get("/", response_class=HTMLResponse)
def home(request: Request, state: Annotated[ServerState, Depends(server)]) -> Response:
    version = _state_version(state)
    with state.lock:
        figures = overview.overview(state.ctx, version)
    return render.page(request, "home.html", title="Search public credit records",
                       figures=figures, query="")  # fmt: skip


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    state: Annotated[ServerState, Depends(server)],
    q: Annotated[str, Query(max_length=400)] = "",
) -> Response:
    if not q.strip():
        return RedirectResponse("/", status_code=303)
    try:
        with state.lock:
            found = search.search(state.ctx, q)
    except BadInput as exc:
        return render.page(request, "search.html", title="Search", status=422, query=q,
                           result=None, problem=exc.message)  # fmt: skip
    if found.exact is not None:
        return RedirectResponse(f"/entities/{found.exact}", status_code=303)
    return render.page(request, "search.html", title=f"Search: {q.strip()}", query=q,
                       result=found, problem=None)  # fmt: skip


@router.get("/entities/{subject}", response_class=HTMLResponse)
def entity_page(
    request: Request,
    state: Annotated[ServerState, Depends(server)],
    subject: Subject,
    on: Day = None,
) -> Response:
    subject = _organisation(subject)
    with state.lock:
        file = entities.entity_file(state.ctx, subject, when(state, None, on), public=True)
    return render.page(
        request, "entity.html", title=file.identity.name, file=file,
        history_charts=[(s, charts.standing_history(s)) for s in file.standings if s.history],
    )  # fmt: skip


@router.get("/lists", response_class=HTMLResponse)
def lists_index(
    request: Request, state: Annotated[ServerState, Depends(server)], on: Day = None
) -> Response:
    version = _state_version(state)
    with state.lock:
        found = lists.published_lists(state.ctx, on, state_version=version)
        day = (on or state.ctx.today()).isoformat()
    return render.page(request, "lists.html", title="Red and black lists", lists=found, on=day)


@router.get("/lists/{rulebook}/{list_id}.csv")
def list_csv(
    state: Annotated[ServerState, Depends(server)],
    rulebook: Annotated[str, Path(pattern=ID_PATTERN, max_length=80)],
    list_id: Annotated[str, Path(pattern=ID_PATTERN, max_length=80)],
    on: Day = None,
    division: Annotated[str, Query(max_length=6)] = "",
) -> Response:
    """The whole list on the day (every page), as CSV."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["subject_id", "name", "division", "kind", "effective_from", "since",
                     "until", "records"])  # fmt: skip
    with state.lock:
        day, members = lists.whole_list(state.ctx, rulebook, list_id, on=on, division=division)
    for m in members:
        writer.writerow([m["subject_id"], m["name"], m["division"] or "", m["kind"],
                         m["effective_from"], m["since"], m["until"] or "",
                         " ".join(m["records"])])  # fmt: skip
    name = f"{rulebook}_{list_id}_{day}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@router.get("/lists/{rulebook}/{list_id}", response_class=HTMLResponse)
def list_page(
    request: Request,
    state: Annotated[ServerState, Depends(server)],
    rulebook: Annotated[str, Path(pattern=ID_PATTERN, max_length=80)],
    list_id: Annotated[str, Path(pattern=ID_PATTERN, max_length=80)],
    on: Day = None,
    division: Annotated[str, Query(max_length=6)] = "",
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    version = _state_version(state)
    with state.lock:
        page = lists.list_page(state.ctx, rulebook, list_id, on=on, division=division,
                               after=after, limit=PAGE, state_version=version)  # fmt: skip
        described = lists.described_list(state.ctx, rulebook, list_id, state_version=version)
    query = {"on": page.on, "division": division}
    next_url = None
    if page.next:
        next_url = f"{request.url.path}?{_encode({**query, 'after': page.next})}"
    return render.page(
        request, "list.html", title=described.title, page=page, described=described,
        next_url=next_url, csv_url=f"{request.url.path}.csv?{_encode(query)}",
        first_url=None if after is None else f"{request.url.path}?{_encode(query)}",
    )  # fmt: skip


def _state_version(state: ServerState) -> tuple[object, ...]:
    """The state's signature as the check service last read it (once a second): the key
    of the application layer's counts, so a page never recounts the whole state."""
    state.checks.current()  # takes the lock itself when it looks again
    return tuple(state.checks.signature)


def _organisation(subject: str) -> str:
    """A person's id has no page: answered as any unknown page, before any lookup."""
    text = subject.strip().upper()
    if not check_uscc(text).valid:
        raise NotFound("no such organisation")
    return text


def _encode(query: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in query.items() if v})
