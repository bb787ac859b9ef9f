"""The ledger and the service: size, root, and how current the check index is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from trustledger.api.deps import ServerState, server
from trustledger.api.models import Health
from trustledger.api.problems import problems
from trustledger.app import ledger

router = APIRouter(tags=["ledger"])


@router.get("/v1/health", response_model=Health, responses=problems(500))
def health(state: Annotated[ServerState, Depends(server)]) -> Health:
    """The service is up: ledger size and root, and the position the check index reflects."""
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
