"""What a compliance assessment found: the counts over one period, the rate and band, and
the record it became (the measuring itself is `trustledger.monitoring.compliance`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from trustledger.monitoring.store import Notice
from trustledger.rulebook.schema import ComplianceBand, ComplianceDef


@dataclass(frozen=True)
class Rate:
    """What the data says over one period: counts, and the rate when there is enough."""

    period_start: date
    period_end: date  # the last day of the period
    valid: int
    compliant: int
    expected: int
    by_pollutant: tuple[dict[str, Any], ...]
    packets: frozenset[str]

    @property
    def coverage(self) -> float:
        return 100.0 * self.valid / self.expected if self.expected else 0.0

    @property
    def rate(self) -> float:
        return 100.0 * self.compliant / self.valid if self.valid else 0.0

    def enough(self, compliance: ComplianceDef) -> bool:
        return self.valid >= compliance.min_valid_hours and self.coverage >= compliance.min_coverage


@dataclass
class Assessment:
    """One subject's assessment on one day: the rate, and the record it became, if any."""

    subject: str
    rulebook: str
    rate: Rate
    band: ComplianceBand | None = None
    indicator_points: float | None = None
    record: str | None = None
    outcome: str = "unrated"  # issued | duplicate | not_due | unrated | rejected
    detail: str = ""
    notices: list[Notice] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "rulebook": self.rulebook,
            "period": [self.rate.period_start.isoformat(), self.rate.period_end.isoformat()],
            "valid": self.rate.valid,
            "compliant": self.rate.compliant,
            "due": self.rate.expected,
            "rate_percent": round(self.rate.rate, 2) if self.band else None,
            "band": self.band.category if self.band else None,
            "indicator_points": None if self.indicator_points is None
            else round(self.indicator_points, 1),
            "outcome": self.outcome,
            "record": self.record,
            "detail": self.detail,
        }  # fmt: skip

    def summary(self) -> str:
        """One line for a person: the rate and what became of it."""
        if self.band is None:
            return f"{self.subject}: not rated — {self.detail}"
        what = {"issued": f"record {self.record}", "duplicate": f"already recorded ({self.record})",
                "not_due": self.detail}.get(self.outcome, f"refused: {self.detail}")  # fmt: skip
        return (
            f"{self.subject}: emissions compliance {self.rate.rate:.1f} % of "
            f"{self.rate.valid:,} valid means → {self.band.category} "
            f"({self.indicator_points:.0f} points); {what}"
        )
