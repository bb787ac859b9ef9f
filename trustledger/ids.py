"""Identifiers of subjects: Unified Social Credit Codes and resident ID numbers.

The rules are GB 32100 (USCC), GB 11714 (organisation code) and GB 11643 with
ISO 7064 MOD 11-2 (resident ID number), as summarised in the shared identifiers reference.
This module only checks and hashes identifiers; it never stores a resident ID number, and
every rendering of a check result masks one.
"""

from __future__ import annotations

import errno
import hmac
import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from operator import mul
from pathlib import Path
from typing import Any, Literal

from trustledger.domain import SubjectKind, kind_of_uscc

__all__ = [
    "ALLOWLIST_WARNING",
    "AMBIGUOUS_ERROR",
    "ENV_PERSON_KEY",
    "ENV_PERSON_KEY_FILE",
    "MIN_PERSON_KEY_BYTES",
    "USCC_ALPHABET",
    "USCC_WEIGHTS",
    "Division",
    "IdCheck",
    "PersonKeyError",
    "PersonKeyer",
    "PersonKeyring",
    "Scheme",
    "check_identifier",
    "check_resident_id",
    "check_uscc",
    "create_person_key_file",
    "division_of",
    "load_allowlist",
    "load_person_key",
    "load_person_keyring",
    "mask_code",
    "mask_personal_numbers",
    "mask_resident_id",
    "normalise_code",
    "org_code_check_char",
    "person_key_path",
    "person_key_versions",
    "resident_id_check_char",
    "uscc_check_char",
]

Scheme = Literal["uscc", "resident_id"]

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(17))
_USCC_VALUES: dict[str, int] = {c: i for i, c in enumerate(USCC_ALPHABET)}

_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_VALUES: dict[str, int] = {c: i for i, c in enumerate(_ORG_ALPHABET)}
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# Indexed by C = 11 - (S mod 11), which is 1..11; index 0 is never used.
_ORG_CHECK_CHARS = "_123456789X0"

# Byte → value tables for bytes.translate: checking a code in C rather than per character
# in Python is what keeps check_uscc cheap on the bulk-intake path. 255 marks a bad byte.
_BAD = 255
_USCC_TABLE = bytes(_USCC_VALUES.get(chr(b), _BAD) for b in range(256))
_ORG_TABLE = bytes(_ORG_VALUES.get(chr(b), _BAD) for b in range(256))

_RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_CHECK_CHARS = "10X98765432"

_DIGITS = frozenset("0123456789")
_RESIDENT_LAST = frozenset("0123456789X")

ALLOWLIST_WARNING = "on the allow-list of known non-conforming codes"
AMBIGUOUS_ERROR = (
    "ambiguous identifier: valid both as a USCC and as a resident ID number; "
    "say whether the subject is a person or an organisation"
)

ENV_PERSON_KEY = "TRUSTLEDGER_PERSON_KEY"
ENV_PERSON_KEY_FILE = "TRUSTLEDGER_PERSON_KEY_FILE"
MIN_PERSON_KEY_BYTES = 32
_FINGERPRINT_LABEL = b"trustledger person-key fingerprint v1"


def normalise_code(text: str) -> str:
    """Full-width to half-width (NFKC), surrounding whitespace removed, upper case."""
    # Almost all input is plain ASCII; skipping NFKC for it keeps bulk intake fast.
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.strip().upper()


def _is_digits(text: str) -> bool:
    # str.isdigit alone accepts non-ASCII digits such as '٣', which no identifier uses.
    return text.isascii() and text.isdigit()


def uscc_check_char(first17: str) -> str:
    """Check character (position 18) of a USCC from its first 17 characters.

    Raises ValueError if ``first17`` is not 17 characters of the USCC alphabet.
    """
    if len(first17) != 17:
        raise ValueError(f"need 17 characters, got {len(first17)}")
    bad = [c for c in first17 if c not in _USCC_VALUES]
    if bad:
        raise ValueError(f"bad character {bad[0]!r} (not in the USCC alphabet)")
    return USCC_ALPHABET[-sum(map(mul, map(_USCC_VALUES.__getitem__, first17), USCC_WEIGHTS)) % 31]


