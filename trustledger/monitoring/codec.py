"""HJ 212 codec: framing, CRC, parsing, split-packet reassembly and reply builders.

Pure functions and small state machines over bytes; no I/O. The wire format is described in
the project's monitoring reference (HJ 212-2017 §6.3, the 2005 dialect frames the same way):

    ## dddd <data segment> CCCC CR LF

Checks run in the order the sample traffic's independent implementation uses (so the capture
files classify exactly as documented): the ``##`` header and a 4-digit length, the declared
length against the UTF-8 byte length of the data segment, the CRC over those bytes, then the
fields. Unknown commands and unknown pollutant codes are accepted and kept raw.

Fields are read as strictly as the standard writes them, each refusal with its own reason
(:class:`RejectReason`): whitespace in a key or beside a separator, digits other than ASCII,
a malformed QN, CP above 950 characters (960 in the 2005 dialect), PNUM/PNO above 4 digits.
What real loggers do against the standard and the sample capture shows is needed is accepted
and named on the packet instead (:class:`Quirk`: 17-digit DataTime, a pollutant field
repeated with another value).

Oversized frames: HJ 212 caps the data segment at 1024 bytes and the 2025 revision keeps the
same framing, so :func:`parse` rejects a longer segment as ``too_long`` rather than guessing
at a bigger limit. The :class:`Framer` lets lines up to ``FRAMER_LIMIT`` (a little above the
maximum frame) through, so a slightly oversized frame still reaches :func:`parse` and gets a
precise reason; anything longer is cut off by the framer as ``too_long``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from trustledger.pollutants import CODES_2005, CODES_2017_TO_2005

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
    # Inconsistent packet splitting: PNUM/PNO missing, wider than the standard's 4 digits or
    # out of range, PNUM changing within a group, a conflicting duplicate part, or a group
    # that never completed.
    bad_split = "bad_split"
    # Whitespace where the standard has none: around "=", ";" or ",", after "CP=&&", or
    # inside a key. Read leniently it becomes part of a key ("a21026-Rtd " is no pollutant
    # field, so the value would be kept as an unknown parameter and the reading lost).
    whitespace = "whitespace"
    # A number written with digits other than ASCII 0-9 (full-width "１２.５", Arabic-Indic…):
    # Python's float() reads them, the standard's numeric fields are ASCII digits.
    non_ascii_digits = "non_ascii_digits"
    # QN is not YYYYMMDDhhmmsszzz: 17 digits that form a real instant.
    bad_qn = "bad_qn"


class Quirk(StrEnum):
    """Deviations from the standard that real loggers make, accepted and counted.

    A quirk never changes what is stored; it names what the codec tolerated, so an operator
    can see which loggers to have fixed. Each is seen in the sample capture (2016-08-24,
    three hours, 26,761 valid packets) or is the standard's own example.
    """

    # A frame ended by LF alone (counted by the framer, not on the packet).
    lf_only = "lf_only"
    # DataTime with milliseconds (17 digits) where the standard writes 14: 16,784 packets of
    # the capture's 2005-dialect loggers send it, so refusing it would lose most of their data.
    data_time_ms = "data_time_ms"
    # A pollutant field repeated in one CP with a different value (e.g. B01-Rtd three times,
    # or S05-Flag=N on the Rtd item and D on the ZsRtd item): 172 packets of two loggers in
    # the capture. The first value is kept: it is what every stored packet was read with, so
    # a stored row still parses to the same columns, and the capture gives no reason to
    # prefer a later one (the repeats look like further channels mapped onto one code).
    duplicate_key = "duplicate_key"


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
    quirks: tuple[Quirk, ...] = ()

    @property
    def needs_ack(self) -> bool:
        """Flag bit 0 (A); a 2005-dialect data upload without any Flag field is answered too:
        those loggers mostly send no Flag at all, and the dialect has the platform answer
        their uploads with 9014 (issue 14's comparison with HJ/T 212-2005)."""
        if self.flag is not None:
            return bool(self.flag & 1)
        return self.dialect is Dialect.hj212_2005 and self.cn.startswith("20")

    @property
    def is_split(self) -> bool:
        # In the 2005 dialect bit 1 alone does not make a split packet: the standard's own
        # Appendix C sends Flag=3 without PNUM/PNO.
        if self.pnum is not None:
            return True
        return (
            self.flag is not None and bool(self.flag & 2) and self.dialect is not Dialect.hj212_2005
        )

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
# What a value of a numeric field may be made of: ASCII digits, a minus sign and a decimal
# point (float() then refuses "-", "1-2" or "1..2"). No exponent, no "inf"/"nan", no
# underscores, no "+", no spaces, no other digits: all of those float() would read.
_NUMBER_CHARS = "0123456789.-"
# Whitespace that changes what is read: inside a key (between a separator and "="), after
# "=", or before a separator. A space inside a text value (Info=a b) is left alone.
_BAD_SPACE = re.compile(r"(?:\A|[;,&])[^=;,&]*\s[^=;,&]*=|=\s|\s[;,&]|\s\Z")
# Characters between "CP=&&" and "&&": HJ 212-2017 Table 4 (kept by 2025) 0-950;
# HJ/T 212-2005 0-960.
CP_LIMIT_2017 = 950
CP_LIMIT_2005 = 960
SPLIT_DIGITS = 4  # PNUM and PNO are N4 in both standards


def _preview(data: bytes | str, limit: int = 40) -> str:
    text = data if isinstance(data, str) else data.decode("utf-8", "backslashreplace")
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def _bad(detail: str) -> PacketError:
    return PacketError(RejectReason.bad_field, detail)


def _non_ascii_digits(text: str) -> bool:
    return any(c.isdigit() and not c.isascii() for c in text)


def _not_a_number(name: str, value: str) -> PacketError:
    if _non_ascii_digits(value):
        return PacketError(
            RejectReason.non_ascii_digits, f"{name}={value!r} has digits other than ASCII 0-9"
        )
    return _bad(f"{name}={value!r} is not a number")


def _instant(text: str, reason: RejectReason, name: str) -> datetime:
    """YYYYMMDDhhmmss, with zzz milliseconds when 17 digits long, as a naive datetime."""
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
        raise PacketError(reason, f"{name} {text!r} is not a valid time: {exc}") from None


def check_qn(qn: str) -> str:
    """``qn`` if it is a QN as the standard writes it (YYYYMMDDhhmmsszzz), else ``bad_qn``."""
    if len(qn) != 17 or not _DIGITS.issuperset(qn):
        raise PacketError(RejectReason.bad_qn, f"QN={qn!r} is not 17 digits YYYYMMDDhhmmsszzz")
    _instant(qn, RejectReason.bad_qn, "QN")
    return qn


def parse_data_time(text: str) -> datetime:
    """DataTime as naive device-local time: 14 digits, or 17 with milliseconds.

    Year-2000 values are real (loggers whose clock was reset) and therefore accepted.
    """
    if len(text) not in (14, 17) or not _DIGITS.issuperset(text):
        if _non_ascii_digits(text):
            raise PacketError(
                RejectReason.non_ascii_digits, f"DataTime {text!r} has digits other than 0-9"
            )
        raise PacketError(RejectReason.bad_timestamp, f"DataTime {text!r} is not 14 or 17 digits")
    try:  # _instant inlined: this runs for nearly every packet
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
        raise _not_a_number(name, value)
    return int(value)


def _split_field(fields: Mapping[str, str], name: str) -> int | None:
    number = _int_field(fields, name)
    if number is not None and len(fields[name]) > SPLIT_DIGITS:
        raise PacketError(
            RejectReason.bad_split,
            f"{name}={fields[name]} is wider than the standard's {SPLIT_DIGITS} digits",
        )
    return number


def _parse_cp(
    cp: str,
) -> tuple[datetime | None, tuple[Reading, ...], dict[str, str], tuple[Quirk, ...]]:
    params: dict[str, str] = {}
    # Per canonical code, in order of first appearance. Parallel typed dicts rather than one
    # list per code: no casts or asserts on the path every value of the traffic takes.
    raw_codes: dict[str, str] = {}
    values_of: dict[str, dict[str, float]] = {}
    flags: dict[str, str] = {}
    eflags: dict[str, str] = {}
    texts_of: dict[str, dict[str, str]] = {}
    numeric = NUMERIC_FIELDS
    reading_fields = _READING_FIELDS
    number_chars = _NUMBER_CHARS
    canonical = CODES_2005.get
    data_time: datetime | None = None
    quirks: tuple[Quirk, ...] = ()
    repeated = False
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
                    if len(value) == 17:
                        quirks += (Quirk.data_time_ms,)
                continue
            code = canonical(raw_code, raw_code)
            if code not in raw_codes:
                raw_codes[code] = raw_code
            if name in numeric:
                # str.strip is the cheapest exact test here (cheaper than a regex match),
                # and this line runs for every value of the traffic
                if value.strip(number_chars):
                    raise _not_a_number(key, value)
                try:
                    number = float(value)
                except ValueError:
                    raise _not_a_number(key, value) from None
                if not math.isfinite(number):
                    raise _bad(f"{key}={value!r} is not a finite number")
                values = values_of.get(code)
                if values is None:
                    values_of[code] = {name: number}
                elif values.setdefault(name, number) != number:
                    repeated = True
            elif name == "Flag":
                first = flags.setdefault(code, value)
                if first != value:
                    # Two items of one pollutant disagree (e.g. Rtd vs ZsRtd): keep the
                    # first as the flag, and every other one visibly rather than dropping it.
                    repeated = True
                    texts = texts_of.setdefault(code, {})
                    texts["Flag"] = f"{texts['Flag']},{value}" if "Flag" in texts else value
            elif name == "EFlag":
                if eflags.setdefault(code, value) != value:
                    repeated = True
            elif texts_of.setdefault(code, {}).setdefault(name, value) != value:
                repeated = True
    if repeated:
        quirks += (Quirk.duplicate_key,)
    readings = tuple(
        Reading(
            code,
            raw_code,
            values_of.get(code) or {},
            flags.get(code),
            eflags.get(code),
            texts_of.get(code) or {},
        )
        for code, raw_code in raw_codes.items()
    )
    return data_time, readings, params, quirks


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
    # Two C-speed scans show there is no whitespace at all (the usual case: none in the
    # sample traffic; isprintable() is false for every whitespace character but the space);
    # only otherwise is it located, so the strict check costs next to nothing.
    if " " in text or not text.isprintable():
        misplaced = _BAD_SPACE.search(text)
        if misplaced is not None:
            raise PacketError(
                RejectReason.whitespace,
                f"whitespace in a key or around a separator at {misplaced.start()}: "
                f"{_preview(text[max(misplaced.start() - 10, 0) : misplaced.end() + 10])}",
            )
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
    dialect = _dialect_of(flag)
    qn = fields.get("QN")
    if qn is not None:
        check_qn(qn)
    # two constants, not CP_LIMIT[dialect]: an Enum hashes in Python, on every packet
    limit = CP_LIMIT_2005 if dialect is Dialect.hj212_2005 else CP_LIMIT_2017
    if len(cp) > limit:
        raise PacketError(
            RejectReason.too_long,
            f"CP has {len(cp)} characters, above the {limit} of the {dialect} standard",
        )
    if "PNUM" in fields or "PNO" in fields:
        pnum = _split_field(fields, "PNUM")
        pno = _split_field(fields, "PNO")
    else:
        pnum = pno = None
    # Bit 1 (D) without PNUM/PNO is refused in 2017 and 2025; HJ/T 212-2005's own Appendix C
    # sends Flag=3 on requests that are not split, so there it only asks for an answer.
    lone_d = flag is not None and flag & 2 and dialect is not Dialect.hj212_2005
    if (pnum is None) != (pno is None) or (pnum is None and lone_d):
        raise PacketError(
            RejectReason.bad_split,
            "split packet needs both PNUM and PNO "
            f"(Flag={fields.get('Flag')}, PNUM={fields.get('PNUM')}, PNO={fields.get('PNO')})",
        )
    if pnum is not None and pno is not None and not 1 <= pno <= pnum:
        raise PacketError(RejectReason.bad_split, f"PNO={pno} outside 1..PNUM={pnum}")

    data_time, readings, params, quirks = _parse_cp(cp)
    # 2005-dialect requests and replies carry the request's QN inside CP.
    cp_qn = params.get("QN")
    if cp_qn is not None:
        check_qn(cp_qn)
    return Packet(
        raw=raw,
        dialect=dialect,
        qn=qn,
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
        quirks=quirks,
    )


def require_known(code: str) -> str:
    """``code`` if it is of the 2017 form or in the vocabulary, else ``unknown_code``."""
    if _CODE_2017.match(code) or code in CODES_2005:
        return code
    raise PacketError(
        RejectReason.unknown_code,
        f"pollutant code {code!r} is neither a 2017 code nor a known 2005 code",
    )


# ----------------------------------------------------------------------------------- framing


# Where a frame can begin: "##", four digits, and the first field of a data segment. A lone
# "##" inside a broken frame is not enough to cut it (values may hold '#'); this is.
_FRAME_START = re.compile(rb"##[0-9]{4}(?:QN|ST|CN|MN|PW|Flag)=")


class Framer:
    """Cuts a TCP byte stream into frames.

    A frame runs from ``##`` to the next line end. The line end, not the declared length,
    is the terminator: a frame with a wrong length must still come out whole so that
    :func:`parse` reports ``length_mismatch`` instead of the framer cutting it at a wrong
    place. CR LF is the standard's; LF alone is accepted too (some loggers send it) and
    counted in ``quirks["lf_only"]``, so that such a frame never swallows the next one.
    A plausible header (``##dddd`` and a field name) before the line end starts a new
    frame: the bytes before it are reported as ``truncated`` (a logger reset mid-send), so
    a broken frame never costs the good one after it. Bytes between frames are reported
    once per run as ``no_header``; runs of bare CR/LF (idle keep-alives) are skipped
    silently. The buffer never holds more than ``FRAMER_LIMIT + 1`` bytes between calls.
    """

    _SEEK, _FRAME, _DISCARD = 0, 1, 2

    def __init__(self, limit: int = FRAMER_LIMIT) -> None:
        self.limit = limit
        self._buf = b""
        self._state = self._SEEK
        self._in_garbage = False
        self.quirks: dict[str, int] = {}

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def _garbage(self, run: bytes, out: list[bytes | PacketError]) -> None:
        if self._in_garbage or not run.strip(b"\r\n"):
            return
        self._in_garbage = True
        out.append(PacketError(RejectReason.no_header, f"bytes outside a frame: {_preview(run)}"))

    def feed(self, chunk: bytes) -> list[bytes | PacketError]:
        """Frames (CR LF stripped) and framing errors completed by ``chunk``, in stream order."""
        data = self._buf + chunk if self._buf else bytes(chunk)
        out: list[bytes | PacketError] = []
        pos = 0
        n = len(data)
        limit = self.limit
        while pos < n:
            state = self._state
            if state == self._SEEK:
                start = data.find(b"##", pos)
                if start < 0:
                    # A trailing '#' may be the first half of the next header.
                    end = n - 1 if data.endswith(b"#") else n
                    self._garbage(data[pos:end], out)
                    pos = end
                    break
                # In "###0101…" the header is the last two '#'; the byte after "##" must be
                # seen before deciding, so wait for it at the end of the buffer.
                while start + 2 < n and data[start + 2] == 0x23:
                    start += 1
                if start > pos:
                    self._garbage(data[pos:start], out)
                if start + 2 >= n:
                    pos = start
                    break
                self._in_garbage = False
                self._state = self._FRAME
                pos = start
            elif state == self._FRAME:
                end = data.find(b"\n", pos + 2, pos + limit + 2)
                restart = _FRAME_START.search(
                    data, pos + 2, min(n if end < 0 else end, pos + limit + 2)
                )
                if restart is not None:
                    cut = restart.start()
                    out.append(
                        PacketError(
                            RejectReason.truncated,
                            f"frame cut off by the next frame's header after {cut - pos} "
                            f"bytes: {_preview(data[pos:cut])}",
                        )
                    )
                    pos = cut
                elif end >= 0:
                    if data[end - 1] == 0x0D:
                        out.append(data[pos : end - 1])
                    else:
                        out.append(data[pos:end])
                        self.quirks["lf_only"] = self.quirks.get("lf_only", 0) + 1
                    pos = end + 1
                    self._state = self._SEEK
                elif n - pos >= limit + 2:
                    out.append(
                        PacketError(
                            RejectReason.too_long,
                            f"no CR LF within {limit} bytes after '##': "
                            f"{_preview(data[pos : pos + 40])}",
                        )
                    )
                    pos += 2
                    self._state = self._DISCARD
                else:
                    break
            else:
                crlf = data.find(b"\n", pos)
                hashes = data.find(b"##", pos)
                if crlf >= 0 and (hashes < 0 or crlf < hashes):
                    pos = crlf + 1
                    self._state = self._SEEK
                elif hashes >= 0:
                    pos = hashes
                    self._state = self._FRAME
                else:
                    # Keep one byte: it may be the '\r' of CR LF or the first '#' of "##".
                    pos = max(pos, n - 1)
                    break
        self._buf = data[pos:]
        return out

    def flush(self) -> list[bytes | PacketError]:
        """At end of stream: the unterminated last frame (parse accepts a frame without
        CR LF), or nothing."""
        rest, state = self._buf, self._state
        self._buf, self._state, self._in_garbage = b"", self._SEEK, False
        if state == self._FRAME and rest:
            return [rest]
        return []


# ------------------------------------------------------------------------------ reassembly

SplitKey = tuple[str, str | None, str]


@dataclass(frozen=True, slots=True)
class PendingSplit:
    """A split packet that did not complete: reported by :meth:`Reassembler.expire`."""

    key: SplitKey
    pnum: int
    parts: tuple[Packet, ...]
    first_seen: datetime

    def error(self) -> PacketError:
        mn, qn, cn = self.key
        got = sorted(p.pno or 0 for p in self.parts)
        missing = sorted(set(range(1, self.pnum + 1)) - set(got))
        return PacketError(
            RejectReason.bad_split,
            f"split packet MN={mn} QN={qn} CN={cn} incomplete: {len(got)} of {self.pnum} "
            f"parts arrived, missing PNO {missing}",
        )


@dataclass(slots=True)
class _Group:
    pnum: int
    first_seen: datetime
    parts: dict[int, Packet]


def combine(parts: Sequence[Packet]) -> Packet:
    """One packet from all parts of a split packet, in PNO order.

    ``raw`` is the parts' frames joined by CR LF, exactly as they came over the wire, so the
    evidence (and the digest over it) covers every received byte. Readings and params are
    merged (a pollutant cut across parts becomes one reading); PNUM/PNO and Flag bit 1 are
    dropped because the result is no longer a part.
    """
    ordered = sorted(parts, key=lambda p: p.pno or 0)
    first = ordered[0]
    merged: dict[str, list[Reading]] = {}
    params: dict[str, str] = {}
    for part in ordered:
        for reading in part.readings:
            merged.setdefault(reading.code, []).append(reading)
        for key, value in part.params.items():
            params.setdefault(key, value)
    readings = tuple(_merge_readings(group) for group in merged.values())
    flag = None if first.flag is None else first.flag & ~2
    fields = {k: v for k, v in first.fields.items() if k not in ("PNUM", "PNO")}
    if flag is not None:
        fields["Flag"] = str(flag)
    data_time = next((p.data_time for p in ordered if p.data_time is not None), None)
    return Packet(
        raw="\r\n".join(p.raw for p in ordered),
        dialect=first.dialect,
        qn=first.qn,
        st=first.st,
        cn=first.cn,
        pw=first.pw,
        mn=first.mn,
        flag=flag,
        pnum=None,
        pno=None,
        cp=";".join(p.cp for p in ordered if p.cp),
        fields=fields,
        data_time=data_time,
        readings=readings,
        params=params,
        quirks=tuple(dict.fromkeys(q for p in ordered for q in p.quirks)),
    )


def _merge_readings(group: list[Reading]) -> Reading:
    if len(group) == 1:
        return group[0]
    values: dict[str, float] = {}
    texts: dict[str, str] = {}
    for r in group:
        for k, v in r.values.items():
            values.setdefault(k, v)
        for k, t in r.texts.items():
            texts.setdefault(k, t)
    flag = next((r.flag for r in group if r.flag is not None), None)
    eflag = next((r.eflag for r in group if r.eflag is not None), None)
    return Reading(group[0].code, group[0].raw_code, values, flag, eflag, texts)


class Reassembler:
    """Collects the parts of split packets, keyed by (MN, QN, CN) of the first part.

    Parts of one message may each carry their own QN, as in the split example of
    HJ 212-2017 (each part a fresh request number). A part whose (MN, QN, CN) opens no
    group therefore joins the newest open group of the same MN, CN, ST and PNUM when that
    group still lacks its PNO and no DataTime of the two disagrees; only the newest, so a
    message that lost a part never absorbs the parts of the message sent after it.

    Bounded: at most ``max_groups`` pending groups (the oldest is evicted and reported by the
    next :meth:`expire`), and :meth:`expire` drops groups older than ``max_age_seconds``.
    Arrival times are whatever clock the caller passes; use one kind (naive or aware)
    consistently.
    """

    def __init__(self, max_groups: int = 1024, max_age_seconds: float = 600.0) -> None:
        self.max_groups = max_groups
        self.max_age_seconds = max_age_seconds
        self._groups: OrderedDict[SplitKey, _Group] = OrderedDict()
        self._evicted: list[PendingSplit] = []

    def __len__(self) -> int:
        return len(self._groups)

    def add(self, packet: Packet, now: datetime | None = None) -> Packet | None:
        """The combined packet once all parts are in; None while waiting. A packet that is
        not split comes straight back. A repeated identical part is ignored."""
        if not packet.is_split:
            return packet
        pnum, pno = packet.pnum, packet.pno
        if pnum is None or pno is None:
            raise PacketError(RejectReason.bad_split, "split packet without PNUM/PNO")
        if not 1 <= pno <= pnum:
            raise PacketError(RejectReason.bad_split, f"PNO={pno} outside 1..PNUM={pnum}")
        key: SplitKey = (packet.mn, packet.qn, packet.cn)
        group = self._groups.get(key)
        if group is None:
            sibling = self._sibling(packet, pnum, pno)
            if sibling is not None:
                key, group = sibling
        if group is None:
            if pnum == 1:
                return combine([packet])
            group = _Group(pnum, now if now is not None else datetime.now(), {})
            self._groups[key] = group
            while len(self._groups) > self.max_groups:
                old_key, old = self._groups.popitem(last=False)
                self._evicted.append(_pending(old_key, old))
        if group.pnum != pnum:
            raise PacketError(
                RejectReason.bad_split,
                f"PNUM changed within split packet MN={packet.mn} QN={packet.qn}: "
                f"{group.pnum} then {pnum}",
            )
        seen = group.parts.get(pno)
        if seen is not None:
            if seen.raw == packet.raw:
                return None
            raise PacketError(
                RejectReason.bad_split,
                f"PNO={pno} of MN={packet.mn} QN={packet.qn} received twice with different content",
            )
        group.parts[pno] = packet
        if len(group.parts) < pnum:
            return None
        del self._groups[key]
        return combine(list(group.parts.values()))

    def _sibling(self, packet: Packet, pnum: int, pno: int) -> tuple[SplitKey, _Group] | None:
        """The newest open group of the packet's MN and CN, if the packet can be its part."""
        for key, group in reversed(self._groups.items()):
            if key[0] != packet.mn or key[2] != packet.cn:
                continue
            parts = group.parts.values()
            times = {p.data_time for p in parts if p.data_time is not None}
            seen = group.parts.get(pno)
            fits = (
                group.pnum == pnum
                # a resent part (same bytes) belongs here too, and add() then ignores it
                and (seen is None or seen.raw == packet.raw)
                and all(p.st == packet.st for p in parts)
                and (packet.data_time is None or times <= {packet.data_time})
            )
            return (key, group) if fits else None
        return None

    def expire(self, now: datetime) -> list[PendingSplit]:
        """Groups older than the age limit (and any evicted for space), removed."""
        out, self._evicted = self._evicted, []
        for key in [
            k
            for k, g in self._groups.items()
            if (now - g.first_seen).total_seconds() > self.max_age_seconds
        ]:
            out.append(_pending(key, self._groups.pop(key)))
        return out


def _pending(key: SplitKey, group: _Group) -> PendingSplit:
    parts = tuple(group.parts[k] for k in sorted(group.parts))
    return PendingSplit(key, group.pnum, parts, group.first_seen)


# ---------------------------------------------------------------------------------- builders

FieldsLike = Mapping[str, str] | Iterable[tuple[str, str]]


def build(fields: FieldsLike, cp: str) -> bytes:
    """A complete frame, CR LF included, with the length and CRC computed."""
    pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
    for key, value in pairs:
        if not key or any(c in key for c in ";=,&") or key == "CP":
            raise _bad(f"header field name {key!r} cannot be sent")
        if any(c in value for c in ";&"):
            raise _bad(f"header field {key}={value!r} cannot be sent")
    head = "".join(f"{k}={v};" for k, v in pairs)
    segment = f"{head}CP=&&{cp}&&".encode()
    if len(segment) > MAX_DATA:
        raise PacketError(
            RejectReason.too_long,
            f"data segment of {len(segment)} bytes exceeds the {MAX_DATA}-byte maximum",
        )
    return b"##%04d%s%04X\r\n" % (len(segment), segment, crc(segment))


def _number(value: float | str) -> str:
    if isinstance(value, str):
        if any(c in value for c in ";,=&"):
            raise _bad(f"value {value!r} cannot be sent")
        return value
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise _bad(f"value {value!r} is not a finite number")
    return repr(float(value))  # shortest text that reads back as the same float


def _qn_of(moment: datetime) -> str:
    return f"{moment:%Y%m%d%H%M%S}{moment.microsecond // 1000:03d}"


def build_data(
    mn: str,
    cn: str,
    data_time: datetime,
    readings: Mapping[str, Mapping[str, float | str]],
    *,
    st: str = "31",
    pw: str = "123456",
    qn: str | None = None,
    flag: int | None = None,
    dialect: Dialect = Dialect.hj212_2017,
) -> bytes:
    """A data upload (2011/2051/2061/2031…) as a logger of ``dialect`` would send it.

    Codes are given in 2017 form (or as known 2005 codes); for the 2005 dialect, codes with a
    2005 equivalent are written in 2005 form. DataTime is the standard's 14 digits in every
    dialect (the 17-digit form of many 2005 loggers is a quirk the parser tolerates, not
    something to imitate). ``flag`` None means the dialect's version bits (no Flag field for
    2005); ``qn`` None means none for 2005 and one derived from ``data_time`` otherwise.
    """
    items: list[str] = []
    for code, values in readings.items():
        require_known(code)
        wire = code
        if dialect is Dialect.hj212_2005:
            wire = CODES_2017_TO_2005.get(code, code)
        elif code in CODES_2005:
            wire = CODES_2005[code]
        parts = []
        for name, value in values.items():
            if not name or any(c in name for c in ";,=&-"):
                raise _bad(f"field name {name!r} cannot be sent")
            parts.append(f"{wire}-{name}={_number(value)}")
        if parts:
            items.append(",".join(parts))
    stamp = f"{data_time:%Y%m%d%H%M%S}"
    if dialect is not Dialect.hj212_2005:
        if qn is None:
            qn = _qn_of(data_time)
        if flag is None:
            flag = _VERSION_BITS[dialect]
    fields: list[tuple[str, str]] = []
    if qn is not None:
        fields.append(("QN", qn))
    fields += [("ST", st), ("CN", cn), ("PW", pw), ("MN", mn)]
    if flag is not None:
        fields.append(("Flag", str(flag)))
    return build(fields, ";".join([f"DataTime={stamp}", *items]))


def _request_qn(request: Packet) -> str | None:
    # 2005-dialect platform requests carry their QN inside CP (e.g. 1013 in the capture).
    return request.qn or request.params.get("QN")


def _reply_fields(request: Packet, cn: str, moment: datetime | None) -> list[tuple[str, str]]:
    fields = [("QN", request.qn or _qn_of(moment or datetime.now()))]
    fields += [("ST", "91"), ("CN", cn), ("PW", request.pw), ("MN", request.mn)]
    fields.append(("Flag", str((request.flag or 0) & 0xFC)))
    return fields


def ack_for(packet: Packet, now: datetime) -> bytes | None:
    """The platform's acknowledgement when the packet asks for one (:attr:`Packet.needs_ack`),
    else None.

    Data uploads (CN 20xx) get 9014 (data response), anything else 9013 (notice response).
    2017 and 2025: CP=&&&& with the request's QN, PW, MN and Flag version bits (bit 0
    cleared), as in the HJ 212-2017 example
    ``QN=20160801085000001;ST=91;CN=9014;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&``.
    2005: the header is ST, CN, PW and MN only, as in the dialect's 9012 example
    (``ST=91;CN=9012;PW=123456;MN=88888880000001;CP=&&QN=20040516010101001;ExeRtn=1&&``);
    CP names the request: its QN when it had one (none is made up), its CN, and its PNUM/PNO
    when it was a part, so each part's answer says which part it is. ``now`` stands in for a
    missing QN in 2017 and 2025 only, where the header must have one.
    """
    if not packet.needs_ack:
        return None
    cn = "9014" if packet.cn.startswith("20") else "9013"
    if packet.dialect is Dialect.hj212_2005:
        items = []
        qn = _request_qn(packet)
        if qn is not None:
            items.append(f"QN={qn}")
        items.append(f"CN={packet.cn}")
        items += [f"{k}={v}" for k, v in packet.fields.items() if k in ("PNUM", "PNO")]
        return build(
            [("ST", "91"), ("CN", cn), ("PW", packet.pw), ("MN", packet.mn)], ";".join(items)
        )
    return build(_reply_fields(packet, cn, now), "")


def _reply(request: Packet, cn: str, key: str, value: int) -> bytes:
    if request.dialect is Dialect.hj212_2005 or request.qn is None:
        # As the 2005 loggers in the sample capture answer: QN inside CP, Flag=0 on 9011.
        fields = [("ST", "91"), ("CN", cn), ("PW", request.pw), ("MN", request.mn)]
        if cn == "9011":
            fields.append(("Flag", "0"))
        qn = _request_qn(request) or _qn_of(datetime.now())
        return build(fields, f"QN={qn};{key}={value}")
    return build(_reply_fields(request, cn, None), f"{key}={value}")


def reply_9011(request: Packet, qn_rtn: int) -> bytes:
    """Request response (QnRtn: 1 ready to execute, 2 refused, 3 PW wrong, 4 MN wrong, …)."""
    return _reply(request, "9011", "QnRtn", qn_rtn)


def result_9012(request: Packet, exe_rtn: int) -> bytes:
    """Execution result (ExeRtn: 1 success, 2 failed for an unknown reason, 100 no data, …)."""
    return _reply(request, "9012", "ExeRtn", exe_rtn)
