"""The ledger and the service: size, root, and how current the check index is; the tree
head and RFC 6962 proofs, for anyone verifying a report or an entry against the live
ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response

from trustledger.api.deps import ServerState, admit, caller, json_response, server
from trustledger.api.models import ConsistencyProof, Health, InclusionProof, LedgerHead
from trustledger.api.problems import problems
from trustledger.app import checkpoints, ledger
from trustledger.app.errors import BadInput
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


# a bound well above any ledger, so that no parameter can overflow a database integer
MAX_SEQ = 2**53 - 1
Seq = Annotated[int, Query(ge=0, le=MAX_SEQ, description="An entry's sequence number.")]
Size = Annotated[int, Query(ge=1, le=MAX_SEQ, description="A tree size (entries).")]


@router.get("/v1/ledger/head", response_model=LedgerHead, responses=problems(401, 500))
def ledger_head(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal | None, Depends(caller)],
) -> Response:
    """The latest tree head: size, root and time. Open to all; not logged (no one's data)."""
    admit(principal, "ledger")
    with state.lock:
        head = ledger.head(state.ctx)
    return json_response(head.to_json())


@router.get(
    "/v1/ledger/proof/inclusion",
    response_model=InclusionProof,
    responses=problems(401, 404, 422, 500),
)
def inclusion_proof(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal | None, Depends(caller)],
    seq: Seq,
    size: Annotated[
        int | None, Query(ge=1, le=MAX_SEQ, description="Tree size; default: the latest.")
    ] = None,
) -> Response:
    """The RFC 6962 inclusion proof of entry `seq` in the tree of `size` entries, with the
    entry's bytes — withheld (null, `withheld` true) when the entry is about a person or
    names one, but for an operator or auditor. 404 for a size the ledger has not reached
    or an entry outside the tree."""
    admit(principal, "ledger")
    # an entry about a person is public only as a hash (principle 6)
    withhold = principal is None or principal.role not in ("operator", "auditor")
    with state.lock:
        found = ledger.inclusion(state.ctx, seq, size, withhold_persons=withhold)
    return json_response(found)


@router.get(
    "/v1/ledger/proof/consistency",
    response_model=ConsistencyProof,
    responses=problems(401, 404, 422, 500),
)
def consistency_proof(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal | None, Depends(caller)],
    old: Size,
    new: Annotated[
        int | None, Query(ge=1, le=MAX_SEQ, description="Newer tree size; default: the latest.")
    ] = None,
) -> Response:
    """The RFC 6962 consistency proof that the tree of `old` entries is a prefix of the
    tree of `new`. 404 unless 0 < old ≤ new ≤ the ledger's size (no such proof)."""
    admit(principal, "ledger")
    with state.lock:
        found = ledger.consistency(state.ctx, old, new)
    return json_response(found)


@router.get(
    "/v1/ledger/checkpoint",
    response_class=PlainTextResponse,
    responses={**problems(401, 404, 422, 500), 200: {"content": {"text/plain": {}}}},
)
def signed_checkpoint(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal | None, Depends(caller)],
    size: Annotated[
        int | None,
        Query(ge=0, le=MAX_SEQ, description="A tree size signed before; default: the latest."),
    ] = None,
) -> PlainTextResponse:
    """A signed note (C2SP tlog-checkpoint: origin, size, base64 root; an Ed25519 signature
    line by the log's key) with the witnesses' cosignatures it has (C2SP
    tlog-cosignature). The latest is signed anew at most every
    TRUSTLEDGER_CHECKPOINT_INTERVAL seconds when the ledger grew; `size` gives one kept
    from before (404 if none was signed at that size). Open to all; not logged."""
    admit(principal, "ledger")
    interval = state.ctx.settings.checkpoint_interval
    with state.lock:
        note = checkpoints.checkpoint(state.ctx, size, min_interval=interval)
    return PlainTextResponse(note, media_type="text/plain; charset=utf-8")