def org_code_check_char(first8: str) -> str:
    """Check character of a GB 11714 organisation code from its first 8 characters."""
    if len(first8) != 8:
        raise ValueError(f"need 8 characters, got {len(first8)}")
    try:
        total = sum(map(mul, map(_ORG_VALUES.__getitem__, first8), _ORG_WEIGHTS))
    except KeyError as exc:
        raise ValueError(f"bad character {exc.args[0]!r} (not 0-9 or A-Z)") from None
    return _ORG_CHECK_CHARS[11 - total % 11]


def resident_id_check_char(first17: str) -> str:
    """Check character of a resident ID number (ISO 7064 MOD 11-2) from its first 17 digits."""
    if len(first17) != 17 or not _is_digits(first17):
        raise ValueError("need 17 digits")
    total = sum(map(mul, map(int, first17), _RESIDENT_WEIGHTS))
    return _RESIDENT_CHECK_CHARS[total % 11]


@dataclass(frozen=True, slots=True)
class Division:
    """Administrative division (GB/T 2260) at its three levels, each a six-digit code."""

    province: str
    prefecture: str
    county: str

    def to_json(self) -> dict[str, str]:
        return {"province": self.province, "prefecture": self.prefecture, "county": self.county}


@lru_cache(maxsize=8192)
def division_of(code6: str) -> Division:
    """Division of a six-digit code: ``440305`` → 440000 / 440300 / 440305."""
    # Cached because there are only a few thousand divisions and intake sees them over and over.
    if len(code6) != 6 or not _is_digits(code6):
        raise ValueError(f"division code must be six digits, got {code6!r}")
    return Division(code6[:2] + "0000", code6[:4] + "00", code6)


def mask_code(code: str) -> str:
    """First 6 and last 4 characters kept, the rest hidden (how resident IDs are shown)."""
    if len(code) <= 10:
        return "*" * len(code)
    return code[:6] + "********" + code[-4:]


def _birth_date(digits8: str) -> date | None:
    if len(digits8) != 8 or not _is_digits(digits8):
        return None
    try:
        return date(int(digits8[:4]), int(digits8[4:6]), int(digits8[6:]))
    except ValueError:
        return None


def birth_date(resident_id: str) -> date | None:
    """The birth date a resident ID number carries (positions 7-14, or 7-12 with 19 before
    them in a 15-digit first-generation number); None if it carries none."""
    if len(resident_id) == 15:
        return _birth_date("19" + resident_id[6:12])
    return _birth_date(resident_id[6:14])


