"""Published lists, a page at a time: organisations only (persons are counted, never
shown). Open to the public; a checker reads only the lists whose measures concern its
actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from trustledger.api.deps import ServerState, admit, caller, json_response, server
from trustledger.api.models import MAX_PAGE, Day, ListPage
from trustledger.api.problems import problems
from trustledger.app import lists
from trustledger.app.keys import Principal
from trustledger.app.lists import CURSOR_PATTERN
from trustledger.app.rulebooks import ID_PATTERN

router = APIRouter(tags=["lists"])


@router.get(
    "/v1/lists/{rulebook}/{list_id}",
    response_model=ListPage,
    responses=problems(401, 403, 404, 422, 500),
)
async def list_members(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal | None, Depends(caller)],
    rulebook: Annotated[str, Path(pattern=ID_PATTERN, max_length=80)],
    list_id: Annotated[str, Path(pattern=ID_PATTERN, max_length=80)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    after: Annotated[
        str | None,
        Query(
            pattern=CURSOR_PATTERN,
            max_length=72,
            description="The `next` of the previous page.",
        ),
    ] = None,
    on: Annotated[
        Day | None, Query(description="The day (YYYY-MM-DD) the list is shown as of; today.")
    ] = None,
    division: Annotated[
        str,
        Query(pattern=r"^[0-9]{0,6}$", description="Only organisations of divisions so prefixed."),
    ] = "",
) -> Response:
    """The organisations on a list on a day, most recently listed first, a page at a
    time; persons are withheld and only counted."""
    admit(principal, "lists")
    with state.lock:
        if principal is not None and principal.role == "checker":
            lists.require_in_scope(state.ctx, rulebook, list_id, principal.actions)
        page = lists.list_page(state.ctx, rulebook, list_id, on=on, division=division,
                               after=after, limit=limit)  # fmt: skip
    if principal is not None:
        state.log.add(principal, "lists.read", subject_id=None, purpose=None,
                      detail={"rulebook": rulebook, "list": list_id, "after": after})  # fmt: skip
    return json_response(page.to_json())
