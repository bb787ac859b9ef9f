"""HJ 212 codec: CRC, the sample captures, examples, framer, reassembler, fuzzing, builders."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustledger.monitoring import vocabulary
from trustledger.monitoring.codec import (
    FRAMER_LIMIT,
    Dialect,
    Framer,
    Packet,
    PacketError,
    Reassembler,
    RejectReason,
    ack_for,
    build,
    build_data,
    crc,
    crc_reference,
    parse,
    reply_9011,
    require_known,
    result_9012,
)

DATA = Path("/work/shared/data/hj212")
HOUR_00 = DATA / "capture-2016-08-24-00.h212"
STD_EXAMPLE = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    b"Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
)
T0 = datetime(2026, 1, 5, 10, 0, 0)

needs_data = pytest.mark.skipif(not HOUR_00.exists(), reason="sample traffic not available")


def lines(path: Path) -> list[bytes]:
    out = path.read_bytes().split(b"\r\n")
    if out and out[-1] == b"":
        out.pop()
    return out


def classify(frames: list[bytes]) -> tuple[Counter[str], Counter[str]]:
    reasons: Counter[str] = Counter()
    commands: Counter[str] = Counter()
    for frame in frames:
        try:
            packet = parse(frame)
        except PacketError as exc:
            reasons[str(exc.reason)] += 1
        else:
            reasons["valid"] += 1
            commands[packet.cn] += 1
    return reasons, commands


def reason_of(frame: bytes | str) -> PacketError:
    with pytest.raises(PacketError) as info:
        parse(frame)
    return info.value


# ---------------------------------------------------------------------------------------- CRC


def modbus(data: bytes) -> int:
    reg = 0xFFFF
    for b in data:
        reg ^= b
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
    return reg


def test_crc_worked_example_from_the_standard() -> None:
    segment = STD_EXAMPLE[6:-6]
    assert crc(segment) == 0x1C80 == crc_reference(segment)
    assert modbus(segment) != 0x1C80
    assert parse(STD_EXAMPLE).cn == "1062"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_crc_table_equals_bit_by_bit(data: bytes) -> None:
    assert crc(data) == crc_reference(data)


def test_crc_takes_only_256_values() -> None:
    rng = random.Random(1)
    seen = {crc(rng.randbytes(rng.randint(1, 40))) for _ in range(20_000)}
    assert len(seen) <= 256


# ----------------------------------------------------------------------------- capture files


@needs_data
def test_hour_00_classifies_as_documented() -> None:
    frames = lines(HOUR_00)
    assert len(frames) == 9455
    reasons, commands = classify(frames)
    assert reasons == {
        "valid": 9447,
        "length_mismatch": 5,
        "no_header": 2,  # "2BC0" (tail of a broken line) and "##9ST=…" (no 4-digit length)
        "crc_mismatch": 1,
    }
    assert commands == {
        "2011": 4523,
        "2051": 1777,
        "2021": 889,
        "9015": 769,
        "8013": 450,
        "2061": 416,
        "2031": 222,
        "9011": 195,
        "9012": 193,
        "2072": 12,
        "1013": 1,
    }


@needs_data
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("capture-2016-08-24-04.h212", {"valid": 8622, "length_mismatch": 2}),
        (
            "capture-2016-08-24-05.h212",
            {"valid": 8692, "length_mismatch": 3, "no_header": 1},
        ),
    ],
)
def test_other_hours_are_fully_classified(name: str, expected: dict[str, int]) -> None:
    frames = lines(DATA / name)
    reasons, commands = classify(frames)
    assert sum(reasons.values()) == len(frames)
    assert sum(commands.values()) == reasons["valid"]
    assert reasons == expected


@needs_data
def test_sample_details_2005_dialect() -> None:
    frames = lines(HOUR_00)
    packet = parse(frames[1])
    assert packet.dialect is Dialect.hj212_2005 and packet.qn is None and packet.flag is None
    assert packet.data_time == datetime(2016, 8, 23, 23, 43, 20)
    dust = next(r for r in packet.readings if r.code == "a34013")
    # "01-Rtd=0.00,01-Flag=N;01-ZsRtd=0.00,01-Flag=N" merges into one reading
    assert dust.raw_code == "01" and dust.values == {"Rtd": 0.0, "ZsRtd": 0.0}
    assert dust.flag == "N"
    assert len([r for r in packet.readings if r.code == "a34013"]) == 1
    s07 = next(r for r in packet.readings if r.raw_code == "S07")
    assert s07.code == "S07" and not vocabulary.known("S07")
    # loggers whose clock fell back to 2000 send real, valid timestamps
    y2k = next(parse(f) for f in frames if b"DataTime=2000" in f)
    assert y2k.data_time is not None and y2k.data_time.year == 2000
    status = next(parse(f) for f in frames if b"CN=2021" in f)
    assert any(k.endswith("-RS") for k in status.params)


def test_vocabulary() -> None:
    assert vocabulary.canonical("02") == "a21026"
    assert vocabulary.canonical("S07") == "S07"
    assert vocabulary.describe("02") == vocabulary.POLLUTANTS["a21026"]
    assert vocabulary.POLLUTANTS["a21026"].name == "SO2"
    assert vocabulary.describe("zz") is None
    assert vocabulary.known("a19001") and not vocabulary.known("S07")
    assert len(vocabulary.CODES_2005) == 18


# ---------------------------------------------------------------------------------- examples


def independent_ok(packet: str) -> bool:
    """Length and CRC checked the plain way, without the codec."""
    frame = packet.encode("utf-8")
    if frame.endswith(b"\r\n"):
        frame = frame[:-2]
    segment = frame[6:-4]
    if not frame.startswith(b"##") or int(frame[2:6]) != len(segment):
        return False
    reg = 0xFFFF
    for b in segment:
        reg = (reg >> 8) ^ b
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
    return reg == int(frame[-4:], 16)


def examples() -> list[tuple[str, str]]:
    rows = (DATA / "examples.tsv").read_text(encoding="utf-8").splitlines()
    out = []
    for row in rows:
        label, packet = row.split("\t")
        out.append((label, packet.replace("\\r\\n", "\r\n")))
    return out


@needs_data
def test_examples_accepted_exactly_when_length_and_crc_hold() -> None:
    outcome: dict[str, str] = {}
    for label, packet in examples():
        try:
            parse(packet)
        except PacketError as exc:
            outcome[label] = str(exc.reason)
            assert not independent_ok(packet), label
        else:
            outcome[label] = "ok"
            assert independent_ok(packet), label
    assert outcome["STD-2017-AppA"] == "ok"
    assert outcome["xy-test-0139"] == "ok"
    # same length field as the 17-digit variant, but 3 bytes shorter: the length is right
    # (136) and the CRC is the one of the 0139 packet
    assert outcome["xy-README-0136"] == "crc_mismatch"
    assert outcome["C-cems-2011-0b40"] == "length_mismatch"
    assert outcome["Go-2081-47c0"] == "length_mismatch"
    assert outcome["Go-2011-33EC"] == "crc_mismatch"
    assert outcome["chenqi92-2011-7d00"] == "ok"
    assert sum(v == "ok" for v in outcome.values()) == 14


@needs_data
def test_example_details() -> None:
    by_label = dict(examples())
    split = parse(by_label["Go-2051-split-AE41"])
    assert split.is_split and split.pnum == 2 and split.pno == 1 and split.needs_ack
    assert parse(by_label["chenqi92-2011-7d00"]).dialect is Dialect.hj212_2025
    sample = parse(by_label["liruoyu-2011-F441"]).readings[0]
    assert sample.texts == {"SampleTime": "20231008123340"} and sample.values["Rtd"] == 123.456
    crc_lower = parse(by_label["xy-ParserTest-out-1dc0"])
    assert crc_lower.raw.endswith("1dc0")


# -------------------------------------------------------------------------- reject reasons


def frame_of(segment: str, crc_text: str | None = None) -> bytes:
    data = segment.encode()
    text = crc_text if crc_text is not None else f"{crc(data):04X}"
    return b"##%04d%s%s\r\n" % (len(data), data, text.encode())


GOOD = (
    "QN=20260105100000000;ST=31;CN=2011;PW=123456;MN=M1;Flag=4;"
    "CP=&&DataTime=20260105100000;a21026-Rtd=12.5,a21026-Flag=N&&"
)


def test_reason_no_header() -> None:
    err = reason_of(b"#0101" + frame_of(GOOD)[6:])
    assert err.reason is RejectReason.no_header and "'##'" in err.detail
    err = reason_of(b"##01x" + frame_of(GOOD)[6:])
    assert err.reason is RejectReason.no_header and "4-digit length" in err.detail


def test_reason_length_mismatch() -> None:
    frame = frame_of(GOOD)
    wrong = b"##%04d" % (len(GOOD) + 2) + frame[6:]
    err = reason_of(wrong)
    assert err.reason is RejectReason.length_mismatch
    assert (
        err.detail == f"declared length {len(GOOD) + 2:04d} but data segment has {len(GOOD)} bytes"
    )
    assert reason_of(b"##0000").reason is RejectReason.length_mismatch


def test_reason_crc_mismatch() -> None:
    good = frame_of(GOOD)
    expected = f"{crc(GOOD.encode()):04X}"
    found = f"{(crc(GOOD.encode()) + 1) & 0xFFFF:04X}"
    err = reason_of(frame_of(GOOD, found))
    assert err.reason is RejectReason.crc_mismatch
    assert err.detail == f"CRC mismatch: expected {expected}, found {found}"
    assert reason_of(frame_of(GOOD, "zz12")).reason is RejectReason.crc_mismatch
    assert parse(frame_of(GOOD, expected.lower())).raw == good[:-2].decode().replace(
        expected, expected.lower()
    )


@pytest.mark.parametrize(
    ("segment", "needle"),
    [
        ("ST=31;CN=2011;PW=1;MN=M1;CP=&&a21026-Rtd=abc&&", "a21026-Rtd='abc'"),
        ("ST=31;CN=2011;PW=1;MN=M1;CP=&&a21026-Rtd=nan&&", "a21026-Rtd='nan'"),
        ("ST=31;CN=2011;PW=1;CP=&&&&", "MN"),
        ("ST=31;PW=1;MN=M1;CP=&&&&", "CN"),
        ("ST=31;CN=20x1;PW=1;MN=M1;CP=&&&&", "CN='20x1'"),
        ("ST=31;CN=2011;PW;MN=M1;CP=&&&&", "'PW'"),
        ("ST=31;CN=2011;MN=M1;Flag=x;CP=&&&&", "Flag='x'"),
        ("ST=31;CN=2011;PW=1;MN=M1", "CP=&&"),
        ("ST=31;CN=2011;PW=1;MN=M1;CP=&&a=1", "'&&'"),
        ("ST=31;CN=2011;PW=1;MN=M1;CP=&&a21026-Rtd&&", "a21026-Rtd"),
        ("ST=31;CN=2011;CN=2011;MN=M1;CP=&&&&", "twice"),
    ],
)
def test_reason_bad_field(segment: str, needle: str) -> None:
    err = reason_of(frame_of(segment))
    assert err.reason is RejectReason.bad_field
    assert needle in err.detail


def test_reason_bad_field_for_invalid_utf8() -> None:
    data = b"ST=31;CN=2011;PW=\xff;MN=M1;CP=&&&&"
    frame = b"##%04d%s%04X" % (len(data), data, crc(data))
    err = reason_of(frame)
    assert err.reason is RejectReason.bad_field and "UTF-8" in err.detail


@pytest.mark.parametrize(
    "stamp", ["20261305100000", "2026010510000", "2026010510000x", "20260230000000000"]
)
def test_reason_bad_timestamp(stamp: str) -> None:
    err = reason_of(frame_of(f"ST=31;CN=2011;PW=1;MN=M1;CP=&&DataTime={stamp}&&"))
    assert err.reason is RejectReason.bad_timestamp and stamp in err.detail


def test_reason_unknown_code() -> None:
    with pytest.raises(PacketError) as info:
        build_data("M1", "2011", T0, {"XYZ": {"Rtd": 1.0}})
    assert info.value.reason is RejectReason.unknown_code and "'XYZ'" in info.value.detail
    assert require_known("a21026") == "a21026" and require_known("S01") == "S01"
    with pytest.raises(PacketError):
        require_known("S07")
    # received packets never fail on codes: S07 passes through
    packet = parse(build_data("M1", "2011", T0, {"a21026": {"Rtd": 1.0}}))
    assert packet.readings[0].code == "a21026"
    assert parse(frame_of("ST=31;CN=2011;MN=M1;CP=&&S07-Rtd=1&&")).readings[0].code == "S07"


def test_reason_too_long() -> None:
    err = reason_of(frame_of("ST=31;CN=2011;MN=M1;CP=&&" + "x" * 1100 + "&&"))
    assert err.reason is RejectReason.too_long and "1024" in err.detail
    with pytest.raises(PacketError) as info:
        build([("ST", "31")], "x" * 1100)
    assert info.value.reason is RejectReason.too_long


def test_reason_bad_split() -> None:
    err = reason_of(frame_of("ST=31;CN=2011;MN=M1;Flag=6;CP=&&&&"))
    assert err.reason is RejectReason.bad_split and "PNUM" in err.detail
    err = reason_of(frame_of("ST=31;CN=2011;MN=M1;Flag=6;PNUM=2;PNO=3;CP=&&&&"))
    assert err.reason is RejectReason.bad_split and "PNO=3" in err.detail


def test_every_reason_is_exercised() -> None:
    # the per-reason tests above cover each member; adding a member must add a test
    assert {r.value for r in RejectReason} == {
        "no_header",
        "length_mismatch",
        "crc_mismatch",
        "bad_field",
        "bad_timestamp",
        "unknown_code",
        "too_long",
        "truncated",
        "bad_split",
        "whitespace",  # these three: tests/test_monitoring_codec_strict.py
        "non_ascii_digits",
        "bad_qn",
    }


# ------------------------------------------------------------------------------------ framer


def run_framer(framer: Framer, chunks: list[bytes]) -> list[bytes | PacketError]:
    out: list[bytes | PacketError] = []
    for chunk in chunks:
        out += framer.feed(chunk)
        assert framer.buffered <= FRAMER_LIMIT + 1
    return out + framer.flush()


def expected_from_lines(stream: bytes) -> list[bytes | str]:
    items: list[bytes | str] = []
    for line in stream.split(b"\r\n")[:-1]:
        if line.startswith(b"##"):
            items.append(line)
        elif line:
            items.append("no_header")
    return items


def normalise(items: list[bytes | PacketError]) -> list[bytes | str]:
    return [x if isinstance(x, bytes) else str(x.reason) for x in items]


@needs_data
def test_framer_random_chunks_match_crlf_split() -> None:
    stream = HOUR_00.read_bytes()
    expected = expected_from_lines(stream)
    assert len(expected) == 9455
    rng = random.Random(20160824)
    for _ in range(3):
        chunks, pos = [], 0
        while pos < len(stream):
            size = rng.choice([1, 2, 3, 7, 64, 500, 1500, 4096, 20000])
            chunks.append(stream[pos : pos + size])
            pos += size
        assert normalise(run_framer(Framer(), chunks)) == expected


def test_framer_one_byte_chunks() -> None:
    frame = build_data("M1", "2011", T0, {"a21026": {"Rtd": 1.5}})
    out = run_framer(Framer(), [frame[i : i + 1] for i in range(len(frame))] * 1)
    assert out == [frame[:-2]]
    assert parse(frame[:-2]).mn == "M1"


def test_framer_reports_garbage_once_per_run() -> None:
    a = build_data("M1", "2011", T0, {"a21026": {"Rtd": 1.0}})
    b = build_data("M2", "2011", T0, {"a21026": {"Rtd": 2.0}})
    stream = b"junk" + a + b"more junk\r\nand more\r\n" + b + b"\r\n\r\n" + b"x#" + a
    for size in (1, 3, 5, len(stream)):
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        out = normalise(run_framer(Framer(), chunks))
        assert out == ["no_header", a[:-2], "no_header", b[:-2], "no_header", a[:-2]]


def test_framer_never_ending_line_is_too_long_and_bounded() -> None:
    framer = Framer()
    good = build_data("M1", "2011", T0, {"a21026": {"Rtd": 1.0}})
    out: list[bytes | PacketError] = []
    out += framer.feed(b"##0100" + b"A" * 100)
    for _ in range(200):
        out += framer.feed(b"B" * 997)
        assert framer.buffered <= FRAMER_LIMIT + 1
    out += framer.feed(b"tail\r\n" + good)
    assert normalise(out) == ["too_long", good[:-2]]
    err = out[0]
    assert isinstance(err, PacketError) and str(FRAMER_LIMIT) in err.detail
    # an overlong line cut short by a new "##" resynchronises there
    framer = Framer()
    out = framer.feed(b"##" + b"C" * 3000 + good)
    assert normalise(out) == ["too_long", good[:-2]]


def test_a_truncated_frame_never_costs_the_good_frame_after_it() -> None:
    """A logger reset mid-send: the next frame's header arrives before the line end."""
    good = build_data("M1", "2011", T0, {"a21026": {"Rtd": 1.0}})
    other = build_data("M2", "2011", T0, {"a21026": {"Rtd": 2.0}})
    cut = good[: len(good) // 2]
    stream = cut + other + cut + cut + good
    for size in (1, 2, 7, 64, len(stream)):
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        out = normalise(run_framer(Framer(), chunks))
        assert out == ["truncated", other[:-2], "truncated", "truncated", good[:-2]], size
    assert parse(other[:-2]).mn == "M2"


def test_a_frame_ended_by_lf_alone_is_read_and_counted() -> None:
    a = build_data("M1", "2011", T0, {"a21026": {"Rtd": 1.0}})
    b = build_data("M2", "2011", T0, {"a21026": {"Rtd": 2.0}})
    stream = a[:-2] + b"\n" + b + a[:-2] + b"\n"
    for size in (1, 3, len(stream)):
        framer = Framer()
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        assert run_framer(framer, chunks) == [a[:-2], b[:-2], a[:-2]]
        assert framer.quirks == {"lf_only": 2}


def test_a_hash_inside_a_frame_does_not_cut_it() -> None:
    # only "##dddd" and a field name start a frame: '#' and "##" in values do not
    frame = build(
        [("QN", "20260105100000001"), ("ST", "32"), ("CN", "2011"), ("PW", "123456"),
         ("MN", "M#1"), ("Flag", "5")],
        "DataTime=20260105100000;note=a##b;a21026-Rtd=1.0",
    )  # fmt: skip
    assert run_framer(Framer(), [frame]) == [frame[:-2]]


def test_framer_keeps_frames_with_wrong_length_whole() -> None:
    frame = frame_of(GOOD)
    wrong = b"##9999" + frame[6:]
    out = run_framer(Framer(), [wrong, frame])
    assert out == [wrong[:-2], frame[:-2]]
    assert reason_of(wrong).reason is RejectReason.too_long


# ------------------------------------------------------------------------------- reassembler


def split_parts(pnum: int = 3, qn: str = "20260105100000001", mn: str = "M1") -> list[Packet]:
    parts = []
    for pno in range(1, pnum + 1):
        fields = [
            ("QN", qn),
            ("ST", "31"),
            ("CN", "2051"),
            ("PW", "123456"),
            ("MN", mn),
            ("Flag", "7"),
            ("PNUM", str(pnum)),
            ("PNO", str(pno)),
        ]
        cp = f"DataTime=20260105100000;a2100{pno}-Avg={pno}.5,a2100{pno}-Flag=N"
        parts.append(parse(build(fields, cp)))
    return parts


def test_reassembler_in_order_and_out_of_order() -> None:
    for order in ([0, 1, 2], [2, 0, 1]):
        parts = split_parts()
        r = Reassembler()
        results = [r.add(parts[i], T0) for i in order]
        assert results[:2] == [None, None]
        combined = results[2]
        assert combined is not None and len(r) == 0
        assert [x.code for x in combined.readings] == ["a21001", "a21002", "a21003"]
        assert combined.raw == "\r\n".join(p.raw for p in parts)
        assert not combined.is_split and combined.flag == 5 and combined.needs_ack
        assert combined.data_time == datetime(2026, 1, 5, 10)
        assert len(combined.digest) == 64


def test_reassembler_duplicates_bad_pno_and_pnum_change() -> None:
    parts = split_parts()
    r = Reassembler()
    assert r.add(parts[0], T0) is None
    assert r.add(parts[0], T0) is None  # identical retransmission ignored
    other = dataclasses.replace(parts[0], raw=parts[0].raw + "x")
    with pytest.raises(PacketError) as info:
        r.add(other, T0)
    assert info.value.reason is RejectReason.bad_split and "twice" in info.value.detail
    with pytest.raises(PacketError) as info:
        r.add(dataclasses.replace(parts[1], pno=7), T0)
    assert info.value.reason is RejectReason.bad_split and "PNO=7" in info.value.detail
    with pytest.raises(PacketError) as info:
        r.add(dataclasses.replace(parts[1], pnum=4), T0)
    assert info.value.reason is RejectReason.bad_split and "PNUM changed" in info.value.detail
    plain = parse(build_data("M1", "2011", T0, {"a21026": {"Rtd": 1.0}}))
    assert r.add(plain, T0) is plain


def test_reassembler_expiry_and_bound() -> None:
    # three loggers: parts of one logger with another QN would join its open group
    q1, q2, q3 = (f"2026010510000000{i}" for i in (1, 2, 3))
    r = Reassembler(max_groups=2, max_age_seconds=60)
    r.add(split_parts(qn=q1, mn="M1")[0], T0)
    r.add(split_parts(qn=q2, mn="M2")[1], T0.replace(minute=1))
    r.add(split_parts(qn=q3, mn="M3")[0], T0.replace(minute=1))  # evicts group q1
    assert len(r) == 2
    expired = r.expire(T0.replace(minute=1, second=30))
    assert [p.key[1] for p in expired] == [q1]
    err = expired[0].error()
    assert err.reason is RejectReason.bad_split and "missing PNO [2, 3]" in err.detail
    expired = r.expire(T0.replace(minute=3))
    assert sorted(str(p.key[1]) for p in expired) == [q2, q3] and len(r) == 0


# -------------------------------------------------------------------------------------- fuzz

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEEDS = [
    STD_EXAMPLE,
    frame_of(GOOD),
    build_data("M1", "2051", T0, {"a21026": {"Avg": 1.0, "Min": 0.5, "Max": 2.0, "Flag": "N"}}),
    build_data("LD1", "2011", T0, {"a34013": {"Rtd": 3.0}}, dialect=Dialect.hj212_2005),
]


def check_parse(frame: bytes) -> None:
    try:
        parse(frame)
    except PacketError as exc:
        assert isinstance(exc.reason, RejectReason) and exc.detail


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_parse_arbitrary_bytes(data: bytes) -> None:
    check_parse(data)
    check_parse(b"##%04d" % max(len(data) - 4, 0) + data)


@FUZZ
@given(
    st.sampled_from(SEEDS),
    st.lists(
        st.tuples(
            st.sampled_from(["flip", "cut", "insert"]),
            st.integers(0, 2000),
            st.binary(min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_fuzz_parse_mutations(
    seed: bytes, edits: list[tuple[str, int, bytes]], fix_crc: bool
) -> None:
    frame = bytearray(seed)
    for kind, at, payload in edits:
        i = at % (len(frame) or 1)
        if kind == "flip" and frame:
            frame[i] ^= payload[0] or 1
        elif kind == "cut":
            del frame[i:]
        else:
            frame[i:i] = payload
    data = bytes(frame)
    check_parse(data)
    if fix_crc and data.startswith(b"##") and len(data) >= 12:
        body = data.rstrip(b"\r\n")[6:-4]
        # make length and CRC right, so the field parser sees the damage
        check_parse(b"##%04d%s%04X" % (len(body), body, crc(body)))


@FUZZ
@given(st.lists(st.binary(max_size=300) | st.sampled_from(SEEDS), max_size=12))
def test_fuzz_framer(chunks: list[bytes]) -> None:
    framer = Framer()
    for chunk in chunks:
        for item in framer.feed(chunk):
            if isinstance(item, PacketError):
                assert item.detail
            else:
                assert item.startswith(b"##") and b"\r\n" not in item
                check_parse(item)
        assert framer.buffered <= FRAMER_LIMIT + 1
    framer.flush()


# ---------------------------------------------------------------------------------- builders


@pytest.mark.parametrize("dialect", list(Dialect))
def test_build_data_round_trip(dialect: Dialect) -> None:
    readings: dict[str, dict[str, float | str]] = {
        "a21026": {"Rtd": 12.5, "ZsRtd": 13.0, "Flag": "N"},
        "a19001": {"Rtd": 6.25, "Flag": "N", "EFlag": "A01"},
        "a01012": {"Rtd": -3.1875, "SampleTime": "20260105100000"},
    }
    frame = build_data("MN0001", "2011", T0, readings, dialect=dialect)
    assert frame.endswith(b"\r\n")
    packet = parse(frame)
    assert packet.dialect is dialect
    assert packet.mn == "MN0001" and packet.cn == "2011" and packet.st == "31"
    assert packet.data_time == T0
    got = {r.code: r for r in packet.readings}
    assert got["a21026"].values == {"Rtd": 12.5, "ZsRtd": 13.0} and got["a21026"].flag == "N"
    assert got["a19001"].eflag == "A01"
    assert got["a01012"].texts == {"SampleTime": "20260105100000"}
    if dialect is Dialect.hj212_2005:
        assert packet.qn is None and packet.flag is None
        assert got["a21026"].raw_code == "02"
    else:
        assert packet.qn == "20260105100000000"
        assert packet.flag == {Dialect.hj212_2017: 4, Dialect.hj212_2025: 8}[dialect]
    assert packet.digest == __import__("hashlib").sha256(frame[:-2]).hexdigest()


def test_build_round_trips_fields() -> None:
    fields = {
        "QN": "20260105100000001",
        "ST": "32",
        "CN": "1062",
        "PW": "100000",
        "MN": "X",
        "Flag": "5",
    }
    frame = build(fields, "RtdInterval=30")
    packet = parse(frame)
    assert dict(packet.fields) == fields and packet.params == {"RtdInterval": "30"}
    standard = {
        "QN": "20160801085857223",
        "ST": "32",
        "CN": "1062",
        "PW": "100000",
        "MN": "010000A8900016F000169DC0",
        "Flag": "5",
    }
    assert build(standard, "RtdInterval=30") == STD_EXAMPLE
    assert build(list(fields.items()), "RtdInterval=30") == frame


def test_ack_for() -> None:
    q1, q2 = "20260105100000001", "20260105100000002"
    upload = parse(build_data("M1", "2011", T0, {"a21026": {"Rtd": 1.0}}, flag=5, qn=q1))
    ack = ack_for(upload, T0)
    assert ack is not None
    reply = parse(ack)
    assert (reply.cn, reply.st, reply.qn, reply.mn, reply.pw, reply.flag, reply.cp) == (
        "9014",
        "91",
        q1,
        "M1",
        "123456",
        4,
        "",
    )
    assert ack_for(parse(build_data("M1", "2011", T0, {}, flag=4)), T0) is None
    notice = parse(
        build([("QN", q2), ("ST", "31"), ("CN", "3020"), ("MN", "M1"), ("Flag", "9")], "")
    )
    notice_ack = ack_for(notice, T0)
    assert notice_ack is not None and parse(notice_ack).cn == "9013"
    assert parse(notice_ack).flag == 8


def test_replies_9011_9012() -> None:
    request = parse(STD_EXAMPLE)
    r1 = parse(reply_9011(request, 1))
    assert (r1.cn, r1.qn, r1.params, r1.flag) == ("9011", request.qn, {"QnRtn": "1"}, 4)
    r2 = parse(result_9012(request, 1))
    assert (r2.cn, r2.qn, r2.params) == ("9012", request.qn, {"ExeRtn": "1"})
    old = parse(frame_of("ST=91;CN=1013;PW=123456;MN=LD1;Flag=1;CP=&&QN=20160824001252000&&"))
    r3 = parse(reply_9011(old, 1))
    assert r3.qn is None and r3.params == {"QN": "20160824001252000", "QnRtn": "1"}
    assert r3.dialect is Dialect.hj212_2005