def age_on(born: date, day: date) -> int:
    """Full years from ``born`` to ``day`` (a birthday on 29 February is reached on 1 March
    in other years)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _may_be_resident_id(code: str) -> bool:
    # Errs towards hiding: a resident ID with a typo or cut short is still personal data.
    return len(code) >= 14 and _is_digits(code[:14]) and _birth_date(code[6:14]) is not None


def _plausible_resident_id(code: str) -> bool:
    return len(code) >= 17 and _is_digits(code[:17]) and _birth_date(code[6:14]) is not None


# a run of digits (any script's, full-width included) long enough to hold most of a
# resident ID number, with the check character X it may end in
_DIGIT_RUN = re.compile(r"\d{14,}[XxＸｘ]?")


def _may_hold_resident_id(code: str) -> bool:
    if len(code) == 15 and _is_digits(code):
        # a first-generation (15-digit) number: a two-digit year at positions 7–8
        return _birth_date("19" + code[6:12]) is not None
    return any(_may_be_resident_id(code[i:]) for i in range(len(code) - 13))


def mask_resident_id(code: str) -> str:
    """A person's identifier masked: a whole number as ``mask_code`` shows it, a shorter
    one (cut short or mistyped) with its first 6 characters only, since ``mask_code``'s
    last four would be digits of the birth date."""
    if len(code) >= 18:
        return mask_code(code)
    return code[:6] + "*" * (len(code) - 6) if len(code) > 10 else "*" * len(code)


def mask_personal_numbers(text: str) -> str:
    """``text`` with every digit run that is, or may be, a resident ID number masked.

    For free text that may hold a number anywhere (a refused line's fields, a message that
    echoes what it was given). Like ``IdCheck.is_personal`` it errs towards hiding: a
    number cut short, mistyped, run into other digits or in full-width digits is masked
    too, and so is the odd other code whose digits read as one.
    """

    def mask(match: re.Match[str]) -> str:
        code = normalise_code(match.group())
        return mask_resident_id(code) if _may_hold_resident_id(code) else match.group()

    return _DIGIT_RUN.sub(mask, text)


@dataclass(frozen=True, slots=True, repr=False)
class IdCheck:
    """Outcome of checking one identifier.

    ``kind`` and ``division`` are set only when ``valid``. ``scheme`` is the scheme the code
    was checked against; it is None only when the scheme could not be decided (ambiguous).
    ``code`` may be a resident ID number in the clear: show ``display_code`` instead.
    """

    code: str
    scheme: Scheme | None
    valid: bool
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    kind: SubjectKind | None = None
    division: Division | None = None

    @property
    def is_personal(self) -> bool:
        """Whether ``code`` is, or may be, a person's ID number and so must not be shown."""
        # Even a valid USCC is hidden when it reads as a resident ID: a person's number
        # checked with the wrong hint may pass as a USCC, and hiding the odd organisation
        # code whose digits look like a birth date costs far less than showing a person's.
        return self.scheme == "resident_id" or _may_be_resident_id(self.code)

    @property
    def display_code(self) -> str:
        return mask_resident_id(self.code) if self.is_personal else self.code

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.display_code,
            "scheme": self.scheme,
            "valid": self.valid,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "kind": None if self.kind is None else self.kind.value,
            "division": None if self.division is None else self.division.to_json(),
        }

    def __repr__(self) -> str:
        # Masked so that logging a check never leaks a resident ID number.
        return (
            f"IdCheck(code={self.display_code!r}, scheme={self.scheme!r}, valid={self.valid!r}, "
            f"errors={self.errors!r}, warnings={self.warnings!r}, kind={self.kind!r}, "
            f"division={self.division!r})"
        )


def check_uscc(code: str, allowlist: frozenset[str] = frozenset()) -> IdCheck:
    """Check a Unified Social Credit Code, reporting every problem found."""
    code = normalise_code(code)
    # Fast path for the common case, a conforming code; anything else takes the full path,
    # which finds and words every problem.
    if len(code) == 18 and code.isascii() and code[2:8].isdigit():
        raw = code.encode("ascii")
        values = raw.translate(_USCC_TABLE)
        if _BAD not in values and code not in allowlist:
            check = USCC_ALPHABET[-sum(map(mul, values, USCC_WEIGHTS)) % 31]
            org_total = sum(map(mul, raw[8:16].translate(_ORG_TABLE), _ORG_WEIGHTS))
            if check == code[17] and _ORG_CHECK_CHARS[11 - org_total % 11] == code[16]:
                division = division_of(code[2:8])
                return IdCheck(code, "uscc", True, (), (), kind_of_uscc(code), division)
    return _check_uscc_full(code, allowlist)


