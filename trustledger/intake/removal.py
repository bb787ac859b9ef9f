"""Which reasons may end a record: the removal triggers of the published rulebooks.

A list's `removal_triggers` (docs/rulebooks.md) name the decisions that end a listing
resting on its categories (SPC Fashi [2013] No. 17 as revised, art. 10: full performance,
a performed settlement, the creditor's request, the end of the case). An `end` of a record
in such a category that gives another reason is refused: the list could not say why the
subject left it, nor when the entry must be deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from trustledger.intake.validate import Reject
from trustledger.ledger.store import Store
from trustledger.rulebook.publish import regime_versions, version_on
from trustledger.rulebook.schema import RemovalTriggers, Rulebook

__all__ = ["EndReasonNotListed", "RemovalRules", "removal_rules"]


class EndReasonNotListed(Reject):
    """An `end` whose reason the rulebook governing the record's category does not list."""


@dataclass(frozen=True)
class RemovalRules:
    """Each published regime's versions, for the ones with removal triggers."""

    regimes: dict[str, list[Rulebook]]

    def check(self, category: str, reason: str, effective: date) -> None:
        """Raise `EndReasonNotListed` unless every regime whose version in force on
        ``effective`` gives ``category`` removal triggers lists ``reason`` among them."""
        for versions in self.regimes.values():
            rulebook = version_on(versions, effective)
            for spec in rulebook.lists:
                triggers: RemovalTriggers | None = spec.removal_triggers
                if triggers is None or category not in triggers.categories:
                    continue
                if reason not in triggers.reasons:
                    basis = "; ".join(str(b) for b in triggers.legal_basis) or "no basis cited"
                    raise EndReasonNotListed(
                        f"reason: {reason!r} is not a removal trigger of category {category} "
                        f"under rulebook {rulebook.id}@{rulebook.version}, list {spec.id} "
                        f"(its triggers: {', '.join(triggers.reasons)}; {basis})"
                    )


def removal_rules(store: Store) -> RemovalRules:
    """The removal rules of the rulebooks published in ``store`` now."""
    regimes = {
        rid: versions
        for rid, versions in regime_versions(store).items()
        if any(spec.removal_triggers is not None for v in versions for spec in v.lists)
    }
    return RemovalRules(regimes)
