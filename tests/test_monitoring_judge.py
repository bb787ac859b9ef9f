"""A synthetic plant end to end: stored minute packets → hourly means → episodes → one
pending record with evidence; invalid hours and broken sensors never make a record.
On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from builders import FIRM, FIRM2, TAX, authorities, uscc
from typer.testing import CliRunner

from trustledger.catalogue import national_catalogue
from trustledger.cli import app
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.store import Store, open_store
from trustledger.monitoring.codec import build_data, parse
from trustledger.monitoring.judge import local_epoch
from trustledger.monitoring.points import PointError, judge_all, point_view, register_point
from trustledger.monitoring.receiver import now_us
from trustledger.monitoring.store import MonitoringStore, Received
from trustledger.rulebook.publish import publish_rulebook

KEYER = PersonKeyer(bytes(range(32)))
TODAY = date.today()
MONITOR = uscc("11", "440305", "00000046")
MN = "PLANT0000000001"
RULEBOOK = (
    Path(__file__).parent.parent
    / "trustledger"
    / "rulebooks_shipped"
    / "cn-environmental-credit.yaml"
)
START = datetime.combine(TODAY - timedelta(days=1), datetime.min.time())  # local midnight

Minute = Callable[[int, int], tuple[float, str]]  # (hour, minute) → (SO₂, flag)


@pytest.fixture
def plant(db_url: str) -> tuple[Store, MonitoringStore, Intake]:
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    intake = Intake(store, national_catalogue(), KEYER, today=TODAY)
    lines = [*authorities(),
             {"op": "authority", "id": MONITOR, "name": "深圳市生态环境监测站",
              "authority_type": "monitoring"},
             {"op": "subject", "subject": FIRM, "name": "深圳市华韵热电有限公司"}]  # fmt: skip
    assert all(r.outcome == "accepted" for r in intake.submit_many(lines))
    publish_rulebook(store, RULEBOOK, national_catalogue())
    mstore = MonitoringStore(store)
    register_point(store, mstore, mn=MN, subject=FIRM, outlet="boiler 1 stack",
                   authority=MONITOR, rulebook_id="cn-environmental-credit",
                   limit_set="ultra-low-coal-power", now_us=now_us())  # fmt: skip
    return store, mstore, intake


# A real O₂ reading is never constant: a perfectly constant one is a stuck analyser, whose
# minutes are excluded from judging. The wiggle is exact in binary and averages to zero
# over every hour (60 minutes, 15 cycles), so each hour's mean O₂ stays exactly as given.
WIGGLE = (0.0, 0.25, 0.0, -0.25)


def wiggle(minute: int) -> float:
    return WIGGLE[minute % len(WIGGLE)]


def send(
    mstore: MonitoringStore, minute: Minute, hours: int = 8, o2: float = 9.0, mn: str = MN
) -> None:
    """Minute data (CN 2051) as a logger sends it, each received as its minute ends;
    O₂ around 9 % (exactly 9 each hour) converts ×15/12 at 6 %."""
    items = []
    for h in range(hours):
        for m in range(60):
            so2, flag = minute(h, m)
            moment = START + timedelta(hours=h, minutes=m)
            received = (local_epoch(moment.isoformat()) + 60) * 1_000_000
            frame = build_data(
                mn, "2051", moment,
                {"a21026": {"Avg": so2, "Flag": flag},
                 "a19001": {"Avg": o2 + wiggle(m), "Flag": "N"},
                 "a34013": {"Avg": 3.0 + (m % 7) * 0.1, "Flag": "N"}},
            )  # fmt: skip
            items.append(Received(parse(frame), received, "test"))
    mstore.save(items)


def exceeding(flag_in_episode: str = "N", hours: range = range(2, 7)) -> Minute:
    # 32 mg/m³ measured is 40 at 6 % O₂ (above 35); 20 measured is 25 (below)
    def minute(h: int, m: int) -> tuple[float, str]:
        if h in hours:
            return 32.0 + (m % 5) * 0.2, flag_in_episode
        return 20.0 + (m % 3) * 0.5, "N"

    return minute


def test_five_valid_exceedance_hours_make_one_pending_record_with_evidence(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    store, mstore, intake = plant
    send(mstore, exceeding())
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert outcome.hours_judged >= 8 and outcome.episodes == 1
    (record_id,) = outcome.records
    record = store.get_row("records", record_id)
    assert record.category == "ENV-EXCEEDANCE-AUTOMATED" and record.authority_id == MONITOR
    assert record.subject_id == FIRM and record.confirmation == "pending"
    assert "SO2 above 35 mg/m³" in record.title and "5 valid hours" in record.title
    (episode,) = mstore.episodes(MN)
    evidence = json.loads(episode[9])
    assert evidence["limit_set"] == "ultra-low-coal-power" and evidence["limit_mg_m3"] == "35"
    assert [v[0][11:] for v in evidence["values"]] == ["02:00", "03:00", "04:00", "05:00", "06:00"]
    assert all(40.0 <= float(v[1]) <= 42.0 for v in evidence["values"])  # converted to 6 % O₂
    assert len(evidence["packets"]) == 5 * 60  # the minute packets behind those hours
    assert record.evidence_digest.startswith("sha256:")
    # a replay of the same traffic and judging again issue nothing twice
    send(mstore, exceeding())
    (again,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert again.records == [] and again.duplicates == [record_id]


@pytest.mark.parametrize("flag", ["M", "D"])
def test_the_same_hours_flagged_invalid_make_no_record(
    plant: tuple[Store, MonitoringStore, Intake], flag: str
) -> None:
    store, mstore, intake = plant
    send(mstore, exceeding(flag_in_episode=flag))
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert outcome.records == [] and outcome.episodes == 0
    kinds = {n.kind for n in mstore.notices(MN)}
    assert "invalid_run" in kinds  # the operator hears of the gap in valid data


def test_four_hours_stay_below_the_threshold(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    store, mstore, intake = plant
    send(mstore, exceeding(hours=range(2, 6)))
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert outcome.episodes == 1 and outcome.records == []
    (episode,) = mstore.episodes(MN)
    assert episode[7] == 4 and episode[10] is None


def test_a_stuck_sensor_gets_a_notice_not_a_record(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    store, mstore, intake = plant
    send(mstore, lambda h, m: (12.5, "N"))
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert outcome.records == []
    flat = [n for n in mstore.notices(MN) if n.kind == "flatline" and n.pollutant == "a21026"]
    assert flat and "stuck at 12.50" in flat[0].detail


def test_a_device_clock_far_off_is_flagged_and_not_trusted(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    store, mstore, intake = plant
    items = [
        Received(parse(build_data(MN, "2051", datetime(2000, 2, 2, h, m),
                                  {"a21026": {"Avg": 90.0, "Flag": "N"},
                                   "a19001": {"Avg": 6.0, "Flag": "N"}})), now_us(), "test")
        for h in range(8) for m in range(60)
    ]  # fmt: skip
    mstore.save(items)
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert outcome.records == [] and outcome.hours_judged == 0
    assert any(n.kind == "clock_skew" for n in mstore.notices(MN))


def test_confirming_makes_the_record_count(
    plant: tuple[Store, MonitoringStore, Intake], db_url: str
) -> None:
    store, mstore, intake = plant
    send(mstore, exceeding())
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    (record_id,) = outcome.records
    # the database's own person key, whatever the working directory holds
    runner = CliRunner(env={"TRUSTLEDGER_PERSON_KEY": bytes(range(32)).hex()})
    # a free-text name is no principal: only a reviewer key's holder confirms
    named = runner.invoke(
        app, ["monitor", "confirm", record_id, "--reviewer", "王敏", "--db", db_url]
    )
    assert named.exit_code == 2 and "no principal 王敏" in named.output
    from trustledger.access import authenticate, create_key

    checker = authenticate(store, create_key(store, "checker", "窗口", ["air_travel"]))
    key = create_key(store, "reviewer", "王敏（信用中心复核）", authority=TAX)
    reviewer = authenticate(store, key)
    assert reviewer is not None and checker is not None
    refused = runner.invoke(
        app, ["monitor", "confirm", record_id, "--reviewer", checker.id, "--db", db_url]
    )
    assert refused.exit_code == 2 and "only a reviewer confirms" in refused.output
    result = runner.invoke(
        app, ["monitor", "confirm", record_id, "--reviewer", reviewer.id, "--db", db_url]
    )
    assert result.exit_code == 0, result.output
    confirmed = open_store(db_url).get_row("records", record_id)
    assert confirmed.confirmation == "confirmed"
    # the ledger names the principal that confirmed
    entry = [e for e in store.iter_entries() if e.kind == "record.confirmed"][-1]
    assert reviewer.id in entry.payload_obj()["reason"]
    again = runner.invoke(app, ["monitor", "confirm", record_id, "--reviewer", reviewer.id,
                                "--db", db_url])  # fmt: skip
    assert again.exit_code == 0 and "already confirmed" in again.output


def test_views_and_unregistered_points(plant: tuple[Store, MonitoringStore, Intake]) -> None:
    store, mstore, intake = plant
    send(mstore, exceeding())
    judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    view = point_view(store, mstore, MN)
    so2 = view["pollutants"]["a21026"]
    assert so2["limit"] == 35 and len(so2["hours"]) == 8
    assert [h["valid"] for h in so2["hours"]] == [True] * 8
    assert view["episodes"][0]["hours"] == 5 and view["episodes"][0]["record"]
    other = build_data("STRANGER01", "2051", START, {"a21026": {"Avg": 999.0, "Flag": "N"}})
    mstore.save([Received(parse(other), now_us(), "test")])
    assert mstore.unregistered() == [("STRANGER01", 1)]
    assert len(judge_all(store, mstore, intake, today=TODAY, now_us=now_us())) == 1


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"mn": "bad mn!"}, "mn: 'bad mn!' is not a monitoring point id"),
        ({"subject": uscc("91", "440305", "MA5DA0D9")}, "is not registered in the ledger"),
        ({"authority": uscc("11", "440305", "00000001")}, "is not a registered monitoring"),
        ({"limit_set": "nope"}, "limit_set: 'nope' is not in cn-environmental-credit"),
        ({"rulebook_id": "cn-spc-dishonest-debtors"}, "is not published"),
        ({"pollutants": ["zz999"]}, "pollutants: unknown code(s) zz999"),
        ({"outlet": " "}, "outlet: missing"),
        ({"flow_unit": "gallons"}, "flow_unit: 'gallons' is not one of"),
    ],
)
def test_registration_rejects(
    plant: tuple[Store, MonitoringStore, Intake], changes: dict[str, object], reason: str
) -> None:
    store, mstore, _ = plant
    args: dict[str, object] = {
        "mn": "P2", "subject": FIRM, "outlet": "stack 2", "authority": MONITOR,
        "rulebook_id": "cn-environmental-credit", "limit_set": "ultra-low-coal-power",
        **changes,
    }  # fmt: skip
    with pytest.raises(PointError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        register_point(store, mstore, now_us=now_us(), **args)  # type: ignore[arg-type]
    assert [p.mn for p in mstore.points()] == [MN]


def test_local_times_are_china_standard_time() -> None:
    assert local_epoch("2026-01-01T08:00:00") == 1767225600


def test_the_api_views(plant: tuple[Store, MonitoringStore, Intake], db_url: str,
                       tmp_path: Path) -> None:  # fmt: skip
    from fastapi.testclient import TestClient

    from trustledger.access.keys import create_key
    from trustledger.api import create_app
    from trustledger.settings import Settings

    store, mstore, intake = plant
    send(mstore, exceeding())
    judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    key_file = tmp_path / "person.key"
    key_file.write_text(bytes(range(32)).hex() + "\n")
    # monitoring is read by operators, reviewers and the subject itself (not checkers)
    key = create_key(store, "operator", "生态环境部门")
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(Settings(db_url=db_url, person_key_file=key_file))) as c:
        assert c.get(f"/v1/monitoring/points/{MN}").status_code == 401
        view = c.get(f"/v1/monitoring/points/{MN}", headers=auth).json()
        assert view["subject"] == FIRM and view["pollutants"]["a21026"]["limit"] == 35
        (episode,) = view["episodes"]
        assert episode["hours"] == 5 and episode["record"].startswith("R")
        assert c.get("/v1/monitoring/points/NOPE", headers=auth).status_code == 404
        assert c.get(f"/v1/monitoring/points/{MN}?days=99", headers=auth).status_code == 422
        points = c.get(f"/v1/subjects/{FIRM}/monitoring-points", headers=auth).json()
        assert [p["mn"] for p in points["points"]] == [MN]
        stranger = uscc("91", "440305", "MA5DA0D9")
        assert c.get(f"/v1/subjects/{stranger}/monitoring-points", headers=auth).status_code == 404


def test_an_incinerator_is_judged_on_daily_means(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    """Daily averaging (waste incineration): days with ≥ 20 valid hours above the daily
    limit form the episode; the threshold counts days."""
    store, mstore, intake = plant
    register_point(store, mstore, mn="INCIN01", subject=FIRM, outlet="furnace 1",
                   authority=MONITOR, rulebook_id="cn-environmental-credit",
                   limit_set="gb18485-2014-incineration", now_us=now_us())  # fmt: skip
    start = datetime.combine(TODAY - timedelta(days=6), datetime.min.time())
    received = now_us()
    items = []
    for minute in range(6 * 24 * 60):
        day = minute // 1440
        # SO₂ 60 measured at 13.5 % O₂ is 60 × 10 / 7.5 = 80 at 11 %: day 0 exactly at the
        # limit (not above); days 1-5 at 66 measured = 88 converted (above). Both wiggle as
        # real readings do, by amounts exact in binary that average out each hour, so the
        # means stay exactly these.
        so2 = 60.0 if day == 0 else 66.0
        frame = build_data("INCIN01", "2051", start + timedelta(minutes=minute),
                           {"a21026": {"Avg": so2 + 2 * wiggle(minute), "Flag": "N"},
                            "a19001": {"Avg": 13.5 + wiggle(minute), "Flag": "N"}})  # fmt: skip
        items.append(Received(parse(frame), received, "test"))
    mstore.save(items)
    outcomes = {o.mn: o for o in judge_all(store, mstore, intake, today=TODAY, now_us=now_us())}
    (record_id,) = outcomes["INCIN01"].records
    assert "for 5 valid days" in store.get_row("records", record_id).title
    (episode,) = mstore.episodes("INCIN01")
    assert episode[7] == 5 and episode[3] == "gb18485-2014-incineration"


def test_real_time_data_is_rolled_up_to_minutes(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    """A point that sends only real-time data (CN 2011, every 30 s) is judged on minutes
    rolled up from it; the evidence names every real-time packet behind the hours."""
    store, mstore, intake = plant
    minute = exceeding()
    received = now_us()
    items = []
    for h in range(8):
        for m in range(60):
            so2, flag = minute(h, m)
            for second in (0, 30):
                frame = build_data(MN, "2011", START + timedelta(hours=h, minutes=m,
                                                                 seconds=second),
                                   {"a21026": {"Rtd": so2, "Flag": flag},
                                    "a19001": {"Rtd": 9.0 + wiggle(m), "Flag": "N"}})  # fmt: skip
                items.append(Received(parse(frame), received, "test"))
    mstore.save(items)
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert len(outcome.records) == 1
    (episode,) = mstore.episodes(MN)
    assert episode[7] == 5 and len(json.loads(episode[9])["packets"]) == 5 * 60 * 2


def test_a_stopped_source_in_the_2005_dialect_is_no_fault_and_no_record(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    from trustledger.monitoring.codec import Dialect

    store, mstore, intake = plant
    received = now_us()
    items = [
        Received(parse(build_data(MN, "2051", START + timedelta(minutes=n),
                                  {"a21026": {"Avg": 0.0, "Flag": "F"},
                                   "a19001": {"Avg": 20.9, "Flag": "F"}},
                                  dialect=Dialect.hj212_2005)), received, "test")
        for n in range(6 * 60)
    ]  # fmt: skip
    mstore.save(items)
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert outcome.records == [] and outcome.hours_judged == 0
    assert [n for n in mstore.notices(MN) if n.kind in ("flatline", "invalid_run")] == []


def test_a_judging_window_never_splits_an_exceedance_into_two_records(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    """Each run looks back a window; an episode running at the window's start continues
    the stored one, keeping its key, its earlier hours and their packets."""
    from trustledger.monitoring.judge import judge_point
    from trustledger.rulebook.publish import published_rulebooks

    store, mstore, intake = plant
    send(mstore, exceeding(hours=range(1, 10)), hours=12)
    rulebook = published_rulebooks(store)["cn-environmental-credit"]
    (point,) = mstore.points()
    first = judge_point(mstore, intake, point, rulebook, today=TODAY, now_us=now_us(),
                        window_start=START)  # fmt: skip
    (record_id,) = first.records
    # a later run whose window starts in the middle of the exceedance (hour 4 of 1-9)
    later = judge_point(mstore, intake, point, rulebook, today=TODAY, now_us=now_us(),
                        window_start=START + timedelta(hours=4))  # fmt: skip
    assert later.records == [] and later.duplicates == [record_id]
    (episode,) = mstore.episodes(MN)
    evidence = json.loads(episode[9])
    assert episode[7] == 9 and len(evidence["values"]) == 9
    assert len(evidence["packets"]) == 9 * 60  # the hours before the window kept theirs


def test_a_point_whose_limit_set_is_gone_is_reported_not_judged(
    plant: tuple[Store, MonitoringStore, Intake], tmp_path: Path
) -> None:
    store, mstore, intake = plant
    send(mstore, exceeding())
    text = RULEBOOK.read_text(encoding="utf-8")
    changed = tmp_path / "env.yaml"
    changed.write_text(
        text.replace('version: "2026.2"', 'version: "2099.1"').replace(
            "id: ultra-low-coal-power", "id: ultra-low-coal-power-v2"
        ),
        encoding="utf-8",
    )
    publish_rulebook(store, changed, national_catalogue())
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert outcome.records == []
    assert outcome.rejected == [
        "rulebook cn-environmental-credit has no limit set ultra-low-coal-power"
    ]


def test_a_rulebook_without_limit_sets_cannot_take_points(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    store, mstore, _ = plant
    spc = RULEBOOK.parent / "cn-spc-dishonest-debtors.yaml"
    publish_rulebook(store, spc, national_catalogue())
    with pytest.raises(PointError, match="has no monitoring section"):
        register_point(store, mstore, mn="P3", subject=FIRM, outlet="stack 3",
                       authority=MONITOR, rulebook_id="cn-spc-dishonest-debtors",
                       limit_set="x", now_us=now_us())  # fmt: skip


def test_an_episode_that_grows_after_its_record_was_issued_corrects_the_record(
    plant: tuple[Store, MonitoringStore, Intake], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The evidence row never silently outgrows its record: the record is corrected in the
    ledger to the new evidence digest, and verify holds the row to it."""
    import hashlib
    import multiprocessing

    from trustledger.app import ledger
    from trustledger.app.context import Context
    from trustledger.settings import Settings

    store, mstore, intake = plant
    send(mstore, exceeding(hours=range(2, 12)), hours=7)  # still above the limit at hour 6
    (first,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    (record_id,) = first.records
    issued = store.get_row("records", record_id).evidence_digest
    send(mstore, exceeding(hours=range(2, 12)), hours=10)  # three more hours of it
    (later,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert later.records == [] and later.corrected == [record_id]
    (episode,) = mstore.episodes(MN)
    assert episode[7] == 8 and episode[10] == record_id
    digest = "sha256:" + hashlib.sha256(str(episode[9]).encode()).hexdigest()
    record = store.get_row("records", record_id)
    assert record.evidence_digest == digest != issued
    assert record.status == "corrected" and "8 valid hours" in record.title
    correction = [e for e in store.iter_entries() if e.kind == "record.corrected"][-1]
    assert correction.payload_obj()["changes"]["evidence_digest"] == digest
    # judging the same data again corrects nothing twice
    (again,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert again.corrected == [] and again.duplicates == [record_id]
    monkeypatch.setattr(multiprocessing, "cpu_count", lambda: 1)  # verify in this process
    with Context.open(Settings(db_url=db_url), keyer=KEYER) as ctx:
        assert ledger.verify(ctx).ok
        # the evidence changed in place, outside the application: named, with its record
        altered = str(episode[9]).replace('"threshold"', '"Threshold"')
        with store.transaction():
            store.execute("UPDATE monitor_episodes SET evidence = ? WHERE key = ?",
                          [(altered, episode[0])])  # fmt: skip
        found = [p for _, p in ledger.verify(ctx).problems]
        assert any(p.startswith(f"monitor_episodes: episode {episode[0]}") for p in found)


# --- faults make data invalid: a broken sensor gives a notice, never a record -------------

Readings = Callable[[int, int], dict[str, tuple[float, str]]]  # (hour, minute) → code → reading


def send_readings(mstore: MonitoringStore, readings: Readings, hours: int) -> None:
    """Minute data of any pollutants, each packet received as its minute ends."""
    items = []
    for h in range(hours):
        for m in range(60):
            moment = START + timedelta(hours=h, minutes=m)
            received = (local_epoch(moment.isoformat()) + 60) * 1_000_000
            values = {code: {"Avg": v, "Flag": f} for code, (v, f) in readings(h, m).items()}
            items.append(Received(parse(build_data(MN, "2051", moment, values)), received, "test"))
    mstore.save(items)


def hours_valid(store: Store, mstore: MonitoringStore, code: str) -> list[bool]:
    return [h["valid"] for h in point_view(store, mstore, MN)["pollutants"][code]["hours"]]


def notice_of(mstore: MonitoringStore, code: str, kind: str) -> list[str]:
    return [n.detail for n in mstore.notices(MN) if n.pollutant == code and n.kind == kind]


def removed(first: int, end: int) -> str:
    """How a notice names the hours ``[first, end)`` after START it removed."""
    a, b = START + timedelta(hours=first), START + timedelta(hours=end)
    until = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%Y-%m-%d %H:%M}"
    n = end - first
    hours = f"{n} hour{'s' if n > 1 else ''}"
    return f"not judged: {hours} left without a valid mean ({a:%Y-%m-%d %H:%M}–{until})"


def test_a_nox_analyser_stuck_above_the_limit_for_a_day_gives_a_notice_and_no_record(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    """The finding of issue 14: NOx stuck at 80 mg/m³ (100 at 6 % O₂, twice the limit of
    50) for 24 hours. Its minutes are not judged: a flatline notice naming the 24 hours it
    removed, no episode, no record; the other pollutants are judged as usual."""
    store, mstore, intake = plant
    send_readings(mstore, lambda h, m: {
        "a21002": (80.0, "N"),
        "a21026": (20.0 + (m % 3) * 0.5, "N"),
        "a19001": (9.0 + wiggle(m), "N"),
        "a34013": (3.0 + (m % 7) * 0.1, "N"),
    }, hours=24)  # fmt: skip
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert outcome.records == [] and outcome.episodes == 0 and mstore.episodes(MN) == []
    assert outcome.hours_judged == 2 * 24  # SO₂ and dust; no NOx hour
    (detail,) = notice_of(mstore, "a21002", "flatline")
    assert detail.startswith("NOx stuck at 80.00 for 1440 consecutive readings")
    assert detail.endswith(removed(0, 24))
    assert hours_valid(store, mstore, "a21002") == [False] * 24
    assert hours_valid(store, mstore, "a21026") == [True] * 24
    # the API and the portal show the notice as stored, with the hours it removed
    shown = [n["detail"] for n in point_view(store, mstore, MN)["notices"]]
    assert detail in shown


def test_a_stuck_oxygen_analyser_leaves_nothing_to_convert(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    """SO₂ above the limit for five hours, but converted with an O₂ reading stuck at 9 %:
    no hour of it can be judged, so no record — the O₂ notice names the hours."""
    store, mstore, intake = plant
    minute = exceeding()
    send_readings(mstore, lambda h, m: {"a21026": minute(h, m), "a19001": (9.0, "N")}, hours=8)
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert outcome.records == [] and outcome.episodes == 0 and outcome.hours_judged == 0
    (detail,) = notice_of(mstore, "a19001", "flatline")
    assert detail.endswith(removed(0, 8))
    assert hours_valid(store, mstore, "a21026") == [False] * 8


def test_spikes_are_not_judged(plant: tuple[Store, MonitoringStore, Intake]) -> None:
    """One minute at 900 mg/m³ in each of five hours would lift each hour's mean above the
    limit (≈ 35.2 measured, 44 at 6 % O₂); the spikes are jumps, not emissions, so the hours
    are judged on their other 59 minutes and stay within it."""
    store, mstore, intake = plant
    send(mstore, lambda h, m: (900.0 if 2 <= h <= 6 and m == 30 else 20.0 + (m % 3) * 0.5, "N"))
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert outcome.records == [] and outcome.episodes == 0
    jumps = notice_of(mstore, "a21026", "jump")
    assert len(jumps) == 5 and all("to 900.00" in d and "not judged" not in d for d in jumps)
    assert hours_valid(store, mstore, "a21026") == [True] * 8  # 59 valid minutes each


def test_negative_minutes_are_not_judged_and_cost_an_hour_below_45_valid_minutes(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    """16 negative minutes in hour 3 leave 44 valid ones: the hour is not valid. 15 in hour
    4 leave 45: the hour stays valid, judged on the others (the existing 45-minute rule)."""
    store, mstore, intake = plant

    def so2(h: int, m: int) -> tuple[float, str]:
        negative = (h == 3 and m < 16) or (h == 4 and m < 15)
        return (-0.5 if negative else 20.0 + (m % 3) * 0.5), "N"

    send(mstore, so2)
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert outcome.records == []
    assert hours_valid(store, mstore, "a21026") == [True] * 3 + [False] + [True] * 4
    costly, harmless = notice_of(mstore, "a21026", "negative")
    assert costly.endswith(removed(3, 4))
    assert "not judged" not in harmless
    # hour 4's mean is that of its 45 valid minutes, not pulled down by the negative ones
    hours = point_view(store, mstore, MN)["pollutants"]["a21026"]["hours"]
    assert 25.0 <= hours[4]["converted"] <= 26.0


def test_an_invalid_flag_run_names_the_hours_it_cost(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    store, mstore, intake = plant
    send(mstore, exceeding(flag_in_episode="D"))
    judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    (detail,) = notice_of(mstore, "a21026", "invalid_run")
    assert detail.endswith(removed(2, 7))


def test_a_clock_far_off_names_the_hours_it_was_not_trusted_for(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    store, mstore, intake = plant
    items = [
        Received(parse(build_data(MN, "2051", datetime(2000, 2, 2, h, m),
                                  {"a21026": {"Avg": 90.0 + wiggle(m), "Flag": "N"},
                                   "a19001": {"Avg": 6.0 + wiggle(m), "Flag": "N"}})),
                 now_us(), "test")
        for h in range(8) for m in range(60)
    ]  # fmt: skip
    mstore.save(items)
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    assert outcome.records == [] and outcome.hours_judged == 0
    (detail,) = notice_of(mstore, "a21026", "clock_skew")
    assert detail.endswith("not judged: 8 hours left without a valid mean (2000-02-02 00:00–08:00)")


def test_a_stuck_run_that_began_before_the_judging_window_is_still_seen_whole(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    """SO₂ stuck at 80 mg/m³ from 00:00 to 06:00, then truly above the limit for three
    hours. A run whose window starts at 04:00 holds only two stuck hours — too short a run
    alone to be a flatline — but fault detection reads the hours before the window too, so
    they are not judged: the episode is the three true hours, below the threshold of five."""
    from trustledger.monitoring.judge import judge_point
    from trustledger.rulebook.publish import published_rulebooks

    store, mstore, intake = plant
    minute = exceeding(hours=range(6, 9))
    send(mstore, lambda h, m: (80.0, "N") if h < 6 else minute(h, m), hours=12)
    rulebook = published_rulebooks(store)["cn-environmental-credit"]
    (point,) = mstore.points()
    for window_start in (START, START + timedelta(hours=4)):
        run = judge_point(mstore, intake, point, rulebook, today=TODAY, now_us=now_us(),
                          window_start=window_start)  # fmt: skip
        assert run.records == [] and run.episodes == 1
        (episode,) = mstore.episodes(MN)
        assert episode[7] == 3 and local_epoch(f"{START + timedelta(hours=6)}") == episode[5]
    # the first run saw the whole run; the later one sees it from its look-back (01:00)
    first, later = notice_of(mstore, "a21026", "flatline")
    assert first.endswith(removed(0, 6)) and later.endswith(removed(1, 6))


# --- judging some points only (what a JetStream consumer's batches held) ------------------

OTHER_MN = "PLANT0000000002"


def second_point(store: Store, mstore: MonitoringStore, intake: Intake) -> None:
    """A point of another organisation, with data that makes a record once judged."""
    subject = {"op": "subject", "subject": FIRM2, "name": "北京市清源热力有限公司"}
    assert intake.submit(subject).outcome == "accepted"
    register_point(store, mstore, mn=OTHER_MN, subject=FIRM2, outlet="boiler 2 stack",
                   authority=MONITOR, rulebook_id="cn-environmental-credit",
                   limit_set="ultra-low-coal-power", now_us=now_us())  # fmt: skip
    send(mstore, exceeding(), mn=OTHER_MN)


def test_judging_only_some_points_leaves_the_others_unjudged(
    plant: tuple[Store, MonitoringStore, Intake],
) -> None:
    store, mstore, intake = plant
    second_point(store, mstore, intake)
    send(mstore, exceeding())
    # an MN no point is registered under is ignored, as unregistered points always are
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us(),
                           only={MN, "STRANGER01"})  # fmt: skip
    assert outcome.mn == MN and len(outcome.records) == 1
    assert [a.subject for a in outcome.assessments] == [FIRM]  # only its subject assessed
    # the other point has data that would make a record, but was not asked for: no
    # episode, no record, and neither its faults nor its subject's rate were looked at
    assert mstore.episodes(OTHER_MN) == [] and mstore.notices(OTHER_MN) == []
    assert store.rows_where("records", "subject_id", [FIRM2]) == []
    assert judge_all(store, mstore, intake, today=TODAY, now_us=now_us(), only=()) == []
    assert mstore.episodes(OTHER_MN) == []
    # asked for, it is judged by the same judgement
    (other,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us(), only=[OTHER_MN])
    assert other.mn == OTHER_MN and len(other.records) == 1
    assert [a.subject for a in other.assessments] == [FIRM2]
    (episode,) = mstore.episodes(OTHER_MN)
    assert episode[10] == other.records[0]
    assert len(mstore.episodes(MN)) == 1  # the first point's episode is left as it was


def test_monitor_judge_point_judges_that_point_only(
    plant: tuple[Store, MonitoringStore, Intake], db_url: str
) -> None:
    store, mstore, intake = plant
    second_point(store, mstore, intake)
    send(mstore, exceeding())
    runner = CliRunner(env={"TRUSTLEDGER_PERSON_KEY": bytes(range(32)).hex()})
    # a point that is not registered is refused by name, and nothing is judged
    refused = runner.invoke(app, ["monitor", "judge", "--point", OTHER_MN, "--point", "NOPE1",
                                  "--point", "NOPE2", "--db", db_url])  # fmt: skip
    assert refused.exit_code == 2, refused.output
    assert "no registered monitoring point NOPE1, NOPE2: nothing judged" in refused.output
    assert mstore.episodes(OTHER_MN) == [] and mstore.episodes(MN) == []
    result = runner.invoke(app, ["monitor", "judge", "--point", OTHER_MN, "--json", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert [o["mn"] for o in json.loads(result.output)] == [OTHER_MN]
    assert len(mstore.episodes(OTHER_MN)) == 1 and mstore.episodes(MN) == []
    # without --point, every registered point
    everything = runner.invoke(app, ["monitor", "judge", "--json", "--db", db_url])
    assert everything.exit_code == 0, everything.output
    assert [o["mn"] for o in json.loads(everything.output)] == [MN, OTHER_MN]
    assert len(mstore.episodes(MN)) == 1
