"""Batch evaluation and comparison of rulebooks, for the faces.

The live state is the evaluation known now; an evaluation known at another instant goes
to a named what-if output and never changes a live answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import BadInput, NotFound
from trustledger.app.time import When

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.evaluate.compare import Comparison
    from trustledger.evaluate.state import Summary


@dataclass(frozen=True)
class Evaluation:
    when: When
    summaries: list[Summary]
    what_if: Path | None

    def to_json(self) -> dict[str, Any]:
        return {**self.when.to_json(), "what_if": str(self.what_if) if self.what_if else None,
                "rulebooks": [asdict(s) for s in self.summaries]}  # fmt: skip


def evaluate(
    ctx: Context,
    when: When,
    *,
    engine: str = "duckdb",
    rulebook_id: str | None = None,
    what_if: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    notice: Callable[[str], None] | None = None,
    spark_master: str | None = None,
) -> Evaluation:
    """``spark_master`` (engine "spark" only; default the setting TRUSTLEDGER_SPARK_MASTER):
    the Spark master URL the evaluation runs on."""
    from trustledger.evaluate.state import evaluate_all

    if not when.live and what_if is None:
        raise BadInput(
            "an evaluation known at another instant than now is a what-if: name an output "
            "file for it (--what-if PATH); the live state is always the evaluation known now"
        )
    if engine == "postgres" and not ctx.store.url.startswith(("postgresql://", "postgres://")):
        raise BadInput("--engine postgres needs a PostgreSQL store (--db postgresql://…)")
    if spark_master is not None and engine != "spark":
        raise BadInput(f"--master {spark_master} is for --engine spark only")
    if engine == "spark" and spark_master is None:
        spark_master = ctx.settings.spark_master
    try:
        summaries = evaluate_all(ctx.store, ctx.catalogue, at_us=when.at_us, on=when.on,
                                 engine=engine, rulebook_id=rulebook_id,  # type: ignore[arg-type]
                                 progress=progress, what_if=what_if, notice=notice,
                                 spark_master=spark_master)  # fmt: skip
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    return Evaluation(when, summaries, what_if)


@dataclass(frozen=True)
class Compared:
    when: When
    comparison: Comparison

    def to_json(self) -> dict[str, Any]:
        return {**self.when.to_json(), **asdict(self.comparison)}


def compare(ctx: Context, rulebook_ids: Sequence[str], when: When) -> Compared:
    from trustledger.evaluate.compare import UnknownRulebooks
    from trustledger.evaluate.compare import compare as run

    try:
        found = run(ctx.store, ctx.catalogue, list(rulebook_ids), at_us=when.at_us, on=when.on)
    except UnknownRulebooks as exc:
        raise NotFound(str(exc)) from None
    return Compared(when, found)