def _check_uscc_full(code: str, allowlist: frozenset[str]) -> IdCheck:
    errors: list[str] = []
    warnings: list[str] = []
    n = len(code)
    if n != 18:
        errors.append(f"wrong length: {n} characters, expected 18")
    chars_ok = True
    for i, c in enumerate(code, 1):
        if c not in _USCC_VALUES:
            errors.append(f"bad character {c!r} at position {i} (not in the USCC alphabet)")
            chars_ok = False
    division_ok = n >= 8
    for i, c in enumerate(code[2:8], 3):
        if c in _DIGITS:
            continue
        division_ok = False
        # Characters outside the alphabet were reported above; one report per character.
        if c in _USCC_VALUES:
            errors.append(
                f"positions 3–8 (division code) must be digits, found {c!r} at position {i}"
            )
            break
    if n == 18 and chars_ok:
        expected = uscc_check_char(code[:17])
        if expected != code[17]:
            errors.append(f"check character expected {expected}, got {code[17]}")
        org_expected = org_code_check_char(code[8:16])
        if org_expected != code[16]:
            warnings.append(
                f"organisation code check character expected {org_expected}, got {code[16]}"
            )
    if code in allowlist:
        # The operator vouches for the code, so its failures become warnings.
        warnings = [ALLOWLIST_WARNING, *errors, *warnings]
        errors = []
    valid = not errors
    return IdCheck(
        code=code,
        scheme="uscc",
        valid=valid,
        errors=tuple(errors),
        warnings=tuple(warnings),
        kind=kind_of_uscc(code) if valid else None,
        division=division_of(code[2:8]) if valid and division_ok else None,
    )


def check_resident_id(number: str, *, today: date | None = None) -> IdCheck:
    """Check an 18-character resident ID number, reporting every problem found.

    Messages never repeat the birth date or other digits of the number.
    """
    code = normalise_code(number)
    errors: list[str] = []
    n = len(code)
    if n != 18:
        errors.append(f"wrong length: {n} characters, expected 18")
    chars_ok = True
    for i, c in enumerate(code[:17], 1):
        if c not in _DIGITS:
            errors.append(
                f"bad character {c!r} at position {i} (the first 17 characters must be digits)"
            )
            chars_ok = False
    if n >= 18 and code[17] not in _RESIDENT_LAST:
        errors.append(f"bad character {code[17]!r} at position 18 (must be a digit or X)")
        chars_ok = False
    digits8 = code[6:14]
    if len(digits8) == 8 and _is_digits(digits8):
        born = _birth_date(digits8)
        if born is None:
            errors.append("birth date (positions 7–14) is not a real date")
        elif born.year < 1900:
            errors.append("birth date (positions 7–14) is before 1900")
        elif born > (today or date.today()):
            errors.append("birth date (positions 7–14) is in the future")
    if n == 18 and chars_ok:
        expected = resident_id_check_char(code[:17])
        if expected != code[17]:
            errors.append(f"check character expected {expected}, got {code[17]}")
    valid = not errors
    return IdCheck(
        code=code,
        scheme="resident_id",
        valid=valid,
        errors=tuple(errors),
        kind=SubjectKind.PERSON if valid else None,
        division=division_of(code[:6]) if valid else None,
    )


def check_identifier(
    text: str,
    kind_hint: str | None = None,
    allowlist: frozenset[str] = frozenset(),
    *,
    today: date | None = None,
) -> IdCheck:
    """Check a subject identifier of either scheme.

    ``kind_hint`` is ``"person"``, ``"organisation"`` or None. Without a hint a code valid
    under both schemes is rejected as ambiguous; a code valid under neither is reported
    under the more plausible scheme.
    """
    if kind_hint == "person":
        return check_resident_id(text, today=today)
    if kind_hint == "organisation":
        return check_uscc(text, allowlist)
    if kind_hint is not None:
        raise ValueError(f"unknown kind hint {kind_hint!r}: expected 'person' or 'organisation'")
    code = normalise_code(text)
    uscc = check_uscc(code, allowlist)
    if not _plausible_resident_id(code):
        # The resident ID check cannot pass, so skip it (this is the bulk-intake path).
        return uscc
    resident = check_resident_id(code, today=today)
    if uscc.valid and resident.valid:
        return IdCheck(code=code, scheme=None, valid=False, errors=(AMBIGUOUS_ERROR,))
    if uscc.valid:
        return uscc
    return resident


class PersonKeyError(Exception):
    """The secret key for person ids is missing or unusable."""


