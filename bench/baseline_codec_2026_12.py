"""The HJ 212 parser as it was before the stricter field checks of issue 14 (item 2).

A frozen copy of ``parse`` and what it calls, from ``trustledger/monitoring/codec.py`` at
commit 7ee36ec (December 2026), kept only so that ``bench/hj212_codec.py`` can measure the
stricter parser against the previous one in the same run, on the same machine. It is not
part of the package and nothing else may import it. The package's CRC is not reused, so a
later change to it cannot move the baseline.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from trustledger.pollutants import CODES_2005

MAX_DATA = 1024  # HJ 212-2017 §6.3.1: data segment 0-1024 bytes
MAX_FRAME = 2 + 4 + MAX_DATA + 4  # "##", length, data segment, CRC; CR LF not counted
FRAMER_LIMIT = MAX_FRAME + 64  # slack so a barely oversized frame still reaches parse()


class RejectReason(StrEnum):
    # Bytes that do not open with "##" followed by a 4-digit length: garbage between frames,
    # a frame whose head was lost, or a mangled length field.
    no_header = "no_header"
    # The 4-digit length disagrees with the UTF-8 byte length of the data segment.
    length_mismatch = "length_mismatch"
    # The CRC field is not 4 hex digits or differs from the CRC of the data segment.
    crc_mismatch = "crc_mismatch"
    # Framing is sound but a field is not: no "=", ST/CN/MN missing, CN not 4 digits, Flag,
    # PNUM or PNO not a number, no CP=&&...&&, a non-numeric value where a number is
    # required, invalid UTF-8.
    bad_field = "bad_field"
    # DataTime is not 14 or 17 digits or not a real calendar instant.
    bad_timestamp = "bad_timestamp"
    # A pollutant code that is neither of the 2017 form nor in the vocabulary, where the
    # caller asked for known codes (builders, require_known); never raised for received data.
    unknown_code = "unknown_code"
    # More bytes than a frame may have: a data segment above 1024 bytes, or a line that does
    # not end within the framer's limit.
    too_long = "too_long"
    # A frame cut off before its end: the next frame's header ("##dddd" and a field name)
    # came first, as when a logger resets in the middle of sending. The next frame is read.
    truncated = "truncated"
    # Inconsistent packet splitting: PNUM/PNO missing or out of range, PNUM changing within
    # a group, a conflicting duplicate part, or a group that never completed.
    bad_split = "bad_split"


class PacketError(ValueError):
    """A frame or packet that cannot be accepted; ``reason`` is for counting, ``detail`` for
    people."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Dialect(StrEnum):
    hj212_2005 = "2005"
    hj212_2017 = "2017"
    hj212_2025 = "2025"


# Flag bits 2-7 carry the protocol version (reference: 1 for 2017; the 2025 revision's
# "version value 8 in Flag" is Flag == 8, i.e. bits 2-7 == 2).
_VERSION_BITS: Mapping[Dialect, int] = {
    Dialect.hj212_2005: 0,
    Dialect.hj212_2017: 1 << 2,
    Dialect.hj212_2025: 2 << 2,
}


def _dialect_of(flag: int | None) -> Dialect:
    if flag is None:
        return Dialect.hj212_2005
    version = flag >> 2
    if version == 0:
        return Dialect.hj212_2005
    if version == 1:
        return Dialect.hj212_2017
    # Versions above 2 do not exist yet; a newer logger is closer to 2025 than to anything
    # else, and rejecting its data would lose evidence.
    return Dialect.hj212_2025


# --------------------------------------------------------------------------------------- CRC


def crc_reference(data: bytes) -> int:
    """The HJ 212 CRC exactly as Appendix A of HJ 212-2017 writes it, bit by bit.

    Kept as the specification against which the fast :func:`crc` is proven equal.
    """
    reg = 0xFFFF
    for b in data:
        reg = (reg >> 8) ^ b
        for _ in range(8):
            carry = reg & 1
            reg >>= 1
            if carry:
                reg ^= 0xA001
    return reg


def _eight_rounds(x: int) -> int:
    for _ in range(8):
        x = (x >> 1) ^ 0xA001 if x & 1 else x >> 1
    return x


# After "reg = (reg >> 8) ^ b" the register is below 256, so the eight rounds that follow are
# a function of one byte: a 256-entry table. The next step only needs the high byte of the
# result, so the running state is a single byte and the loop body is one list lookup.
_ROUNDS: tuple[int, ...] = tuple(_eight_rounds(x) for x in range(256))
_NEXT_STATE: list[int] = [r >> 8 for r in _ROUNDS]


def crc(data: bytes) -> int:
    """The HJ 212 CRC of a data segment (not CRC-16/MODBUS), as an int in 0..0xFFFF."""
    if not data:
        return 0xFFFF
    state = 0xFF  # high byte of the initial 0xFFFF
    table = _NEXT_STATE
    for b in data[:-1]:
        state = table[state ^ b]
    return _ROUNDS[state ^ data[-1]]


