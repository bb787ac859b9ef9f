"""The ledger and the service: size, root, and how current the check index is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from trustledger.api.deps import ServerState, caller, server
from trustledger.api.models import Health
from trustledger.api.problems import problems
from trustledger.app import ledger
from trustledger.app.keys import Principal

router = APIRouter(tags=["ledger"])


@router.get("/v1/health", response_model=Health, responses=problems(401, 500))
def health(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal | None, Depends(caller)],
) -> Health:
    """The service is up: ledger size and root, and the position the check index reflects.
    Open to all; a key sent must be valid (401 otherwise). Not logged: no one's data."""
    index = state.checks.current()
    with state.lock:
        head = ledger.head(state.ctx)
    return Health(
        status="ok",
        ledger_size=head.size,
        root=head.root.hex(),
        index_ledger_size=index.ledger_size,
        stale=state.checks.stale,
        index_error=state.checks.index_error,
    )
