"""Storing HJ 212 frames from NATS JetStream (``monitor consume``): the other half of
``monitor listen`` with ``TRUSTLEDGER_NATS_URL`` set (``app.receiving``).

A face checks the options with ``consume_plan``, builds a ``Consumer`` over its context,
``start``s it (connecting; refusals are ``TrustledgerError``s) and ``run``s it until its
stop event is set; then ``close``. The signals stay in the face. Judging after a batch is
``app.monitoring.judge``, the same judgement as ``monitor judge``, of the points whose
frames this consumer took since it last judged.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import BadInput, Unavailable
from trustledger.app.monitoring import judge, monitoring_store
from trustledger.app.receiving import jetstream_config

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.monitoring.jetstream import FrameConsumer

MAX_BATCH = 10_000


@dataclass(frozen=True)
class ConsumePlan:
    batch: int = 500
    judge_every_s: float | None = 60.0  # None: never judge (`monitor judge` does)
    until_idle: bool = False  # stop once nothing is pending or unacknowledged


def consume_plan(
    batch: int = 500, judge_every: float = 60.0, no_judge: bool = False, until_idle: bool = False
) -> ConsumePlan:
    """The consuming asked for, or BadInput naming what is wrong (nothing is opened)."""
    if not 1 <= batch <= MAX_BATCH:
        raise BadInput(f"--batch {batch}: must be from 1 to {MAX_BATCH}")
    if judge_every < 0:
        raise BadInput(f"--judge-every {judge_every:g}: seconds, 0 or more (0: after every batch)")
    return ConsumePlan(batch, None if no_judge else judge_every, until_idle)


@dataclass
class Consumer:
    """One consumer process's share of the durable JetStream consumer, storing into the
    context's store and judging, after its batches, the registered points they held."""

    ctx: Context
    plan: ConsumePlan
    _consumer: FrameConsumer | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        from trustledger.monitoring.jetstream import FrameConsumer

        config = jetstream_config(self.ctx)
        every = self.plan.judge_every_s
        self._consumer = FrameConsumer(
            config, monitoring_store(self.ctx), batch=self.plan.batch,
            judge=None if every is None else self._judge, judge_every_s=every or 0.0,
        )  # fmt: skip

    def _judge(self, mns: frozenset[str]) -> None:
        judge(self.ctx, points=mns)

    async def start(self) -> list[str]:
        """Connect (the stream made if missing); Unavailable when JetStream cannot be
        reached."""
        from trustledger.monitoring.jetstream import JetStreamError

        assert self._consumer is not None
        try:
            await self._consumer.connect()
        except JetStreamError as exc:
            raise Unavailable(str(exc)) from None
        config = self._consumer.config
        return [f"consuming JetStream stream {config.stream} as {config.consumer} "
                f"at {', '.join(config.servers)}"]  # fmt: skip

    async def run(self, stop: asyncio.Event) -> dict[str, Any]:
        """Store until ``stop`` is set (or, planned so, until idle); what was consumed."""
        from trustledger.monitoring.jetstream import JetStreamError

        assert self._consumer is not None
        try:
            tally = await self._consumer.run(stop, until_idle=self.plan.until_idle)
        except JetStreamError as exc:
            raise Unavailable(str(exc)) from None
        finally:
            await self._consumer.aclose()
        return tally.to_json()

    def summary(self) -> dict[str, Any]:
        assert self._consumer is not None
        return self._consumer.tally.to_json()

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
