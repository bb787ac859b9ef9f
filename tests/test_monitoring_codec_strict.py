"""HJ 212 codec, issue 14: strict fields with named rejects, quirks, split joining, 2005 replies.

Each test here failed before the change it covers: whitespace became part of a key,
full-width digits read as numbers, duplicates were silent, CP/PNUM/QN widths were not
checked, 2005 Flag=3 without PNUM/PNO was refused, parts with their own QN never joined,
and the 2005 builder and 9014 reply did not follow the dialect.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from trustledger.monitoring.codec import (
    Dialect,
    PacketError,
    Quirk,
    Reassembler,
    RejectReason,
    ack_for,
    build,
    build_data,
    check_qn,
    crc,
    parse,
    reply_9011,
    result_9012,
)

DATA = Path("/work/shared/data/hj212")
HOUR_00 = DATA / "capture-2016-08-24-00.h212"
needs_data = pytest.mark.skipif(not HOUR_00.exists(), reason="sample traffic not available")
T0 = datetime(2026, 1, 5, 10, 0, 0)
HEAD_2017 = "QN=20260105100000000;ST=31;CN=2011;PW=123456;MN=M1;Flag=4;"


def frame_of(segment: str) -> bytes:
    data = segment.encode()
    return b"##%04d%s%04X\r\n" % (len(data), data, crc(data))


def reject(segment: str) -> PacketError:
    with pytest.raises(PacketError) as info:
        parse(frame_of(segment))
    return info.value


# ------------------------------------------------------------------------------ whitespace


@pytest.mark.parametrize(
    "segment",
    [
        HEAD_2017 + "CP=&&DataTime=20260105100000;a21026-Rtd =12.5&&",  # before "="
        HEAD_2017 + "CP=&& DataTime=20260105100000;a21026-Rtd=12.5&&",  # after "CP=&&"
        HEAD_2017 + "CP=&&DataTime=20260105100000; a21026-Rtd=12.5&&",  # after ";"
        HEAD_2017 + "CP=&&DataTime=20260105100000;a21026-Rtd=12.5, a21026-Flag=N&&",
        HEAD_2017 + "CP=&&DataTime=20260105100000;a21026-Rtd= 12.5&&",  # after "="
        HEAD_2017 + "CP=&&DataTime=20260105100000;a21026-Rtd=12.5 &&",  # before "&&"
        HEAD_2017 + "CP=&&DataTime=20260105100000;a21026-Rtd=12.5\t;a19001-Rtd=6&&",
        "QN=20260105100000000;ST=31;CN=2011;PW=123456;MN =M1;Flag=4;CP=&&&&",  # header key
        "QN=20260105100000000;ST=31;CN=2011;PW=123456;MN=M1 ;Flag=4;CP=&&&&",
        "QN=20260105100000000;ST=31;CN=2011;PW=123456;MN=M1;Flag=4;CP=&&a b=1&&",  # in a key
        HEAD_2017 + "CP=&&DataTime=20260105100000;a21026-Rtd\u3000=12.5&&",  # full-width
        HEAD_2017 + "CP=&&DataTime=20260105100000;a21026-Rtd=12.5\xa0&&",  # no-break
    ],
)
def test_whitespace_in_keys_or_around_separators_is_rejected(segment: str) -> None:
    err = reject(segment)
    assert err.reason is RejectReason.whitespace and "whitespace" in err.detail


def test_a_space_inside_a_text_value_is_kept() -> None:
    packet = parse(frame_of(HEAD_2017 + "CP=&&DataTime=20260105100000;Info=door open&&"))
    assert packet.params["Info"] == "door open" and packet.quirks == ()


# ---------------------------------------------------------------------------------- digits


@pytest.mark.parametrize("value", ["１２.５", "12.５", "٣", "１"])
def test_non_ascii_digits_are_rejected_not_read(value: str) -> None:
    assert float(value) > 0  # what the lenient parser used to do
    err = reject(HEAD_2017 + f"CP=&&DataTime=20260105100000;a21026-Rtd={value}&&")
    assert err.reason is RejectReason.non_ascii_digits and value in err.detail


def test_non_ascii_digits_in_datatime_and_header_fields() -> None:
    err = reject(HEAD_2017 + "CP=&&DataTime=２０２６0105100000&&")
    assert err.reason is RejectReason.non_ascii_digits
    err = reject("QN=20260105100000000;ST=31;CN=2011;PW=1;MN=M1;Flag=５;CP=&&&&")
    assert err.reason is RejectReason.non_ascii_digits and "Flag" in err.detail


@pytest.mark.parametrize("value", ["1e3", "inf", "1_000", "0x10", "1.2.3", "", "-", "+"])
def test_numbers_are_plain_decimals(value: str) -> None:
    err = reject(HEAD_2017 + f"CP=&&DataTime=20260105100000;a21026-Rtd={value}&&")
    assert err.reason is RejectReason.bad_field and "a21026-Rtd" in err.detail


@pytest.mark.parametrize(("value", "number"), [("12.5", 12.5), ("-3", -3.0), ("7.", 7.0)])
def test_plain_decimals_still_read(value: str, number: float) -> None:
    packet = parse(frame_of(HEAD_2017 + f"CP=&&DataTime=20260105100000;a21026-Rtd={value}&&"))
    assert packet.readings[0].values == {"Rtd": number}


# ------------------------------------------------------------------------------ duplicates


def test_a_repeated_field_keeps_the_first_value_and_is_flagged() -> None:
    # the layout of logger LD130185000294 in the capture: B01 sent three times
    cp = (
        "DataTime=20160824004926000;B01-Rtd=19.52;060-Rtd=4.660,060-Flag=N;"
        "B01-Rtd=16.34;B01-Rtd=0.00"
    )
    packet = parse(frame_of(f"ST=32;CN=2011;PW=123456;MN=LD1;CP=&&{cp}&&"))
    flow = next(r for r in packet.readings if r.raw_code == "B01")
    assert flow.values == {"Rtd": 19.52}
    assert Quirk.duplicate_key in packet.quirks


def test_a_disagreeing_item_flag_is_flagged_and_kept_visible() -> None:
    # logger ZG130131201308: S05-Flag=N on the Rtd item and D on the ZsRtd item
    cp = "DataTime=20160824000000;S05-Rtd=8.0,S05-Flag=N;S05-ZsRtd=8.1,S05-Flag=D"
    packet = parse(frame_of(f"ST=31;CN=2011;PW=123456;MN=ZG1;CP=&&{cp}&&"))
    hum = packet.readings[0]
    assert hum.flag == "N" and hum.texts == {"Flag": "D"}
    assert packet.quirks == (Quirk.duplicate_key,)


def test_a_repeat_with_the_same_value_is_no_quirk() -> None:
    # the 2005 layout gives each item its own Flag: "01-Rtd=0,01-Flag=N;01-ZsRtd=0,01-Flag=N"
    cp = "DataTime=20160824000000;01-Rtd=0.00,01-Flag=N;01-ZsRtd=0.00,01-Flag=N"
    packet = parse(frame_of(f"ST=31;CN=2011;PW=123456;MN=ZG1;CP=&&{cp}&&"))
    assert packet.quirks == ()


def test_a_repeated_parameter_or_header_field_is_still_rejected() -> None:
    err = reject(HEAD_2017 + "CP=&&DataTime=20260105100000;DataTime=20260105110000&&")
    assert err.reason is RejectReason.bad_field and "twice" in err.detail


@needs_data
def test_capture_quirks_are_counted() -> None:
    quirks: Counter[str] = Counter()
    for line in HOUR_00.read_bytes().split(b"\r\n"):
        with contextlib.suppress(PacketError):
            quirks.update(parse(line).quirks)
    assert quirks == {"data_time_ms": 5722, "duplicate_key": 57}


# ----------------------------------------------------------------------------- widths


def test_cp_length_limit_per_dialect() -> None:
    def cp_of(size: int) -> str:
        return "DataTime=20260105100000;Info=" + "x" * (size - 29)

    assert len(cp_of(950)) == 950
    head_2005 = "ST=31;CN=2011;PW=1;MN=M1;"
    assert parse(frame_of(HEAD_2017 + f"CP=&&{cp_of(950)}&&")).dialect is Dialect.hj212_2017
    err = reject(HEAD_2017 + f"CP=&&{cp_of(951)}&&")
    assert err.reason is RejectReason.too_long and "951" in err.detail and "950" in err.detail
    assert parse(frame_of(head_2005 + f"CP=&&{cp_of(960)}&&")).dialect is Dialect.hj212_2005
    err = reject(head_2005 + f"CP=&&{cp_of(961)}&&")
    assert err.reason is RejectReason.too_long and "960" in err.detail


@pytest.mark.parametrize("flag", ["", "Flag=3;", "Flag=7;"])
def test_pnum_and_pno_are_at_most_four_digits(flag: str) -> None:
    head = f"QN=20260105100000000;ST=31;CN=2051;PW=1;MN=M1;{flag}"
    assert parse(frame_of(head + "PNUM=9999;PNO=9999;CP=&&&&")).pnum == 9999
    err = reject(head + "PNUM=10000;PNO=1;CP=&&&&")
    assert err.reason is RejectReason.bad_split and "PNUM=10000" in err.detail
    err = reject(head + "PNUM=2;PNO=00001;CP=&&&&")
    assert err.reason is RejectReason.bad_split and "PNO=00001" in err.detail


def test_17_digit_datatime_is_a_quirk_in_every_dialect() -> None:
    old = parse(frame_of("ST=31;CN=2011;PW=1;MN=M1;CP=&&DataTime=20160824003817000&&"))
    assert old.dialect is Dialect.hj212_2005 and old.quirks == (Quirk.data_time_ms,)
    assert old.data_time == datetime(2016, 8, 24, 0, 38, 17)
    new = parse(frame_of(HEAD_2017 + "CP=&&DataTime=20260105100000123&&"))
    assert new.quirks == (Quirk.data_time_ms,)
    plain = parse(frame_of("ST=31;CN=2011;PW=1;MN=M1;CP=&&DataTime=20160824003817&&"))
    assert plain.quirks == ()


@pytest.mark.parametrize(
    "qn", ["Q1", "1", "2016082400501001", "201608240050100100", "20161324005010010", "２０"]
)
def test_qn_format(qn: str) -> None:
    err = reject(f"QN={qn};ST=31;CN=2011;PW=1;MN=M1;Flag=4;CP=&&&&")
    assert err.reason is RejectReason.bad_qn and "QN" in err.detail
    # 2005 requests and replies carry it in CP
    err = reject(f"ST=91;CN=9012;PW=1;MN=M1;CP=&&QN={qn};ExeRtn=1&&")
    assert err.reason is RejectReason.bad_qn
    assert check_qn("20000101000000000") == "20000101000000000"  # a reset clock is real


# ------------------------------------------------------------- 2005 dialect: Appendix C

# HJ/T 212-2005 Appendix C example frames (data segments), as other HJ 212 implementations
# quote them in their sources; the project's reference has no copy of that appendix.
C2005_REQUEST = (
    "QN=20040516010101001;ST=32;CN=1042;PW=123456;MN=88888880000001;Flag=3;CP=&&ReportTime=0101&&"
)
C2005_9011 = "ST=91;CN=9011;PW=123456;MN=88888880000001;Flag=0;CP=&&QN=20040516010101001;QnRtn=1&&"
C2005_9012 = "ST=91;CN=9012;PW=123456;MN=88888880000001;CP=&&QN=20040516010101001;ExeRtn=1&&"
C2005_SPLIT = (
    "ST=32;CN=2051;QN=20040516010101001;PW=123456;MN=88888880000001;PNO=1;PNUM=1;"
    "CP=&&DataTime=20040516021000;B01-Cou=200;101-Cou=2.5,101-Min=1.1,101-Avg=1.1,"
    "101-Max=1.1;102-Cou=2.5,102-Min=2.1,102-Avg=2.1,102-Max=2.1&&"
)


def test_2005_flag_3_without_pnum_is_a_request_asking_for_an_answer() -> None:
    request = parse(frame_of(C2005_REQUEST))
    assert request.dialect is Dialect.hj212_2005 and request.flag == 3
    assert not request.is_split and request.needs_ack
    assert Reassembler().add(request, T0) is request
    assert reply_9011(request, 1) == frame_of(C2005_9011)
    assert result_9012(request, 1) == frame_of(C2005_9012)


def test_2017_bit_d_without_pnum_is_still_refused() -> None:
    err = reject("QN=20260105100000000;ST=31;CN=2011;PW=1;MN=M1;Flag=7;CP=&&&&")
    assert err.reason is RejectReason.bad_split and "PNUM" in err.detail


def test_2005_split_example_without_flag_is_joined() -> None:
    piece = parse(frame_of(C2005_SPLIT))
    assert piece.is_split and (piece.pnum, piece.pno) == (1, 1) and piece.flag is None
    whole = Reassembler().add(piece, T0)
    assert whole is not None and not whole.is_split
    assert {r.code for r in whole.readings} == {"w00000", "w21011", "102"}


def test_2005_builder_writes_14_digit_datatime() -> None:
    frame = build_data(
        "88888880000001", "2011", T0, {"a21026": {"Rtd": 1.5}}, dialect=Dialect.hj212_2005
    )
    assert frame == frame_of(
        "ST=31;CN=2011;PW=123456;MN=88888880000001;CP=&&DataTime=20260105100000;02-Rtd=1.5&&"
    )
    assert parse(frame).quirks == ()


def test_2005_upload_without_flag_gets_a_9014_naming_the_upload() -> None:
    upload = parse(frame_of("ST=32;CN=2011;PW=123456;MN=88888880000001;CP=&&B01-Rtd=100&&"))
    assert upload.needs_ack
    assert ack_for(upload, T0) == frame_of(
        "ST=91;CN=9014;PW=123456;MN=88888880000001;CP=&&CN=2011&&"
    )
    # no Flag but not a data upload: no answer; Flag present without bit 0: no answer
    beat = parse(frame_of("ST=32;CN=8013;PW=123456;MN=M1;CP=&&HeartbeatTime=120&&"))
    assert ack_for(beat, T0) is None
    quiet = parse(frame_of("ST=32;CN=2011;PW=123456;MN=M1;Flag=0;CP=&&B01-Rtd=1&&"))
    assert ack_for(quiet, T0) is None


def test_2005_9014_echoes_qn_and_the_part() -> None:
    piece = parse(frame_of(C2005_SPLIT))
    assert ack_for(piece, T0) == frame_of(
        "ST=91;CN=9014;PW=123456;MN=88888880000001;CP=&&QN=20040516010101001;CN=2051;PNO=1;PNUM=1&&"
    )
    alarm = parse(
        frame_of(
            "QN=20160823235559979;ST=32;CN=2072;PW=123456;MN=ZG1;Flag=1;"
            "CP=&&AlarmTime=20160823235559;B01-Ala=16.00,AlarmType=1&&"
        )
    )
    assert ack_for(alarm, T0) == frame_of(
        "ST=91;CN=9014;PW=123456;MN=ZG1;CP=&&QN=20160823235559979;CN=2072&&"
    )


# ---------------------------------------------------------- split parts with their own QN


def part(qn: str, pno: int, pnum: int = 2, data_time: str = "20260105100000") -> bytes:
    """A part of a 2051 upload as HJ 212-2017's split example lays it out: each part a
    complete packet with its own QN, Flag with bits A and D, PNUM and PNO."""
    fields = [
        ("QN", qn),
        ("ST", "31"),
        ("CN", "2051"),
        ("PW", "123456"),
        ("MN", "010000A8900016F000169DC0"),
        ("Flag", "7"),
        ("PNUM", str(pnum)),
        ("PNO", str(pno)),
    ]
    code = f"a2100{pno}"
    return build(fields, f"DataTime={data_time};{code}-Avg={pno}.5,{code}-Flag=N")


def test_parts_with_their_own_qn_are_joined_in_any_order() -> None:
    first = parse(part("20260105100500001", 1))
    second = parse(part("20260105100500002", 2))
    for order in ([first, second], [second, first]):
        r = Reassembler()
        assert r.add(order[0], T0) is None
        whole = r.add(order[1], T0)
        assert whole is not None and len(r) == 0
        assert [x.code for x in whole.readings] == ["a21001", "a21002"]
        assert whole.raw == first.raw + "\r\n" + second.raw
        assert whole.qn == "20260105100500001" and not whole.is_split


def test_a_message_missing_a_part_never_absorbs_the_next_message() -> None:
    r = Reassembler()
    # message A (10:00) loses its part 2; message B (10:01) arrives whole
    assert r.add(parse(part("20260105100500001", 1)), T0) is None
    b1 = parse(part("20260105100600001", 1, data_time="20260105100100"))
    b2 = parse(part("20260105100600002", 2, data_time="20260105100100"))
    assert r.add(b1, T0) is None and len(r) == 2
    whole = r.add(b2, T0)
    assert whole is not None and whole.raw == b1.raw + "\r\n" + b2.raw
    # A stays incomplete and expires as before
    (pending,) = r.expire(T0.replace(hour=11))
    assert pending.key[1] == "20260105100500001"
    assert "missing PNO [2]" in pending.error().detail


def test_a_resent_part_is_ignored_not_taken_for_a_new_message() -> None:
    # a logger resends a part whose answer it missed; its own QN matches no group
    r = Reassembler()
    p1, p2, p3 = (parse(part(f"2026010510050000{i}", i, pnum=3)) for i in (1, 2, 3))
    assert r.add(p1, T0) is None and r.add(p2, T0) is None
    assert r.add(p2, T0) is None and len(r) == 1
    whole = r.add(p3, T0)
    assert whole is not None and whole.raw == "\r\n".join(p.raw for p in (p1, p2, p3))


def test_a_part_of_another_size_or_time_starts_its_own_group() -> None:
    r = Reassembler()
    assert r.add(parse(part("20260105100500001", 1, pnum=3)), T0) is None
    assert r.add(parse(part("20260105100500002", 2, pnum=2)), T0) is None
    assert len(r) == 2
    r = Reassembler()
    assert r.add(parse(part("20260105100500001", 1)), T0) is None
    assert r.add(parse(part("20260105100500002", 2, data_time="20260105100100")), T0) is None
    assert len(r) == 2
