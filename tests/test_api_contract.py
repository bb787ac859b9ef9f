"""Schemathesis over the whole OpenAPI document, every check on: generated requests to
every operation, as a checker and as an operator; no 5xx, every response (problems
included) as the document describes it, and every schema-valid request accepted — but
where a documented rule between parameters refuses it (each rule named below, and the
refusal must state it); and no 5xx but the 503 of a server asked for a ledger position it
has not reached yet, which says so."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import hypothesis
import pytest
import test_api
from builders import FIRM, FIRM2, PERSON_ID, resident_id, uscc
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from test_api import KEYER, bearer, create_key

from trustledger.api.models import SUBJECT_FORMAT
from trustledger.api.routers.ledger import COSIGNED_NOTE_PATTERN
from trustledger.ids import USCC_ALPHABET, check_identifier
from trustledger.ledger.store import Store

evaluated, settings, client, key = (
    test_api.evaluated,
    test_api.settings,
    test_api.client,
    test_api.key,
)

# Rules that tie one parameter to another, which neither OpenAPI parameters nor JSON
# Schema state: a request breaking one is schema-valid and rightly refused with 422
PURPOSE_FOR_PERSONS = r"^purpose: a check on a person, or a read of a person's file, needs"
RULES_BETWEEN_PARAMETERS = {
    "GET /v1/check": PURPOSE_FOR_PERSONS,
    "POST /v1/check/batch": PURPOSE_FOR_PERSONS,
    "GET /v1/subjects/{subject}/profile": PURPOSE_FOR_PERSONS,
    # a subject key reads its own notices; operators and reviewers name whose
    "GET /v1/notices": r"^subject: whose notices",
}


# a replica not yet at the ledger position a caller asks for answers 503, to be asked again
NOT_YET = r"^this server's state reflects ledger position \d+, not yet the \d+ asked for"
UNAVAILABLE_UNTIL_CAUGHT_UP = {"GET /v1/check": NOT_YET, "POST /v1/check/batch": NOT_YET}


def subjects() -> st.SearchStrategy[str]:
    """Identifiers of the subject format: valid USCCs (check characters computed),
    resident ID numbers, person ids, and the subjects the ledger holds."""
    digits = "0123456789"
    organisations = st.builds(
        uscc,
        st.text(USCC_ALPHABET, min_size=2, max_size=2),
        st.text(digits, min_size=6, max_size=6),
        st.text(digits + "ABCDEFGHJKLMNPQRTUWXY", min_size=8, max_size=8),
    )
    residents = st.builds(
        resident_id,
        st.sampled_from(["110101", "310104", "440305"]),
        st.dates(date(1930, 1, 1), date(2010, 12, 31)).map(lambda d: d.strftime("%Y%m%d")),
        st.text(digits, min_size=3, max_size=3),
    )
    person_ids = st.text("0123456789abcdef", min_size=32, max_size=32).map(lambda h: "P" + h)
    held = st.sampled_from([FIRM, FIRM2, PERSON_ID, KEYER.person_id(PERSON_ID)])
    return st.one_of(held, organisations, residents, person_ids).filter(
        lambda c: c.startswith("P") or check_identifier(c).valid
    )


@hypothesis.given(subjects())
def test_the_subject_strategy_makes_only_identifiers_the_api_accepts(found: str) -> None:
    assert found.startswith("P") or check_identifier(found).valid


def test_the_published_pattern_of_a_cosigned_checkpoint_admits_a_real_one() -> None:
    root = "A" * 43 + "="
    real = f"example.org/log\n12\n{root}\n\n\u2014 example.org/log AAAAAAAAAAAA\n"
    assert re.fullmatch(COSIGNED_NOTE_PATTERN, real)
    assert not re.fullmatch(COSIGNED_NOTE_PATTERN, real.rstrip("\n"))


def test_the_api_conforms_to_its_openapi(client: TestClient, key: str, evaluated: Store) -> None:
    schemathesis = pytest.importorskip("schemathesis")
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    schemathesis.openapi.format(SUBJECT_FORMAT, subjects())
    # the client has run the app's startup; the schema calls the same app in process
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 28
    labels = {operation.label for operation in operations}
    assert set(RULES_BETWEEN_PARAMETERS) <= labels
    operator = create_key(evaluated, "operator", "信用中心")

    def conforms_as(who: str, operation: Any) -> None:
        rule = RULES_BETWEEN_PARAMETERS.get(operation.label)
        not_yet = UNAVAILABLE_UNTIL_CAUGHT_UP.get(operation.label)

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=30, deadline=None, suppress_health_check=list(hypothesis.HealthCheck)
        )
        def conforms(case: Any) -> None:
            response = case.call(headers=bearer(who))
            excluded = []
            detail = str(response.json().get("detail", "")) if response.status_code >= 400 else ""
            if rule is not None and response.status_code == 422 and re.search(rule, detail):
                excluded = [positive_data_acceptance]  # refused by the named rule only
            if not_yet is not None and response.status_code == 503 and re.search(not_yet, detail):
                excluded = [not_a_server_error]  # behind the position asked for, and saying so
            case.validate_response(response, excluded_checks=excluded)

        conforms()

    for operation in operations:
        for who in (key, operator):
            conforms_as(who, operation)