class PersonKeyer:
    """Derives the stored person id from a resident ID number with a secret key.

    Callers check the number first (``check_identifier``): an invalid number would still
    hash, and a stored hash cannot be corrected later.
    """

    __slots__ = ("_key", "version")

    def __init__(self, key: bytes, version: int = 1) -> None:
        if len(key) < MIN_PERSON_KEY_BYTES:
            raise ValueError(
                f"person key too short: {len(key)} bytes, need at least {MIN_PERSON_KEY_BYTES}"
            )
        self._key = bytes(key)
        # 1 for the key a database was created with; each rotation adds one
        self.version = version

    def keyed_hash(self, resident_id: str) -> str:
        """The hash of the number under this key alone (``person_id`` may map it on)."""
        data = normalise_code(resident_id).encode("utf-8")
        return "P" + hmac.digest(self._key, data, "sha256").hex()[:32]

    def person_id(self, resident_id: str) -> str:
        data = normalise_code(resident_id).encode("utf-8")
        return "P" + hmac.digest(self._key, data, "sha256").hex()[:32]

    def fingerprint(self) -> str:
        """Short tag stored alongside person ids so that a wrong key is noticed."""
        return hmac.digest(self._key, _FINGERPRINT_LABEL, "sha256").hex()[:16]

    def __repr__(self) -> str:
        return f"PersonKeyer(version={self.version}, fingerprint={self.fingerprint()!r})"


# what a keyring asks to turn the keyed hashes of one number (current key first, then the
# retired keys newest first, each with its version) into the person's stable id
Resolver = Callable[[list[tuple[int, str]]], str]


class PersonKeyring(PersonKeyer):
    """The current person key with the retired keys kept beside it.

    A person keeps the id derived under the key that was current when they were first
    seen; after a rotation the same number hashes differently under the new key, so
    ``person_id`` hands the hashes under every kept key to a resolver (the application
    layer, which knows the stored ids and the links the ledger holds). With no retired key,
    or no resolver, it is a plain ``PersonKeyer`` of the current key.
    """

    __slots__ = ("resolver", "retired")

    def __init__(self, current: PersonKeyer, retired: Sequence[PersonKeyer] = ()) -> None:
        super().__init__(current._key, current.version)
        self.retired: tuple[PersonKeyer, ...] = tuple(
            sorted(retired, key=lambda k: k.version, reverse=True)
        )
        if any(k.version >= current.version for k in self.retired):
            raise ValueError("a retired person key must be older than the current one")
        self.resolver: Resolver | None = None

    def hashes(self, resident_id: str) -> list[tuple[int, str]]:
        """(version, keyed hash) under the current key, then under each retired key."""
        return [(k.version, k.keyed_hash(resident_id)) for k in (self, *self.retired)]

    def person_id(self, resident_id: str) -> str:
        if not self.retired or self.resolver is None:
            return self.keyed_hash(resident_id)
        return self.resolver(self.hashes(resident_id))

    def __repr__(self) -> str:
        return (
            f"PersonKeyring(version={self.version}, fingerprint={self.fingerprint()!r}, "
            f"retired={[k.version for k in self.retired]!r})"
        )


def _key_from_hex(text: str, source: str) -> bytes:
    # Messages name the source but never echo its content: it may be most of a key.
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise PersonKeyError(f"{source} does not hold a hexadecimal key") from None
    if len(key) < MIN_PERSON_KEY_BYTES:
        raise PersonKeyError(
            f"{source} holds a {len(key)}-byte key; at least {MIN_PERSON_KEY_BYTES} bytes "
            f"({2 * MIN_PERSON_KEY_BYTES} hex characters) are needed"
        )
    return key


def load_person_key(env: Mapping[str, str], default_file: Path) -> bytes:
    """The person key from ``TRUSTLEDGER_PERSON_KEY``, else from the key file."""
    inline = env.get(ENV_PERSON_KEY, "").strip()
    if inline:
        return _key_from_hex(inline, ENV_PERSON_KEY)
    named = env.get(ENV_PERSON_KEY_FILE, "").strip()
    path = Path(named) if named else default_file
    source = f"person key file {path}"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        how = f"{ENV_PERSON_KEY_FILE} names {path}" if named else f"the key file {path}"
        raise PersonKeyError(
            f"no person key: {ENV_PERSON_KEY} is not set and {how} does not exist. "
            f"Create a key with: (umask 077; python3 -c 'import secrets; "
            f"print(secrets.token_hex(32))' > {path}) or set {ENV_PERSON_KEY} to 64 hex "
            "characters. Keep a backup outside the database: person ids cannot be "
            "recomputed without the same key."
        ) from None
    except OSError as exc:
        raise PersonKeyError(f"cannot read {source}: {exc.strerror}") from None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise PersonKeyError(f"{source} does not hold a hexadecimal key") from None
    return _key_from_hex(text, source)


