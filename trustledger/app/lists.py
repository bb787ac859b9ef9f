"""Published lists, a page at a time: organisations by subject id; persons withheld and
only counted (principle 6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from trustledger.app.errors import NotFound

if TYPE_CHECKING:
    from trustledger.app.context import Context


@dataclass(frozen=True)
class ListPage:
    rulebook: str
    list_id: str
    members: list[dict[str, Any]]
    persons_withheld: int
    next: str | None

    def to_json(self) -> dict[str, Any]:
        return {"rulebook": self.rulebook, "list": self.list_id, "members": self.members,
                "persons_withheld": self.persons_withheld, "next": self.next}  # fmt: skip


def list_page(
    ctx: Context, rulebook_id: str, list_id: str, *, after: str | None = None, limit: int = 100
) -> ListPage:
    """Up to ``limit`` organisation members after subject id ``after`` (keyset paging);
    NotFound when no published rulebook has that list."""
    from trustledger.evaluate.queries import list_members
    from trustledger.rulebook.publish import published_rulebooks

    rows, persons = list_members(ctx.store, rulebook_id, list_id, after, limit + 1)
    if not rows and not persons:
        rulebook = published_rulebooks(ctx.store).get(rulebook_id)
        if rulebook is None or not any(d.id == list_id for d in rulebook.lists):
            raise NotFound("no such list under a published rulebook")
    members = [
        {"subject_id": r[0], "name": r[1], "kind": r[2], "since": r[3], "until": r[4],
         "records": orjson.loads(r[5])}
        for r in rows[:limit]
    ]  # fmt: skip
    more = len(rows) > limit
    return ListPage(
        rulebook_id, list_id, members, persons, members[-1]["subject_id"] if more else None
    )


def require_in_scope(ctx: Context, rulebook_id: str, list_id: str, actions: frozenset[str]) -> None:
    """A checker reads a list only when a measure resting on it (in the published rulebook)
    restricts or rewards one of its ``actions``: Forbidden otherwise (NotFound when no
    published rulebook has that list)."""
    from trustledger.app.errors import Forbidden
    from trustledger.app.profiles import _reach
    from trustledger.rulebook.publish import published_rulebooks

    rulebook = published_rulebooks(ctx.store).get(rulebook_id)
    if rulebook is None or not any(d.id == list_id for d in rulebook.lists):
        raise NotFound("no such list under a published rulebook")
    if not any(m.list == list_id and _reach(list(m.actions)) & actions for m in rulebook.measures):
        raise Forbidden("no measure on this list concerns the actions this key may check")
