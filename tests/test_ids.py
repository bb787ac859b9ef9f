"""Tests of trustledger.ids and the `ids` CLI.

Check characters are recomputed here from the formulas in the identifiers reference, not
taken from the module under test, so that a wrong table there cannot pass unnoticed.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trustledger.cli.ids import app
from trustledger.domain import SubjectKind
from trustledger.ids import (
    USCC_ALPHABET,
    Division,
    IdCheck,
    PersonKeyer,
    PersonKeyError,
    check_identifier,
    check_resident_id,
    check_uscc,
    create_person_key_file,
    division_of,
    load_allowlist,
    load_person_key,
    normalise_code,
    org_code_check_char,
    resident_id_check_char,
    uscc_check_char,
)

GOOD_USCCS = ("914403001922038216", "91110108551385082Q")
GOOD_RESIDENT_ID = "11010519491231002X"  # the sample number of GB 11643
ALLOWLIST_WARNING = "on the allow-list of known non-conforming codes"
AMBIGUOUS = (
    "ambiguous identifier: valid both as a USCC and as a resident ID number; "
    "say whether the subject is a person or an organisation"
)
KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


# --- independent reference implementations --------------------------------------------


def ref_uscc_check(body17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body17))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def ref_org_check(body8: str) -> str:
    total = sum(int(c, 36) * w for c, w in zip(body8, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def ref_resident_check(body17: str) -> str:
    total = sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(body17))
    return "10X98765432"[total % 11]


def make_uscc(body17: str) -> str:
    return body17 + ref_uscc_check(body17)


def make_resident_id(division: str, born: date, sequence: int) -> str:
    body = f"{division}{born:%Y%m%d}{sequence:03d}"
    return body + ref_resident_check(body)


def find_ambiguous() -> str:
    """An 18-digit string valid both as a USCC (government organ, 11…) and a resident ID."""
    for sequence in range(1000):
        rid = make_resident_id("110105", date(1980, 5, 17), sequence)
        if ref_uscc_check(rid[:17]) == rid[17]:
            return rid
    raise AssertionError("no ambiguous code found")  # pragma: no cover


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# --- strategies -----------------------------------------------------------------------

DIGITS = "0123456789"
uscc_bodies = st.builds(
    lambda a, b, division, org: a + b + division + org,
    st.sampled_from(USCC_ALPHABET),
    st.sampled_from(USCC_ALPHABET),
    st.text(DIGITS, min_size=6, max_size=6),
    st.text(USCC_ALPHABET, min_size=9, max_size=9),
)
valid_usccs = uscc_bodies.map(make_uscc)
valid_resident_ids = st.builds(
    make_resident_id,
    st.builds(
        lambda first, rest: first + rest,
        st.sampled_from("123456789"),
        st.text(DIGITS, min_size=5, max_size=5),
    ),
    st.dates(min_value=date(1900, 1, 1), max_value=date.today()),
    st.integers(min_value=0, max_value=999),
)


# --- check characters and divisions ---------------------------------------------------


def test_check_characters_of_known_codes() -> None:
    assert uscc_check_char("91440300192203821") == "6"
    assert uscc_check_char("91110108551385082") == "Q"
    assert org_code_check_char("19220382") == "1"
    assert resident_id_check_char("11010519491231002") == "X"


@given(uscc_bodies)
def test_uscc_check_char_matches_reference(body: str) -> None:
    assert uscc_check_char(body) == ref_uscc_check(body)
    assert org_code_check_char(body[8:16]) == ref_org_check(body[8:16])


def test_check_char_functions_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="need 17 characters"):
        uscc_check_char("9144")
    with pytest.raises(ValueError, match="not in the USCC alphabet"):
        uscc_check_char("9144030019220382I")
    with pytest.raises(ValueError, match="need 17 digits"):
        resident_id_check_char("1101051949123100A")


def test_division_of() -> None:
    assert division_of("440305") == Division("440000", "440300", "440305")
    for bad in ("44030", "44030A", "４４０３０５"):
        with pytest.raises(ValueError, match="six digits"):
            division_of(bad)


# --- USCC -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", GOOD_USCCS)
def test_known_good_usccs(code: str) -> None:
    result = check_uscc(code)
    assert result == IdCheck(
        code=code,
        scheme="uscc",
        valid=True,
        kind=SubjectKind.ENTERPRISE,
        division=division_of(code[2:8]),
    )


def test_uscc_wrong_length() -> None:
    result = check_uscc("91440300192203821")
    assert not result.valid
    assert result.errors == ("wrong length: 17 characters, expected 18",)
    assert result.kind is None and result.division is None


def test_uscc_bad_character() -> None:
    assert check_uscc("9144I3001922038216").errors == (
        "bad character 'I' at position 5 (not in the USCC alphabet)",
    )


def test_uscc_division_must_be_digits() -> None:
    code = "914A03001922038216"
    assert check_uscc(code).errors == (
        "positions 3–8 (division code) must be digits, found 'A' at position 4",
        f"check character expected {ref_uscc_check(code[:17])}, got 6",
    )


def test_uscc_wrong_check_character() -> None:
    assert check_uscc("914403001922038217").errors == ("check character expected 6, got 7",)


def test_uscc_reports_every_error_but_no_check_error_when_malformed() -> None:
    assert check_uscc("9I44O300192203821").errors == (
        "wrong length: 17 characters, expected 18",
        "bad character 'I' at position 2 (not in the USCC alphabet)",
        "bad character 'O' at position 5 (not in the USCC alphabet)",
    )
    assert check_uscc("9144030019220382169").errors == ("wrong length: 19 characters, expected 18",)
    assert check_uscc("").errors == ("wrong length: 0 characters, expected 18",)


def test_uscc_org_code_check_is_a_warning() -> None:
    body = "91440300192203822"  # organisation code check should be 1
    code = make_uscc(body)
    result = check_uscc(code)
    assert result.valid
    assert result.errors == ()
    assert result.warnings == ("organisation code check character expected 1, got 2",)


def test_allowlisted_failing_code_is_valid_with_warnings() -> None:
    code = "914403001922038217"
    result = check_uscc(code, frozenset({code}))
    assert result.valid
    assert result.errors == ()
    assert result.warnings == (ALLOWLIST_WARNING, "check character expected 6, got 7")
    assert result.kind is SubjectKind.ENTERPRISE
    assert check_uscc(code, frozenset({"91110108551385082Q"})).valid is False


def test_allowlisted_good_code_carries_the_warning() -> None:
    code = GOOD_USCCS[0]
    assert check_uscc(code, frozenset({code})).warnings == (ALLOWLIST_WARNING,)


def test_load_allowlist(tmp_path: Path) -> None:
    path = tmp_path / "allow.txt"
    path.write_text(
        "\ufeff# known non-conforming codes\n\n914403001922038217  # issued 2016\n"
        "  ９１１１０１０８５５１３８５０８２ｑ \n",
        encoding="utf-8",
    )
    assert load_allowlist(path) == frozenset({"914403001922038217", "91110108551385082Q"})


@given(valid_usccs)
def test_generated_usccs_are_valid(code: str) -> None:
    result = check_uscc(code)
    assert result.valid, result.errors
    assert result.errors == ()
    assert result.kind is not None and result.division is not None


@given(valid_usccs, st.data())
def test_any_substitution_breaks_a_uscc(code: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(min_value=0, max_value=17))
    c = data.draw(st.sampled_from(USCC_ALPHABET + "IOZSV-").filter(lambda c: c != code[i]))
    assert not check_uscc(code[:i] + c + code[i + 1 :]).valid


@given(valid_usccs, st.data())
def test_any_adjacent_transposition_breaks_a_uscc(code: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(min_value=0, max_value=16).filter(lambda i: code[i] != code[i + 1]))
    swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
    assert not check_uscc(swapped).valid


@given(valid_usccs, st.booleans())
def test_full_width_and_lower_case_input_is_normalised(code: str, lower: bool) -> None:
    text = "\u3000 " + full_width(code.lower() if lower else code) + "\t"
    assert normalise_code(text) == code
    result = check_uscc(text)
    assert result.valid and result.code == code


# --- resident ID numbers --------------------------------------------------------------


def test_known_good_resident_id() -> None:
    result = check_resident_id(GOOD_RESIDENT_ID)
    assert result.valid and result.errors == () and result.warnings == ()
    assert result.scheme == "resident_id"
    assert result.kind is SubjectKind.PERSON
    assert result.division == Division("110000", "110100", "110105")
    assert check_resident_id(GOOD_RESIDENT_ID.lower()).valid


@pytest.mark.parametrize(
    ("number", "errors"),
    [
        ("11010519491231002", ("wrong length: 17 characters, expected 18",)),
        (
            "1101051949123100A5",
            ("bad character 'A' at position 17 (the first 17 characters must be digits)",),
        ),
        ("11010519491231002Y", ("bad character 'Y' at position 18 (must be a digit or X)",)),
        ("110105194902300021", ("birth date (positions 7–14) is not a real date",)),
        ("110105189912310021", ("birth date (positions 7–14) is before 1900",)),
        ("110105194912310021", ("check character expected X, got 1",)),
    ],
)
def test_resident_id_errors(number: str, errors: tuple[str, ...]) -> None:
    body = number[:17]
    if number[6:14] in ("19490230", "18991231"):
        # Make the check character right so that only the date is wrong.
        number = body + ref_resident_check(body)
    result = check_resident_id(number)
    assert not result.valid
    assert result.errors == errors
    assert result.kind is None and result.division is None


def test_resident_id_birth_date_in_the_future() -> None:
    tomorrow = date.today() + timedelta(days=1)
    number = make_resident_id("440305", tomorrow, 1)
    assert check_resident_id(number).errors == ("birth date (positions 7–14) is in the future",)
    assert check_resident_id(number, today=tomorrow).valid


def test_resident_id_reports_every_error() -> None:
    assert check_resident_id("1101AB1949023").errors == (
        "wrong length: 13 characters, expected 18",
        "bad character 'A' at position 5 (the first 17 characters must be digits)",
        "bad character 'B' at position 6 (the first 17 characters must be digits)",
    )


@given(valid_resident_ids)
def test_generated_resident_ids_are_valid(number: str) -> None:
    result = check_resident_id(number)
    assert result.valid, result.errors
    assert result.division == division_of(number[:6])


@given(valid_resident_ids, st.data())
def test_any_substitution_breaks_a_resident_id(number: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(min_value=0, max_value=17))
    alphabet = "0123456789X" if i == 17 else DIGITS
    c = data.draw(st.sampled_from(alphabet).filter(lambda c: c != number[i]))
    assert not check_resident_id(number[:i] + c + number[i + 1 :]).valid


@given(valid_resident_ids, st.data())
def test_any_adjacent_transposition_breaks_a_resident_id(number: str, data: st.DataObject) -> None:
    i = data.draw(
        st.integers(min_value=0, max_value=16).filter(lambda i: number[i] != number[i + 1])
    )
    swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
    assert not check_resident_id(swapped).valid


# --- choosing the scheme --------------------------------------------------------------


def test_ambiguous_code_needs_a_hint() -> None:
    code = find_ambiguous()
    assert check_uscc(code).valid and check_resident_id(code).valid
    result = check_identifier(code)
    assert not result.valid
    assert result.scheme is None
    assert result.errors == (AMBIGUOUS,)
    person = check_identifier(code, "person")
    assert person.valid and person.scheme == "resident_id" and person.kind is SubjectKind.PERSON
    organ = check_identifier(code, "organisation")
    assert organ.valid and organ.scheme == "uscc" and organ.kind is SubjectKind.GOVERNMENT


def test_allowlisted_ambiguous_code_is_still_ambiguous() -> None:
    code = find_ambiguous()
    assert check_identifier(code, allowlist=frozenset({code})).errors == (AMBIGUOUS,)


def test_single_scheme_without_hint() -> None:
    assert check_identifier(GOOD_USCCS[0]).scheme == "uscc"
    assert check_identifier(GOOD_RESIDENT_ID).scheme == "resident_id"
    assert check_identifier(GOOD_RESIDENT_ID).valid


def test_hints_restrict_the_scheme() -> None:
    assert check_identifier(GOOD_USCCS[0], "person").scheme == "resident_id"
    assert not check_identifier(GOOD_USCCS[0], "person").valid
    assert check_identifier(GOOD_RESIDENT_ID, "organisation").scheme == "uscc"
    assert not check_identifier(GOOD_RESIDENT_ID, "organisation").valid
    with pytest.raises(ValueError, match="unknown kind hint 'company'"):
        check_identifier(GOOD_USCCS[0], "company")


def test_neither_reports_the_more_plausible_scheme() -> None:
    # 17 leading digits with a real birth date: read as a resident ID.
    result = check_identifier("110105194912310021")
    assert result.scheme == "resident_id"
    assert result.errors == ("check character expected X, got 1",)
    # The birth date does not parse: read as a USCC.
    result = check_identifier("914403001922038217")
    assert result.scheme == "uscc"
    assert result.errors == ("check character expected 6, got 7",)
    assert check_identifier("9144I3001922038216").scheme == "uscc"


@given(valid_resident_ids)
def test_valid_resident_ids_are_never_rejected_except_as_ambiguous(number: str) -> None:
    result = check_identifier(number)
    assert result.valid or result.errors == (AMBIGUOUS,)
    assert check_identifier(number, "person").valid


# --- masking --------------------------------------------------------------------------


@given(valid_resident_ids, st.sampled_from([None, "person", "organisation"]))
def test_to_json_never_shows_a_resident_id(number: str, hint: str | None) -> None:
    result = check_identifier(number, hint)
    rendered = json.dumps(result.to_json()) + repr(result)
    assert number not in rendered
    assert number[6:14] not in rendered  # the birth date
    assert result.to_json()["code"] == number[:6] + "********" + number[-4:]


def test_to_json_masks_invalid_and_ambiguous_resident_ids() -> None:
    for number in ("110105194912310021", find_ambiguous()):
        shown = check_identifier(number).to_json()["code"]
        assert shown == number[:6] + "********" + number[-4:]
    # cut short, its last four would be digits of the birth date: only the region shows
    assert check_identifier("11010519491231002").to_json()["code"] == "110105" + "*" * 11
    # A person's number that also passes as a USCC stays hidden under the wrong hint.
    number = find_ambiguous()
    assert check_identifier(number, "organisation").to_json()["code"] == (
        number[:6] + "********" + number[-4:]
    )


def test_to_json_shape_for_a_uscc() -> None:
    assert check_identifier(GOOD_USCCS[1]).to_json() == {
        "code": "91110108551385082Q",
        "scheme": "uscc",
        "valid": True,
        "errors": [],
        "warnings": [],
        "kind": "enterprise",
        "division": {"province": "110000", "prefecture": "110100", "county": "110108"},
    }
    assert check_identifier("914403001922038217").to_json()["code"] == "914403001922038217"


# --- person keys ----------------------------------------------------------------------


@given(valid_resident_ids)
def test_person_keyer_is_deterministic_and_keyed(number: str) -> None:
    a, b = PersonKeyer(KEY_A), PersonKeyer(KEY_B)
    pid = a.person_id(number)
    assert pid == PersonKeyer(KEY_A).person_id(number)
    assert pid == a.person_id(" " + number.lower() + " ")
    assert pid != b.person_id(number)
    assert len(pid) == 33 and pid[0] == "P" and int(pid[1:], 16) >= 0
    assert number not in pid


def test_person_keyer_refuses_a_short_key() -> None:
    with pytest.raises(ValueError, match="person key too short: 31 bytes, need at least 32"):
        PersonKeyer(bytes(31))


def test_fingerprint_tells_keys_apart_without_showing_them() -> None:
    a = PersonKeyer(KEY_A)
    assert a.fingerprint() == PersonKeyer(KEY_A).fingerprint()
    assert a.fingerprint() != PersonKeyer(KEY_B).fingerprint()
    assert len(a.fingerprint()) == 16 and int(a.fingerprint(), 16) >= 0
    assert KEY_A.hex() not in repr(a) and KEY_A.hex()[:16] != a.fingerprint()


def test_load_person_key_from_env_wins(tmp_path: Path) -> None:
    file = tmp_path / "person.key"
    file.write_text(KEY_B.hex())
    env = {"TRUSTLEDGER_PERSON_KEY": KEY_A.hex(), "TRUSTLEDGER_PERSON_KEY_FILE": str(file)}
    assert load_person_key(env, tmp_path / "default.key") == KEY_A


def test_load_person_key_from_files(tmp_path: Path) -> None:
    named, default = tmp_path / "named.key", tmp_path / "default.key"
    named.write_text(f"\n  {KEY_A.hex()}  \n")
    default.write_text(KEY_B.hex() + "\n")
    assert load_person_key({"TRUSTLEDGER_PERSON_KEY_FILE": str(named)}, default) == KEY_A
    assert load_person_key({}, default) == KEY_B


def test_missing_person_key_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(PersonKeyError) as info:
        load_person_key({}, tmp_path / "person.key")
    message = str(info.value)
    assert "TRUSTLEDGER_PERSON_KEY" in message
    assert str(tmp_path / "person.key") in message
    assert "secrets.token_hex(32)" in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [("abcd" * 15, "holds a 30-byte key"), ("zz" * 32, "does not hold a hexadecimal key")],
)
def test_bad_person_key_is_refused_without_echoing_it(
    tmp_path: Path, content: str, problem: str
) -> None:
    with pytest.raises(PersonKeyError, match=problem) as info:
        load_person_key({"TRUSTLEDGER_PERSON_KEY": content}, tmp_path / "x")
    assert content not in str(info.value)
    file = tmp_path / "person.key"
    file.write_text(content)
    with pytest.raises(PersonKeyError, match=problem):
        load_person_key({}, file)


def test_create_person_key_file(tmp_path: Path) -> None:
    path = tmp_path / "person.key"
    key = create_person_key_file(path)
    assert len(key) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_person_key({}, path) == key
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        create_person_key_file(path)
    assert load_person_key({}, path) == key


# --- CLI ------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_all_valid_exits_0() -> None:
    result = runner.invoke(app, ["check", *GOOD_USCCS, GOOD_RESIDENT_ID])
    assert result.exit_code == 0, result.output
    assert "914403001922038216  valid  uscc  enterprise  division 440300" in result.output
    assert "110105********002X  valid  resident_id  person  division 110105" in result.output
    assert GOOD_RESIDENT_ID not in result.output


def test_cli_any_invalid_exits_1_and_lists_errors_and_warnings() -> None:
    code = make_uscc("91440300192203822")
    result = runner.invoke(app, ["check", GOOD_USCCS[0], "914A03001922038216", code])
    assert result.exit_code == 1
    assert "914A03001922038216  invalid  uscc" in result.output
    assert (
        "  error: positions 3–8 (division code) must be digits, found 'A' at position 4"
        in result.output
    )
    assert "  warning: organisation code check character expected 1, got 2" in result.output


def test_cli_json_output() -> None:
    result = runner.invoke(
        app, ["check", "--json", GOOD_USCCS[0], GOOD_RESIDENT_ID, "110105194912310021"]
    )
    assert result.exit_code == 1
    items = json.loads(result.stdout)
    assert [item["valid"] for item in items] == [True, True, False]
    for item in items:
        assert set(item) == {"code", "scheme", "valid", "errors", "warnings", "kind", "division"}
    assert items[1]["code"] == "110105********002X"
    assert items[2]["code"] == "110105********0021"
    assert items[2]["errors"] == ["check character expected X, got 1"]
    assert GOOD_RESIDENT_ID not in result.stdout and "19491231" not in result.stdout


def test_cli_ambiguous_code_and_kind_option() -> None:
    code = find_ambiguous()
    result = runner.invoke(app, ["check", "--json", code])
    assert result.exit_code == 1
    [item] = json.loads(result.stdout)
    assert item["errors"] == [AMBIGUOUS] and item["scheme"] is None
    assert code not in result.stdout
    result = runner.invoke(app, ["check", "--kind", "organisation", code])
    assert result.exit_code == 0
    assert "government" in result.output


def test_cli_allowlist_from_env(tmp_path: Path) -> None:
    allow = tmp_path / "allow.txt"
    allow.write_text("914403001922038217\n")
    env = {"TRUSTLEDGER_USCC_ALLOWLIST": str(allow)}
    result = runner.invoke(app, ["check", "914403001922038217"], env=env)
    assert result.exit_code == 0, result.output
    assert f"warning: {ALLOWLIST_WARNING}" in result.output
    missing = {"TRUSTLEDGER_USCC_ALLOWLIST": str(tmp_path / "missing.txt")}
    result = runner.invoke(app, ["check", GOOD_USCCS[0]], env=missing)
    assert result.exit_code == 2


def test_cli_without_arguments_shows_help() -> None:
    result = runner.invoke(app, [])
    assert result.exit_code in (0, 2)  # Click 8.2 changed this from 0 to 2
    assert "check" in result.output


@settings(max_examples=25)
@given(st.lists(valid_resident_ids, min_size=1, max_size=3))
def test_cli_never_prints_resident_ids(numbers: list[str]) -> None:
    for args in (["check", *numbers], ["check", "--json", *numbers]):
        result = runner.invoke(app, args)
        for number in numbers:
            assert number not in result.output
