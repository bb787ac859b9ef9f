"""Open data on the portal (``/open-data``): the files `trustledger export` writes (CSV,
JSON Lines, Parquet, FollowTheMoney), cut at a tree head and served from the cache the
application layer keeps (``Settings.open_data_dir``).

A cut of the whole register takes seconds, so it is never made inside a request: a
request starts one in the background (its own connection) when the last is older than
``REFRESH`` seconds, and the page shows the newest cut there is, with the head it was cut
at.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, Response

from trustledger.api.deps import ServerState, server
from trustledger.app import exports, ledger
from trustledger.app.context import Context
from trustledger.app.errors import NotFound
from trustledger.portal import render

router = APIRouter(include_in_schema=False)

REFRESH = 60.0  # seconds between looks at whether the ledger moved past the last cut


class _Cuts:
    """The newest cut made by this server, and the one being made."""

    def __init__(self) -> None:
        self.latest: exports.ExportResult | None = None
        self.error: str | None = None
        self.looked = float("-inf")
        self.worker: threading.Thread | None = None
        self.lock = threading.Lock()

    def refresh(self, state: ServerState) -> None:
        with self.lock:
            if self.worker is not None or time.monotonic() - self.looked < REFRESH:
                return
            self.looked = time.monotonic()
            self.worker = threading.Thread(target=self._cut, args=(state,), daemon=True,
                                           name="open-data-cut")  # fmt: skip
            self.worker.start()

    def _cut(self, state: ServerState) -> None:
        try:
            with Context.open(state.ctx.settings) as ctx:
                self.latest = exports.open_data(ctx, Path(ctx.settings.open_data_dir))
            self.error = None
        except Exception as exc:  # shown on the page; the next look tries again
            self.error = str(exc) or type(exc).__name__
        finally:
            with self.lock:
                self.worker = None


_CUTS: dict[int, _Cuts] = {}


def _cuts(state: ServerState) -> _Cuts:
    return _CUTS.setdefault(id(state), _Cuts())


@router.get("/open-data", response_class=HTMLResponse)
def open_data_page(request: Request, state: Annotated[ServerState, Depends(server)]) -> Response:
    cuts = _cuts(state)
    cuts.refresh(state)
    with state.lock:
        head = ledger.head(state.ctx)
    return render.page(request, "open_data.html", title="Open data", cut=cuts.latest,
                       preparing=cuts.worker is not None, error=cuts.error,
                       ledger_size=head.size)  # fmt: skip


@router.get("/open-data/files/{name}")
def open_data_file(
    state: Annotated[ServerState, Depends(server)],
    name: Annotated[str, PathParam(pattern=r"^[a-z0-9_.-]+$", max_length=100)],
) -> Response:
    cut = _cuts(state).latest
    if cut is None:
        raise NotFound("no open data has been cut yet: see /open-data")
    if name == cut.manifest.name:
        return FileResponse(cut.manifest, media_type="application/json", filename=name)
    for f in cut.files:
        if f.path.name == name:
            return FileResponse(f.path, media_type=_MEDIA.get(f.format, "application/octet-stream"),
                                filename=name)  # fmt: skip
    raise NotFound(f"no file {name} in the current open data")


_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "ftm": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}
