"""Canonical JSON (RFC 8785, JCS) for ledger payloads.

Payloads hold strings, integers, booleans, null, lists and objects. Floats are refused:
their JCS form depends on ECMAScript number formatting, and money or dates are strings
here anyway. Integers must fit in ±(2**53 − 1) so every JSON reader agrees on them.
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalJSONError(ValueError):
    """A value that has no canonical JSON form here."""


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value``; raises CanonicalJSONError for what JCS cannot hold."""
    try:
        if _needs_utf16_order(value, "$"):
            return orjson.dumps(_utf16_sorted(value), option=orjson.OPT_STRICT_INTEGER)
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER)
    except (orjson.JSONEncodeError, UnicodeEncodeError) as exc:
        # lone surrogates have no UTF-8 form, so no canonical JSON either
        raise CanonicalJSONError(f"text that is not valid Unicode: {exc}") from None


def parse_json(data: bytes | str) -> Any:
    return orjson.loads(data)


def _needs_utf16_order(value: Any, path: str) -> bool:
    """Check the value's types; say whether any object key lies outside the BMP.

    orjson sorts keys by code point, JCS by UTF-16 code unit; the two orders differ only
    when a key holds a character above U+FFFF, which then takes the slow path.
    """
    t = type(value)
    if t is dict:
        astral = False
        for key, item in value.items():
            if type(key) is not str:
                raise CanonicalJSONError(f"{path}: object key {key!r} is not a string")
            if not key.isascii() and any(ord(c) > 0xFFFF for c in key):
                astral = True
            # scalars inline: this walk runs once per ledger entry
            ti = type(item)
            if ti is str or item is None or ti is bool:
                continue
            if ti is int and -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            if _needs_utf16_order(item, f"{path}.{key}"):
                astral = True
        return astral
    if t is list or t is tuple:
        astral = False
        for i, item in enumerate(value):
            if type(item) is str:
                continue
            if _needs_utf16_order(item, f"{path}[{i}]"):
                astral = True
        return astral
    if t is str or t is bool or value is None:
        return False
    if t is int:
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalJSONError(f"{path}: integer {value} is outside ±(2**53 − 1)")
        return False
    if t is float:
        raise CanonicalJSONError(f"{path}: floats are not allowed in ledger payloads ({value!r})")
    raise CanonicalJSONError(f"{path}: {t.__name__} has no JSON form")


def _utf16_sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _utf16_sorted(value[k]) for k in sorted(value, key=lambda k: k.encode("utf-16-be"))
        }
    if isinstance(value, list | tuple):
        return [_utf16_sorted(v) for v in value]
    return value