# a note that parses as a cosigned checkpoint (C2SP signed-note, tlog-checkpoint): an
# origin line, a decimal size, a base64 SHA-256 root, extension lines, a blank line, then
# signature lines `— <name> <base64>` (a name without spaces or '+')
COSIGNED_NOTE_PATTERN = (
    r"^[!-~](?:[ -~]*[!-~])?\n(?:0|[1-9][0-9]{0,18})\n[A-Za-z0-9+/]{43}=\n(?:[!-~][ -~]*\n){0,8}"
    r"\n(?:\u2014 [!-*,-~]+ (?:[A-Za-z0-9+/]{4}){2,40}"
    r"(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)\n){1,16}$"
)
MAX_COSIGNED_NOTE = 64 * 1024


@router.post(
    "/v1/ledger/checkpoint/cosignature",
    responses={**problems(401, 403, 404, 409, 422, 500),
               200: {"content": {"application/json": {}}}},
    openapi_extra={"requestBody": {"required": True, "content": {"text/plain": {"schema": {
        "type": "string", "maxLength": MAX_COSIGNED_NOTE, "pattern": COSIGNED_NOTE_PATTERN,
    }}}}},
)  # fmt: skip
async def add_cosignature(
    request: Request,
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal | None, Depends(caller)],
) -> Response:
    """A witness sends its cosignature: the body (text/plain) is a checkpoint this log
    signed with the witness's signature line added. Kept when the witness is one the log
    trusts (TRUSTLEDGER_WITNESS_KEYS) and the cosignature verifies; 403 for a witness not
    trusted or a cosignature that does not verify, 404 for a size this log signed no
    checkpoint of, 409 for another checkpoint than the one it signed at that size, 422 for
    a malformed note. Open to all: a cosignature authenticates itself."""
    admit(principal, "ledger")
    body = await request.body()
    if len(body) > MAX_COSIGNED_NOTE:
        raise BadInput("a cosigned checkpoint is a few hundred bytes, not this")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("a cosigned checkpoint is UTF-8 text") from None
    with state.lock:
        accepted = checkpoints.accept_cosignature(state.ctx, text)
    return json_response({"accepted": [{"witness": c.name, "key_id": c.key_id.hex(),
                                        "time": c.timestamp} for c in accepted]})  # fmt: skip


@router.get(
    "/v1/ledger/checkpoint/key",
    response_class=PlainTextResponse,
    responses={**problems(401, 500), 200: {"content": {"text/plain": {}}}},
)
def checkpoint_key(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal | None, Depends(caller)],
) -> PlainTextResponse:
    """The verifier key of the log's checkpoints (`<origin>+<hex key hash>+<base64(0x01 ||
    Ed25519 public key)>`), as golang.org/x/mod/sumdb/note reads it, on the first line;
    then each retired key, newest first, as `<vkey> retired <tree size>` (it signed the
    checkpoints up to that size). Open to all."""
    admit(principal, "ledger")
    with state.lock:
        keys = checkpoints.log_keys(state.ctx)
    lines = [k.vkey if k.retired_size is None else f"{k.vkey} retired {k.retired_size}"
             for k in keys]  # fmt: skip
    return PlainTextResponse("".join(x + "\n" for x in lines),
                             media_type="text/plain; charset=utf-8")  # fmt: skip


@router.get("/v1/ledger/checkpoint/keys", responses=problems(401, 500))
def checkpoint_keys(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal | None, Depends(caller)],
) -> Response:
    """The log's keys as JSON: the current one, then each retired one with the tree size
    at which it was retired and its link note (that checkpoint's body with a
    `trustledger-next-log-key <vkey>` line, signed by the old key and the new)."""
    admit(principal, "ledger")
    with state.lock:
        keys = checkpoints.log_keys(state.ctx)
    return json_response({"keys": [k.to_json() for k in keys]})