# ----------------------------------------------------------------------------------- packets


@dataclass(frozen=True, slots=True)
class Reading:
    code: str  # canonical (2017) code, or the raw code when the vocabulary lacks it
    raw_code: str
    values: Mapping[str, float] = field(hash=False)
    flag: str | None
    eflag: str | None
    texts: Mapping[str, str] = field(hash=False)


@dataclass(frozen=True, slots=True)
class Packet:
    raw: str
    dialect: Dialect
    qn: str | None
    st: str
    cn: str
    pw: str
    mn: str
    flag: int | None
    pnum: int | None
    pno: int | None
    cp: str
    fields: Mapping[str, str] = field(hash=False)
    data_time: datetime | None
    readings: tuple[Reading, ...] = field(hash=False)
    params: Mapping[str, str] = field(hash=False)

    @property
    def needs_ack(self) -> bool:
        return self.flag is not None and bool(self.flag & 1)

    @property
    def is_split(self) -> bool:
        return self.pnum is not None or (self.flag is not None and bool(self.flag & 2))

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.raw.encode("utf-8")).hexdigest()


# Item fields whose value must be a number. Ala is the alarm value of command 2072.
NUMERIC_FIELDS = frozenset(
    {"Rtd", "ZsRtd", "Min", "Avg", "Max", "Cou", "ZsMin", "ZsAvg", "ZsMax", "ZsCou", "Ala"}
)
# Item fields kept as text on the reading (not interpreted here).
TEXT_FIELDS = frozenset({"SampleTime", "ZsFlag", "Info"})
_READING_FIELDS = NUMERIC_FIELDS | TEXT_FIELDS | {"Flag", "EFlag"}

_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")
_CODE_2017 = re.compile(r"[a-z]\d{5}\Z")


def _preview(data: bytes | str, limit: int = 40) -> str:
    text = data if isinstance(data, str) else data.decode("utf-8", "backslashreplace")
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def _bad(detail: str) -> PacketError:
    return PacketError(RejectReason.bad_field, detail)


def parse_data_time(text: str) -> datetime:
    """DataTime as naive device-local time: 14 digits, or 17 with milliseconds.

    Year-2000 values are real (loggers whose clock was reset) and therefore accepted.
    """
    if len(text) not in (14, 17) or not _DIGITS.issuperset(text):
        raise PacketError(RejectReason.bad_timestamp, f"DataTime {text!r} is not 14 or 17 digits")
    try:
        return datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
            int(text[12:14]),
            int(text[14:17]) * 1000 if len(text) == 17 else 0,
        )
    except ValueError as exc:
        raise PacketError(
            RejectReason.bad_timestamp, f"DataTime {text!r} is not a valid time: {exc}"
        ) from None


def _int_field(fields: Mapping[str, str], name: str) -> int | None:
    value = fields.get(name)
    if value is None:
        return None
    if not value or len(value) > 6 or not _DIGITS.issuperset(value):
        raise _bad(f"{name}={value!r} is not a number")
    return int(value)


def _parse_cp(cp: str) -> tuple[datetime | None, tuple[Reading, ...], dict[str, str]]:
    params: dict[str, str] = {}
    # canonical code -> [raw_code, values, flag, eflag, texts]
    acc: dict[str, list[object]] = {}
    numeric = NUMERIC_FIELDS
    reading_fields = _READING_FIELDS
    data_time: datetime | None = None
    for item in cp.split(";"):
        if not item:
            continue
        for pair in item.split(","):
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise _bad(f"CP item {_preview(pair)} is not key=value")
            raw_code, dash, name = key.rpartition("-")
            if not dash or name not in reading_fields or not raw_code:
                if key in params:
                    raise _bad(f"CP key {key!r} appears twice")
                params[key] = value
                if key == "DataTime":
                    data_time = parse_data_time(value)
                continue
            code = CODES_2005.get(raw_code, raw_code)
            entry = acc.get(code)
            if entry is None:
                entry = acc[code] = [raw_code, {}, None, None, {}]
            if name in numeric:
                try:
                    number = float(value)
                except ValueError:
                    raise _bad(f"{key}={value!r} is not a number") from None
                if not math.isfinite(number) or "_" in value:
                    raise _bad(f"{key}={value!r} is not a number")
                values = entry[1]
                assert isinstance(values, dict)
                values.setdefault(name, number)
            elif name == "Flag":
                if entry[2] is None:
                    entry[2] = value
                elif entry[2] != value:
                    # Two items of one pollutant disagree (e.g. Rtd vs ZsRtd): keep the
                    # first as the flag, and every other one visibly rather than dropping it.
                    texts = entry[4]
                    assert isinstance(texts, dict)
                    texts["Flag"] = f"{texts['Flag']},{value}" if "Flag" in texts else value
            elif name == "EFlag":
                if entry[3] is None:
                    entry[3] = value
            else:
                texts = entry[4]
                assert isinstance(texts, dict)
                texts.setdefault(name, value)
    readings = tuple(
        Reading(code, e[0], e[1], e[2], e[3], e[4])  # type: ignore[arg-type]
        for code, e in acc.items()
    )
    return data_time, readings, params


