"""One subject's profile under each published rulebook: records, standing, lists, measures
and an explanation, as known at an instant and judged on a day."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trustledger.app.checks import resolve_subject
from trustledger.app.errors import NotFound
from trustledger.app.time import When

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.evaluate.profile import Profile


@dataclass(frozen=True)
class SubjectProfiles:
    subject_id: str
    when: When
    profiles: list[Profile]

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject_id, **self.when.to_json(),
                "profiles": [p.to_json() for p in self.profiles]}  # fmt: skip


def profile(
    ctx: Context, subject: str, when: When, *, rulebook_id: str | None = None
) -> SubjectProfiles:
    from trustledger.evaluate.service import UnknownRulebook, UnknownSubject, subject_profiles

    subject_id = resolve_subject(ctx, subject)
    try:
        found = subject_profiles(ctx.store, ctx.catalogue, subject_id, at_us=when.at_us,
                                 on=when.on, rulebook_id=rulebook_id)  # fmt: skip
    except (UnknownSubject, UnknownRulebook) as exc:
        raise NotFound(str(exc)) from None
    return SubjectProfiles(subject_id, when, found)
