"""The rulebooks as people read them: ``/rulebooks`` (every published one) and
``/rulebooks/{id}`` (categories, score, lists with their conditions in words, measures,
versions). Thin: the application layer (``app.rulebook_pages``) resolves everything."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response

from trustledger.api.deps import ServerState, server
from trustledger.app import rulebook_pages
from trustledger.app.errors import NotFound
from trustledger.app.rulebooks import ID_PATTERN
from trustledger.portal import render

router = APIRouter(include_in_schema=False)


@router.get("/rulebooks", response_class=HTMLResponse)
def rulebooks_index(request: Request, state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.lock:
        found = rulebook_pages.index(state.ctx)
    return render.page(request, "rulebooks.html", title="Rulebooks", rulebooks=found)


@router.get("/rulebooks/{rulebook_id}", response_class=HTMLResponse)
def rulebook_page(
    request: Request,
    state: Annotated[ServerState, Depends(server)],
    rulebook_id: Annotated[str, Path(max_length=80)],
) -> Response:
    if not re.fullmatch(ID_PATTERN, rulebook_id):
        raise NotFound(f"no published rulebook {rulebook_id!r}")
    with state.lock:
        found = rulebook_pages.rulebook_page(state.ctx, rulebook_id)
    return render.page(request, "rulebook.html", title=found["title"], rb=found,
                       timezone=state.ctx.settings.timezone)  # fmt: skip