def _check_frame(frame: bytes | str) -> tuple[bytes, bytes]:
    """The frame without CR LF and its data segment, once header, length and CRC check out."""
    if isinstance(frame, str):
        try:
            data = frame.encode("utf-8")
        except UnicodeEncodeError:
            raise _bad("frame text cannot be encoded as UTF-8") from None
    else:
        data = bytes(frame)
    if data.endswith(b"\r\n"):
        data = data[:-2]
    if not data.startswith(b"##"):
        raise PacketError(
            RejectReason.no_header, f"frame does not start with '##': {_preview(data)}"
        )
    head = data[2:6]
    if len(head) != 4 or not head.isdigit():
        raise PacketError(
            RejectReason.no_header,
            f"'##' is not followed by a 4-digit length: {_preview(data[:12])}",
        )
    declared = int(head)
    actual = len(data) - 10
    if declared > MAX_DATA:
        raise PacketError(
            RejectReason.too_long,
            f"declared length {head.decode()} exceeds the {MAX_DATA}-byte maximum",
        )
    if actual != declared:
        if actual < 0:
            raise PacketError(
                RejectReason.length_mismatch,
                f"declared length {head.decode()} but the frame has only {len(data)} bytes, "
                "too short for a data segment and a CRC",
            )
        raise PacketError(
            RejectReason.length_mismatch,
            f"declared length {head.decode()} but data segment has {actual} bytes",
        )
    segment = data[6:-4]
    found = data[-4:]
    if not _HEX.issuperset(found):
        raise PacketError(
            RejectReason.crc_mismatch, f"CRC field {_preview(found)} is not 4 hex digits"
        )
    expected = crc(segment)
    if expected != int(found, 16):
        raise PacketError(
            RejectReason.crc_mismatch,
            f"CRC mismatch: expected {expected:04X}, found {found.decode()}",
        )
    return data, segment


def parse(frame: bytes | str) -> Packet:
    """Parse one frame (with or without its CR LF) or raise :class:`PacketError`."""
    data, _ = _check_frame(frame)
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(f"data segment is not valid UTF-8 (byte {exc.start - 6})") from None
    text = raw[6:-4]
    if text.startswith("CP=&&"):
        cp_at = 0
    else:
        cp_at = text.find(";CP=&&")
        if cp_at < 0:
            raise _bad("no CP=&&…&& field")
        cp_at += 1
    cp_start = cp_at + 5
    if not text.endswith("&&") or len(text) - 2 < cp_start:
        raise _bad("CP=&& is not closed by '&&' at the end of the data segment")
    cp = text[cp_start:-2]

    fields: dict[str, str] = {}
    if cp_at:
        for pair in text[: cp_at - 1].split(";"):
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise _bad(f"header field {_preview(pair)} is not key=value")
            if key in fields:
                raise _bad(f"header field {key!r} appears twice")
            fields[key] = value
    st = fields.get("ST")
    cn = fields.get("CN")
    mn = fields.get("MN")
    if st is None or cn is None or mn is None:
        missing = [k for k in ("ST", "CN", "MN") if k not in fields]
        raise _bad(f"header field {', '.join(missing)} missing")
    # ST is deliberately not checked for digits: 2005-dialect loggers in the sample capture
    # send "ST=\x00\x00" with a correct length and CRC, and the capture's documented
    # classification counts those packets valid. The raw value is kept for the receiver.
    if len(cn) != 4 or not _DIGITS.issuperset(cn):
        raise _bad(f"CN={cn!r} is not a 4-digit command code")
    flag = _int_field(fields, "Flag")
    if flag is not None and flag > 255:
        raise _bad(f"Flag={flag} does not fit in 8 bits")
    pnum = _int_field(fields, "PNUM")
    pno = _int_field(fields, "PNO")
    if (pnum is None) != (pno is None) or (pnum is None and flag is not None and flag & 2):
        raise PacketError(
            RejectReason.bad_split,
            "split packet needs both PNUM and PNO "
            f"(Flag={fields.get('Flag')}, PNUM={fields.get('PNUM')}, PNO={fields.get('PNO')})",
        )
    if pnum is not None and pno is not None and not 1 <= pno <= pnum:
        raise PacketError(RejectReason.bad_split, f"PNO={pno} outside 1..PNUM={pnum}")

    data_time, readings, params = _parse_cp(cp)
    return Packet(
        raw=raw,
        dialect=_dialect_of(flag),
        qn=fields.get("QN"),
        st=st,
        cn=cn,
        pw=fields.get("PW", ""),
        mn=mn,
        flag=flag,
        pnum=pnum,
        pno=pno,
        cp=cp,
        fields=fields,
        data_time=data_time,
        readings=readings,
        params=params,
    )
