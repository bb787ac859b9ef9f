"""Published lists, a page at a time: the organisations on a list on a day, most recently
listed first; persons withheld and only counted (principle 6)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson

from trustledger.app.errors import BadInput, NotFound

if TYPE_CHECKING:
    from trustledger.app.context import Context


@dataclass(frozen=True)
class ListPage:
    rulebook: str
    list_id: str
    on: str
    division: str
    members: list[dict[str, Any]]
    persons_withheld: int
    next: str | None

    def to_json(self) -> dict[str, Any]:
        return {"rulebook": self.rulebook, "list": self.list_id, "on": self.on,
                "division": self.division or None, "members": self.members,
                "persons_withheld": self.persons_withheld, "next": self.next}  # fmt: skip


# ``next`` of a page: the listing day's digits, then the subject id. Any cursor of this
# form is a place in the keyset order (the page starts after it), whether or not a page
# ever ended there
CURSOR_PATTERN = r"^[0-9]{8}[0-9A-Za-z_]{1,64}$"
_CURSOR = re.compile(CURSOR_PATTERN)


def _cursor(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    if not _CURSOR.match(text):
        raise BadInput("after: not the `next` of a previous page (8 digits of a day, an id)")
    day, subject = text[:8], text[8:]
    return f"{day[:4]}-{day[4:6]}-{day[6:]}", subject


_PERSONS: dict[tuple[object, ...], int] = {}


def list_page(
    ctx: Context,
    rulebook_id: str,
    list_id: str,
    *,
    on: date | None = None,
    division: str = "",
    after: str | None = None,
    limit: int = 100,
    state_version: tuple[object, ...] | None = None,
) -> ListPage:
    """Up to ``limit`` organisations on the list on day ``on`` (default today), most
    recently listed first, after the cursor ``after`` (a previous page's ``next``), only
    those registered in divisions starting with ``division``; NotFound when no published
    rulebook has that list. ``state_version`` as for ``trustledger.app.overview``."""
    from trustledger.evaluate.queries import list_members, list_persons, state_signature
    from trustledger.rulebook.publish import published_rulebooks

    if division and not (division.isdigit() and len(division) <= 6):
        raise BadInput("division: a division code prefix of up to 6 digits")
    day = (on or ctx.today()).isoformat()
    rows = list_members(ctx.store, rulebook_id, list_id, on=day, division=division,
                        after=_cursor(after), limit=limit + 1)  # fmt: skip
    # counting the persons reads the whole list: once per state and day
    version = state_signature(ctx.store) if state_version is None else state_version
    key = (id(ctx.store), *version, rulebook_id, list_id, day)
    persons = _PERSONS.get(key)
    if persons is None:
        persons = list_persons(ctx.store, rulebook_id, list_id, day)
        if len(_PERSONS) > 256:
            _PERSONS.clear()
        _PERSONS[key] = persons
    if not rows and not persons:
        rulebook = published_rulebooks(ctx.store).get(rulebook_id)
        if rulebook is None or not any(d.id == list_id for d in rulebook.lists):
            raise NotFound("no such list under a published rulebook")
    members = [
        {"subject_id": r[0], "name": r[1], "kind": r[2], "since": r[3], "until": r[4],
         "records": orjson.loads(r[5]), "effective_from": r[6], "division": r[7]}
        for r in rows[:limit]
    ]  # fmt: skip
    more = len(rows) > limit
    last = members[-1] if more else None
    cursor = None if last is None else last["effective_from"].replace("-", "") + last["subject_id"]
    return ListPage(rulebook_id, list_id, day, division, members, persons, cursor)


@dataclass(frozen=True)
class PublishedList:
    rulebook: str  # id (unversioned: the URL's)
    version: str
    rulebook_title: str
    list_id: str
    kind: str  # red or black
    title: str
    condition: str
    members: int  # organisations on it on the day


def whole_list(
    ctx: Context, rulebook_id: str, list_id: str, *, on: date | None = None, division: str = ""
) -> tuple[str, list[dict[str, Any]]]:
    """Every organisation on the list on ``on`` (the day shown, and the members in page
    order): what a download holds. NotFound and BadInput as ``list_page``."""
    members: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = list_page(ctx, rulebook_id, list_id, on=on, division=division, after=after,
                         limit=5000)  # fmt: skip
        members += page.members
        if page.next is None:
            return page.on, members
        after = page.next


_SIZES: dict[tuple[object, ...], dict[tuple[str, str], int]] = {}


def published_lists(
    ctx: Context, on: date | None = None, *, state_version: tuple[object, ...] | None = None
) -> list[PublishedList]:
    """Every list of every published rulebook, with how many organisations are on it on
    ``on`` (default today); ``state_version`` as for ``trustledger.app.overview``."""
    from trustledger.evaluate.queries import list_sizes, state_signature
    from trustledger.rulebook.publish import published_rulebooks

    day = (on or ctx.today()).isoformat()
    # counting every list scans the state: once per state and day
    version = state_signature(ctx.store) if state_version is None else state_version
    key = (id(ctx.store), *version, day)
    sizes = _SIZES.get(key)
    if sizes is None:
        sizes = {(rb.split("@")[0], lid): n for rb, lid, _, n in list_sizes(ctx.store, day)}
        if len(_SIZES) > 64:
            _SIZES.clear()
        _SIZES[key] = sizes
    out = []
    for rulebook_id, rb in sorted(published_rulebooks(ctx.store).items()):
        for d in rb.lists:
            members = sizes.get((rulebook_id, d.id), 0)
            out.append(PublishedList(rulebook_id, str(rb.version), rb.title, d.id, d.kind,
                                     d.title, d.when.text, members))  # fmt: skip
    return out


def described_list(
    ctx: Context, rulebook_id: str, list_id: str, *, state_version: tuple[object, ...] | None = None
) -> PublishedList:
    """One published list with its size today; NotFound when no published rulebook has it."""
    for described in published_lists(ctx, state_version=state_version):
        if described.rulebook == rulebook_id and described.list_id == list_id:
            return described
    raise NotFound("no such list under a published rulebook")


@dataclass(frozen=True)
class Listing:
    rulebook: str
    list_id: str
    kind: str
    subject_id: str
    name: str
    effective_from: str
    until: str | None
    title: str  # the list's


def latest_listings(ctx: Context, limit: int = 10) -> list[Listing]:
    """The organisations most recently put on any list (effective today), newest first."""
    from trustledger.evaluate.queries import latest_listings as query
    from trustledger.rulebook.publish import published_rulebooks

    titles = {(rid, d.id): d.title for rid, rb in published_rulebooks(ctx.store).items()
              for d in rb.lists}  # fmt: skip
    out = []
    for rb, lid, kind, sid, name, since, until in query(ctx.store, ctx.today().isoformat(), limit):
        rulebook = rb.split("@")[0]
        out.append(Listing(rulebook, lid, kind, sid, name, since, until,
                           titles.get((rulebook, lid), lid)))  # fmt: skip
    return out


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
