"""The ledger's public face: the tree head, RFC 6962 proofs bounded by what exists, and
verifying the whole ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import BadInput, NotFound

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.ledger.store import TreeHead
    from trustledger.ledger.verify import VerifyReport


def head(ctx: Context) -> TreeHead:
    return ctx.store.head()


def inclusion(
    ctx: Context, seq: int, size: int | None = None, *, withhold_persons: bool = False
) -> dict[str, Any]:
    """An inclusion proof of entry ``seq`` in the tree of ``size`` entries (default: all).
    ``withhold_persons``: an entry about a person, or naming one, is left out (``entry``
    None, ``withheld`` True): its leaf hash and proof still show that it is there."""
    from trustledger.ledger import merkle

    store = ctx.store
    held = store.size()
    tree_size = held if size is None else size
    if tree_size < 1 or tree_size > held:
        raise BadInput(f"tree size {tree_size} is out of range: the ledger holds {held} entries")
    if not 0 <= seq < tree_size:
        raise NotFound(f"no entry {seq} in a tree of size {tree_size} (the ledger holds {held})")
    leaves = store.leaf_hashes(tree_size)
    entry = store.entry(seq)
    if entry is None:
        raise NotFound(f"no entry {seq}")
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
        "root": merkle.root(leaves).hex(),
        "leaf_hash": entry.hash.hex(),
        "entry": text,
        "withheld": withheld,
        "proof": [p.hex() for p in merkle.inclusion_proof(leaves, seq, tree_size)],
    }


def consistency(ctx: Context, old_size: int, new_size: int | None = None) -> dict[str, Any]:
    """A consistency proof that the tree of ``old_size`` is a prefix of ``new_size``'s."""
    from trustledger.ledger import merkle

    store = ctx.store
    held = store.size()
    size = held if new_size is None else new_size
    if not 0 < old_size <= size <= held:
        raise BadInput(f"need 0 < old size ≤ new size ≤ {held} (got old {old_size}, new {size})")
    leaves = store.leaf_hashes(size)
    return {
        "old_size": old_size,
        "new_size": size,
        "old_root": merkle.root(leaves[:old_size]).hex(),
        "new_root": merkle.root(leaves).hex(),
        "proof": [p.hex() for p in merkle.consistency_proof(leaves, old_size, size)],
    }


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
