"""The ledger's public face: the tree head, RFC 6962 proofs bounded by what exists, and
verifying the whole ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from trustledger.app.errors import BadInput, ConfigError, NotFound

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.ledger.store import TreeHead
    from trustledger.ledger.tiles import TileReader
    from trustledger.ledger.verify import VerifyReport

_T = TypeVar("_T")


def head(ctx: Context) -> TreeHead:
    return ctx.store.head()


def inclusion(
    ctx: Context, seq: int, size: int | None = None, *, withhold_persons: bool = False
) -> dict[str, Any]:
    """An inclusion proof of entry ``seq`` in the tree of ``size`` entries (default: all),
    from the stored tiles: O(log n) tile reads, for any size up to the ledger's.
    ``withhold_persons``: an entry about a person, or naming one, is left out (``entry``
    None, ``withheld`` True): its leaf hash and proof still show that it is there."""
    from trustledger.ledger import tiles

    store = ctx.store
    held = store.size()
    tree_size = held if size is None else size
    # a size the ledger has not reached names no tree: not found, as an entry past the end
    if tree_size < 1 or tree_size > held:
        raise NotFound(f"no tree of size {tree_size}: the ledger holds {held} entries")
    if not 0 <= seq < tree_size:
        raise NotFound(f"no entry {seq} in a tree of size {tree_size} (the ledger holds {held})")
    entry = store.entry(seq)
    if entry is None:
        raise NotFound(f"no entry {seq}")

    def prove(reader: tiles.TileReader) -> tuple[bytes, list[bytes]]:
        return reader.leaf(seq), reader.inclusion_proof(seq)

    leaf, proof = _from_tiles(ctx, tree_size, prove)
    if leaf != entry.hash:
        raise ConfigError(
            f"the stored tile holding entry {seq} disagrees with the entry's hash: the "
            "tiles were changed outside the application (`trustledger verify` names them)"
        )
    text: str | None = entry.envelope().decode()
    withheld = False
    if withhold_persons:
        from trustledger.app.ledger_pages import about_person, names_person

        payload = entry.payload_obj()
        withheld = about_person(ctx, payload) or names_person(payload)
        if withheld:
            text = None
    return {
        "seq": seq,
        "tree_size": tree_size,
        # the fold of the leaf and its path is the root: log2(n) hashes, no second walk
        "root": tiles.root_from_inclusion(leaf, seq, tree_size, proof).hex(),
        "leaf_hash": entry.hash.hex(),
        "entry": text,
        "withheld": withheld,
        "proof": [p.hex() for p in proof],
    }


def consistency(ctx: Context, old_size: int, new_size: int | None = None) -> dict[str, Any]:
    """A consistency proof that the tree of ``old_size`` is a prefix of ``new_size``'s,
    from the stored tiles (O(log n) tile reads)."""
    from trustledger.ledger import tiles

    store = ctx.store
    held = store.size()
    size = held if new_size is None else new_size
    if not 0 < old_size <= size <= held:
        raise NotFound(f"no consistency proof from size {old_size} to {size}: need 0 < old "
                       f"size ≤ new size ≤ {held}, the ledger's size")  # fmt: skip

    def prove(reader: tiles.TileReader) -> tuple[bytes, bytes, list[bytes]]:
        old = tiles.TileReader(reader.read_tile, old_size)
        return old.root(), reader.root(), reader.consistency_proof(old_size)

    old_root, new_root, proof = _from_tiles(ctx, size, prove)
    return {
        "old_size": old_size,
        "new_size": size,
        "old_root": old_root.hex(),
        "new_root": new_root.hex(),
        "proof": [p.hex() for p in proof],
    }


def tile(ctx: Context, path: str) -> tuple[bytes, bool]:
    """The C2SP tlog-tiles tile at ``path`` (``<L>/<N>[.p/<W>]``) of the latest tree, and
    whether it is a full one. BadInput for a path tlog-tiles does not allow; NotFound for a
    tile the tree does not have (yet), or a partial width it has not reached."""
    from trustledger.ledger import tiles

    try:
        want = tiles.parse_path(path)
    except tiles.TileError as exc:
        raise BadInput(str(exc)) from None
    held = ctx.store.size()
    has = tiles.width_in(want.level, want.index, held)
    name = want.path()
    if has == 0:
        raise NotFound(f"{name}: the tree of {held} entries has no such tile")
    if has < want.width:
        shown = tiles.Tile(want.level, want.index, has).path()
        raise NotFound(
            f"{name}: in the tree of {held} entries this tile holds {has} hashes (it is {shown})"
        )

    def read(reader: tiles.TileReader) -> bytes:
        data = reader.read_tile(want.level, want.index)
        if len(data) < want.width * 32:
            raise tiles.TilesMissing(f"{name}: {len(data) // 32} hashes stored")
        return data[: want.width * 32]

    return _from_tiles(ctx, held, read), want.full


def build_tiles(ctx: Context) -> dict[str, int]:
    """Build the stored tiles of the whole ledger if they are not in step with it (a
    database made before tiles): tiles written (0: already in step) and the ledger size."""
    from trustledger.ledger import tiles

    written = tiles.backfill(ctx.store)
    return {"tiles_written": written, "size": ctx.store.size()}


def _from_tiles(ctx: Context, size: int, use: Callable[[TileReader], _T]) -> _T:
    """``use`` over the stored tiles of the tree of ``size``; tiles never built (a database
    upgraded from before them) are built once, then ``use`` runs again."""
    from trustledger.ledger import tiles

    try:
        return use(tiles.reader(ctx.store, size))
    except tiles.TilesMissing:
        tiles.backfill(ctx.store)
    try:
        return use(tiles.reader(ctx.store, size))
    except tiles.TilesMissing as exc:
        raise ConfigError(f"the stored tiles do not cover the tree of {size}: {exc}") from None


def verify(
    ctx: Context, progress: Callable[[int], None] | None = None, *, reevaluate: bool = False
) -> VerifyReport:
    """Recompute every entry hash, chain link and stored tree head, every projection row,
    and every other table as `trustledger.app.verification` classifies it (``reevaluate``:
    also evaluate the ledger again and compare the state row for row); with notes on what
    the live state reflects. ``progress`` is told the number of entries checked so far. A
    tampered database is a report (``ok`` False), not an error."""
    from trustledger.app.verification import verify_all

    return verify_all(ctx, progress, reevaluate=reevaluate)


def rebuild(ctx: Context) -> dict[str, int]:
    """Drop the projections and replay the ledger into them: rows per table."""
    return ctx.store.rebuild()


def configuration_error(exc: BaseException) -> str | None:
    """The message of an error raised below the application layer that is the platform's
    configuration, not a bug (a database URL or a person key), for a face to report as
    such; None for anything else."""
    from trustledger.ids import PersonKeyError
    from trustledger.ledger.store import StoreError

    return str(exc) if isinstance(exc, PersonKeyError | StoreError) else None
