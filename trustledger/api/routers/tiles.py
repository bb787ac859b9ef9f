"""The Merkle tree as C2SP tlog-tiles tiles, read-only: `GET /v1/ledger/tile/<L>/<N>` (a
full tile, 256 hashes) and `…/<N>.p/<W>` (a partial one, W hashes), for a client that
computes its own proofs against a checkpoint. A tile's bytes never change (a partial tile
of width W is the first W hashes of its tile, whatever the tree grows to), so both are
served with a long-lived, immutable cache."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from trustledger.api.deps import ServerState, admit, caller, server
from trustledger.api.problems import problems
from trustledger.app import ledger
from trustledger.app.keys import Principal

router = APIRouter(tags=["ledger"])

# the one way tlog-tiles writes a path, as patterns in the OpenAPI document (a path of this
# form names a tile or is 404; the application checks paths itself, to say what is wrong):
# a level without leading zeros; 3-digit index elements, all but the last led by x, the
# first not x000; a partial width from 1 to 255
LEVEL_PATTERN = r"^(?:[0-9]|[1-5][0-9]|6[0-3])$"
_FIRST = r"x(?:[1-9][0-9]{2}|0[1-9][0-9]|00[1-9])/"
_WIDTH = r"(?:[1-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])"
INDEX_PATTERN = rf"^(?:{_FIRST}(?:x[0-9]{{3}}/)*)?[0-9]{{3}}(?:\.p/{_WIDTH})?$"

# a year: the tile at a path is the same bytes forever (tlog-tiles: "immutable")
IMMUTABLE = "public, max-age=31536000, immutable"


@router.get(
    "/v1/ledger/tile/{level}/{index:path}",
    response_class=Response,
    responses={
        **problems(401, 404, 422, 500),
        200: {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "description": "The tile's hashes, 32 bytes each, concatenated.",
        },
    },
)
def tile(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal | None, Depends(caller)],
    level: Annotated[
        str,
        Path(json_schema_extra={"pattern": LEVEL_PATTERN},
             description="The tile's level, 0 to 63 (0: leaf hashes)."),
    ],
    index: Annotated[
        str,
        Path(
            json_schema_extra={"pattern": INDEX_PATTERN},
            description="The tile's index in 3-digit path elements, all but the last led by "
            "x (1234067: x001/x234/067), then `.p/<W>` (W from 1 to 255) for a partial tile."
        ),
    ],
) -> Response:
    """A tile of the ledger's Merkle tree (C2SP tlog-tiles, height 8): at level 0 the leaf
    hashes of 256 entries, above that the roots of 256 full tiles of the level below. 422
    for a path tlog-tiles does not allow, 404 for a tile (or width) the tree does not have.
    Open to all; not logged (no one's data)."""
    admit(principal, "ledger")
    with state.lock:
        data, _full = ledger.tile(state.ctx, f"{level}/{index}")
    return Response(
        data, media_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE}
    )