def person_key_path(base: Path, version: int) -> Path:
    """Where key ``version`` lives: version 1 in the configured file itself (so a database
    from before rotation needs nothing new), version N beside it as ``<file>.vN``."""
    if version < 1:
        raise ValueError(f"person key versions start at 1, got {version}")
    return base if version == 1 else base.with_name(f"{base.name}.v{version}")


_VERSION_SUFFIX = re.compile(r"\.v([1-9][0-9]{0,5})$")


def person_key_versions(base: Path) -> list[int]:
    """The versions whose key file exists, oldest first."""
    found = [1] if base.exists() else []
    try:
        siblings = list(base.parent.iterdir()) if base.parent.is_dir() else []
    except OSError as exc:
        raise PersonKeyError(f"cannot list {base.parent}: {exc.strerror}") from None
    for path in siblings:
        if path.name.startswith(base.name):
            match = _VERSION_SUFFIX.fullmatch(path.name[len(base.name) :])
            if match and int(match.group(1)) >= 2:
                found.append(int(match.group(1)))
    return sorted(found)


def _read_key_file(path: Path) -> bytes:
    source = f"person key file {path}"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PersonKeyError(f"cannot read {source}: {exc.strerror}") from None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise PersonKeyError(f"{source} does not hold a hexadecimal key") from None
    return _key_from_hex(text, source)


def load_person_keyring(env: Mapping[str, str], default_file: Path) -> PersonKeyring:
    """Every kept person key: the highest version is current, the others are retired.

    A key given inline (``TRUSTLEDGER_PERSON_KEY``) is version 1 and alone: rotation writes
    key files, so it needs the key in a file first.
    """
    if env.get(ENV_PERSON_KEY, "").strip():
        return PersonKeyring(PersonKeyer(load_person_key(env, default_file)))
    named = env.get(ENV_PERSON_KEY_FILE, "").strip()
    base = Path(named) if named else default_file
    versions = person_key_versions(base)
    if not versions:
        load_person_key(env, default_file)  # raises the "no person key" error with its advice
    keys = [PersonKeyer(_read_key_file(person_key_path(base, v)), v) for v in versions]
    return PersonKeyring(keys[-1], keys[:-1])


def create_private_file(path: Path, text: str) -> None:
    """Write ``text`` (ASCII) to a new file readable by its owner only, for every key file
    of the platform. FileExistsError if the file exists: O_EXCL makes the refusal atomic,
    so two first runs cannot both write and a live key is never replaced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            # The umask can only narrow the mode given to open; make it exactly 0600.
            os.fchmod(f.fileno(), 0o600)
            f.write(text)
    except BaseException:
        # A half-written key file would later load as a confusing "bad key" error.
        path.unlink(missing_ok=True)
        raise


def create_person_key_file(path: Path) -> bytes:
    """Write a new random key as hex, readable by the owner only; never overwrites."""
    key = secrets.token_bytes(MIN_PERSON_KEY_BYTES)
    try:
        create_private_file(path, key.hex() + "\n")
    except FileExistsError:
        raise FileExistsError(
            errno.EEXIST, "refusing to overwrite existing person key file", str(path)
        ) from None
    return key


def load_allowlist(path: Path) -> frozenset[str]:
    """Known non-conforming USCCs: one per line, ``#`` starts a comment."""
    codes: set[str] = set()
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        code = normalise_code(line.split("#", 1)[0])
        if code:
            codes.add(code)
    return frozenset(codes)
