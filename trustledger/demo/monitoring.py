"""Synthetic HJ 212 traffic for the demo and the benchmarks: coal-fired plants sending
minute data (CN 2051, 2017 dialect) — one that breaks the ultra-low SO₂ limit for some
hours, one whose NOx analyser sticks, one that behaves."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from trustledger.demo import queries
from trustledger.domain import AuthorityType, SubjectKind
from trustledger.intake import Intake
from trustledger.ledger.store import Store
from trustledger.monitoring.codec import build_data
from trustledger.monitoring.points import judge_all, register_point
from trustledger.monitoring.receiver import replay_file
from trustledger.monitoring.store import MonitoringStore

# (hour, minute) → (value, flag)
Profile = Callable[[int, int], tuple[float, str]]


@dataclass(frozen=True)
class Plant:
    mn: str
    so2: Profile
    nox: Profile
    dust: Profile
    o2: Profile  # % measured; the ultra-low limits apply at 6 %


def _wave(base: float, spread: float, seed: int) -> Profile:
    rng = random.Random(seed)
    noise = [rng.uniform(-spread, spread) for _ in range(24 * 60)]

    def value(h: int, m: int) -> tuple[float, str]:
        daily = math.sin((h * 60 + m) / (24 * 60) * 2 * math.pi) * spread
        return round(max(0.0, base + daily + noise[(h * 60 + m) % len(noise)]), 2), "N"

    return value


def exceeding_plant(mn: str, hours: range) -> Plant:
    """SO₂ measured around 36 mg/m³ (≈ 41 at 6 % O₂) in ``hours``, else around 20."""
    normal = _wave(20.0, 3.0, 1)

    def so2(h: int, m: int) -> tuple[float, str]:
        if h in hours:
            return round(36.0 + (m % 7) * 0.3, 2), "N"
        return normal(h, m)

    return Plant(mn, so2, _wave(32.0, 4.0, 2), _wave(4.0, 0.8, 3), _wave(8.0, 0.3, 9))


def stuck_plant(mn: str, stuck: range = range(6, 18)) -> Plant:
    """A NOx analyser that sticks at 80 mg/m³ (≈ 92 at 6 % O₂, above the limit of 50) in
    ``stuck`` and reads normally around it: a notice naming the hours it removed, never a
    record; the plant is rated on its other valid hours."""
    normal = _wave(30.0, 4.0, 12)

    def nox(h: int, m: int) -> tuple[float, str]:
        return (80.0, "N") if h in stuck else normal(h, m)

    return Plant(mn, _wave(18.0, 3.0, 4), nox, _wave(3.5, 0.6, 5), _wave(8.0, 0.3, 10))


def clean_plant(mn: str) -> Plant:
    return Plant(
        mn, _wave(15.0, 2.5, 6), _wave(28.0, 4.0, 7), _wave(3.0, 0.5, 8), _wave(8.0, 0.3, 11)
    )


def frames(plant: Plant, start: datetime, hours: int) -> Iterator[bytes]:
    """One minute packet per minute from ``start`` (device-local time), asking for an
    acknowledgement (Flag=5) as 2017 loggers do."""
    for h in range(hours):
        for m in range(60):
            so2, so2_flag = plant.so2(h, m)
            nox, nox_flag = plant.nox(h, m)
            dust, dust_flag = plant.dust(h, m)
            o2, o2_flag = plant.o2(h, m)
            yield build_data(
                plant.mn,
                "2051",
                start + timedelta(hours=h, minutes=m),
                {
                    "a21026": {"Avg": so2, "Flag": so2_flag},
                    "a21002": {"Avg": nox, "Flag": nox_flag},
                    "a34013": {"Avg": dust, "Flag": dust_flag},
                    "a19001": {"Avg": o2, "Flag": o2_flag},
                },
                flag=5,
            )


def write_capture(path: Path, plants: list[Plant], start: datetime, hours: int) -> int:
    """A capture file of the plants' traffic, interleaved as a receiver would see it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    streams = [frames(p, start, hours) for p in plants]
    count = 0
    with path.open("wb") as f:
        for packets in zip(*streams, strict=True):
            for packet in packets:
                f.write(packet)
                count += 1
    return count


@dataclass
class MonitoringDemo:
    points: list[tuple[str, str, str]]  # (mn, subject, what it shows)
    packets: int
    stored: int
    records: list[str]
    notices: int
    ratings: list[str]  # each plant's compliance assessment, in one line


def run_monitoring_demo(
    store: Store, intake: Intake, directory: Path, *, now: datetime, now_us: int
) -> MonitoringDemo | None:
    """Register three plants of the demo's enterprises, replay yesterday's traffic
    through the receiver's path and judge it. None when the demo has no monitoring
    authority or no enterprises."""
    monitor = queries.first_authority(store, AuthorityType.MONITORING.value)
    firms = queries.first_subjects(store, SubjectKind.ENTERPRISE.value, 3)
    if monitor is None or len(firms) < 3:
        return None
    mstore = MonitoringStore(store)
    plants = [
        (exceeding_plant("DEMO0000000000000001", range(9, 15)), "SO₂ above the limit 6 hours"),
        (stuck_plant("DEMO0000000000000002"), "a stuck NOx analyser"),
        (clean_plant("DEMO0000000000000003"), "within its limits"),
    ]
    for (plant, _), firm in zip(plants, firms, strict=True):
        register_point(
            store, mstore, mn=plant.mn, subject=firm, outlet="boiler 1 stack",
            authority=monitor, rulebook_id="cn-environmental-credit",
            limit_set="ultra-low-coal-power", now_us=now_us,
        )  # fmt: skip
    yesterday = datetime.combine((now - timedelta(days=1)).date(), datetime.min.time())
    capture = directory / "monitoring" / "plants.h212"
    write_capture(capture, [p for p, _ in plants], yesterday, 24)
    tally = replay_file(mstore, capture)
    outcomes = judge_all(store, mstore, intake, today=now.date(), now_us=now_us)
    return MonitoringDemo(
        [(p.mn, firm, what) for (p, what), firm in zip(plants, firms, strict=True)],
        tally.packets,
        tally.accepted,
        [r for o in outcomes for r in o.records],
        sum(o.notices for o in outcomes),
        [a.summary() for o in outcomes for a in o.assessments],
    )
