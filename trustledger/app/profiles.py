"""One subject's profile under each published rulebook: records, standing, lists, measures
and an explanation, as known at an instant and judged on a day."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trustledger.app.checks import record_local, resolve_subject
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
    ctx: Context, subject: str, when: When, *, rulebook_id: str | None = None, log: bool = True
) -> SubjectProfiles:
    """The subject's profiles; NotFound for an unknown subject or rulebook. A read of a
    person's file is written to the access log as a local read (``log`` False: the caller
    logs it, as the API does with its principal)."""
    from trustledger.evaluate.service import UnknownRulebook, UnknownSubject, subject_profiles

    subject_id = resolve_subject(ctx, subject)
    if log and subject_id.startswith("P"):
        record_local(ctx, "profile.read", subject_id, {"rulebook": rulebook_id})
    try:
        found = subject_profiles(ctx.store, ctx.catalogue, subject_id, at_us=when.at_us,
                                 on=when.on, rulebook_id=rulebook_id)  # fmt: skip
    except (UnknownSubject, UnknownRulebook) as exc:
        raise NotFound(str(exc)) from None
    return SubjectProfiles(subject_id, when, found)


# --- views: what each principal may see of a profile (trustledger.app.access.file_view) --
_IN_FORCE = "in force"  # trustledger.evaluate.inforce.Standing.IN_FORCE


def _reach(actions: list[str]) -> set[str]:
    """The actions a measure on ``actions`` reaches (an action reaches those within it)."""
    from trustledger.sanctions.actions import load_actions

    narrower = load_actions().narrower
    return {a for action in actions for a in (action, *narrower.get(action, ()))}


def _effective(membership: dict[str, Any], on: str) -> bool:
    since = membership.get("effective_from")
    return since is not None and on >= since


def scoped(profile: dict[str, Any], actions: frozenset[str]) -> dict[str, Any]:
    """A profile as a checker scoped to ``actions`` may see it: the measures that touch
    those actions, the lists they rest on and the records behind those lists; no score,
    grade, explanation, other lists or measures, and no persons the measures reach."""
    measures = [{**m, "extends_to": {}} for m in profile["measures"]
                if _reach(m["actions"]) & actions]  # fmt: skip
    lists = {m["list_id"] for m in measures}
    memberships = [m for m in profile["lists"] if m["list_id"] in lists]
    records = {r for m in memberships for r in m["records"]}
    history = [h for h in profile.get("history", []) if h["list_id"] in lists]
    measure_history = [{**m, "extends_to": {}} for m in profile.get("measure_history", [])
                       if _reach(m["actions"]) & actions]  # fmt: skip
    return {**profile, "records": [r for r in profile["records"] if r["record_id"] in records],
            "score": None, "grade": None, "lists": memberships, "measures": measures,
            "explanation": [], "history": history, "measure_history": measure_history}  # fmt: skip


def public(profile: dict[str, Any]) -> dict[str, Any]:
    """A profile as the public may see it — the same on the portal, in a credit report and
    over the API: the records published that day (in force; a record repaired, revoked,
    ended or past its publicity period is no longer published, principles 4 and 5), the
    effective (not pending) list memberships, the measures resting on them (without the
    persons they reach), the score and the grade; no explanation (it may quote what the
    public does not see)."""
    on = profile["on"]
    lists = [m for m in profile["lists"] if _effective(m, on)]
    effective = {m["list_id"] for m in lists}
    measures = [{**m, "extends_to": {}} for m in profile["measures"] if m["list_id"] in effective]
    return {**profile,
            "records": [r for r in profile["records"] if r["standing"] == _IN_FORCE],
            "lists": lists, "measures": measures, "explanation": [], "history": [],
            "measure_history": []}  # fmt: skip


def view_of(
    found: SubjectProfiles, view: str, actions: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """The profiles as JSON in ``view`` (``full``, ``scoped`` to ``actions``, ``public``)."""
    out = [p.to_json() for p in found.profiles]
    if view == "scoped":
        return [scoped(p, actions) for p in out]
    if view == "public":
        return [public(p) for p in out]
    return out
