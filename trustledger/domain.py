"""Value types shared by every part of trustledger.

Nothing here talks to storage or the outside world; these are the words the rest of the
code is written in.
"""

from __future__ import annotations

from enum import StrEnum


class SubjectKind(StrEnum):
    """What a subject is. Organisation kinds follow the USCC registering-authority digits."""

    ENTERPRISE = "enterprise"  # 91
    INDIVIDUAL_BUSINESS = "individual_business"  # 92
    COOPERATIVE = "cooperative"  # 93 farmers' specialised cooperative
    GOVERNMENT = "government"  # 11 government organ (courts, bureaux)
    PUBLIC_INSTITUTION = "public_institution"  # 12
    SOCIAL_ORGANISATION = "social_organisation"  # 51, 52, 53 and other civil-affairs codes
    OTHER_ORGANISATION = "other_organisation"  # any other registering authority
    PERSON = "person"  # resident ID number; stored only as a keyed hash

    @property
    def is_person(self) -> bool:
        return self is SubjectKind.PERSON


class Tier(StrEnum):
    """Severity tier of a record (NDRC Order No. 58): decides the publicity bounds."""

    MINOR = "minor"
    GENERAL = "general"
    SERIOUS = "serious"


class Polarity(StrEnum):
    NEGATIVE = "negative"
    POSITIVE = "positive"


class Domain(StrEnum):
    """Area of regulation a record category belongs to."""

    TAX = "tax"
    LABOUR = "labour"
    SOCIAL_SECURITY = "social_security"
    MARKET = "market"
    ENVIRONMENT = "environment"
    FOOD_SAFETY = "food_safety"
    DRUGS = "drugs"
    PRODUCT_QUALITY = "product_quality"
    WORK_SAFETY = "work_safety"
    PROCUREMENT = "procurement"
    CONSTRUCTION = "construction"
    TRANSPORT = "transport"
    CUSTOMS = "customs"
    JUDICIAL = "judicial"
    FINANCE = "finance"
    STATISTICS = "statistics"
    CULTURE_TOURISM = "culture_tourism"
    HONOURS = "honours"
    URBAN_MANAGEMENT = "urban_management"  # city appearance, household waste, dog keeping


class AuthorityType(StrEnum):
    """Kinds of issuing authority. A catalogue category lists which of them may issue it."""

    COURT = "court"
    TAX = "tax"
    MARKET_REGULATION = "market_regulation"
    ECOLOGY_ENVIRONMENT = "ecology_environment"
    HUMAN_RESOURCES = "human_resources"
    EMERGENCY_MANAGEMENT = "emergency_management"
    HOUSING_CONSTRUCTION = "housing_construction"
    TRANSPORT = "transport"
    CUSTOMS = "customs"
    FINANCE_REGULATION = "finance_regulation"
    FINANCE_BUREAU = "finance_bureau"
    DRUG_ADMINISTRATION = "drug_administration"
    STATISTICS = "statistics"
    CULTURE_TOURISM = "culture_tourism"
    DEVELOPMENT_REFORM = "development_reform"
    PUBLIC_SECURITY = "public_security"  # police, incl. railway, airport and traffic police
    URBAN_MANAGEMENT = "urban_management"  # urban management (城管) and sanitation bodies
    CIVIL_AFFAIRS = "civil_affairs"  # 民政: volunteer service and charity
    HEALTH = "health"  # 卫生健康: blood donation
    PEOPLES_GOVERNMENT = "peoples_government"  # a people's government itself (人民政府)
    MONITORING = "monitoring"  # ecology bureau's automatic-monitoring unit (HJ 212 evidence)


class DecisionType(StrEnum):
    """The legal act a record rests on."""

    COURT_JUDGMENT = "court_judgment"  # judgments, rulings and enforcement decisions of a court
    ADMINISTRATIVE_PENALTY = "administrative_penalty"  # 行政处罚决定书
    ADMINISTRATIVE_DECISION = "administrative_decision"  # listing, licensing and other decisions
    COMMENDATION = "commendation"  # honours and awards (positive records)


# Principle 1: a record about a person must rest on one of these final decisions.
PERSON_DECISION_TYPES: frozenset[DecisionType] = frozenset(
    {DecisionType.COURT_JUDGMENT, DecisionType.ADMINISTRATIVE_PENALTY}
)

# The one exception: a commendation of a person by a government body, recorded only in a
# category of commendations of persons. A court is a state organ but not the government,
# and the monitoring unit decides nothing.
GOVERNMENT_BODIES: frozenset[AuthorityType] = frozenset(AuthorityType) - {
    AuthorityType.COURT,
    AuthorityType.MONITORING,
}


class EndReason(StrEnum):
    """Why an issuer ends a record before its publicity period runs out."""

    PERFORMED = "performed"  # obligation performed (fine paid, judgment satisfied)
    SETTLEMENT = "settlement"  # enforcement settlement performed
    CREDITOR_REQUEST = "creditor_request"
    CASE_CLOSED = "case_closed"


class RecordStatus(StrEnum):
    """Status of a record in the current projection (time-dependent expiry is evaluation's job)."""

    ISSUED = "issued"
    CORRECTED = "corrected"
    REVOKED = "revoked"
    ENDED = "ended"
    # credit repair granted: the record stops counting and being published from the grant
    REPAIRED = "repaired"


class EntryKind(StrEnum):
    """Kinds of ledger entry. Later work (due process, rulebooks) adds more."""

    AUTHORITY_REGISTERED = "authority.registered"
    SUBJECT_REGISTERED = "subject.registered"
    RECORD_ISSUED = "record.issued"
    RECORD_CORRECTED = "record.corrected"
    RECORD_REVOKED = "record.revoked"
    RECORD_ENDED = "record.ended"
    # a person confirms a record that rests on automated data (monitoring)
    RECORD_CONFIRMED = "record.confirmed"
    RULEBOOK_PUBLISHED = "rulebook.published"
    # due process: each step is an entry, so evaluation and replay see it like any fact
    OBJECTION_FILED = "objection.filed"
    OBJECTION_DECIDED = "objection.decided"
    REPAIR_APPLIED = "repair.applied"
    REPAIR_DECIDED = "repair.decided"
    RECORD_REPAIRED = "record.repaired"
    # an operator holds a pending listing for human review; it stays pending until released
    LISTING_HELD = "listing.held"
    LISTING_RELEASED = "listing.released"
    # a court lets a restricted person (or subject) do restricted actions with personal
    # funds, on application (SPC provisions on high consumption, art. 3)
    EXCEPTION_GRANTED = "exception.granted"
    # a person consents to the publication of a commendation about them, or withdraws it
    CONSENT_GIVEN = "consent.given"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    # rows beside the ledger committed by digest (trustledger.ledger.tabledigest): what one
    # write transaction changed in each table, and the live state an evaluation wrote
    TABLES_COMMITTED = "tables.committed"
    STATE_COMMITTED = "state.committed"
    # a monitoring point bound to the organisation, outlet and limit set it measures
    POINT_REGISTERED = "point.registered"
    # the person key rotated (its new version and fingerprint, never the key), and a person
    # id linked to the keyed hash of the same ID number under a newer key version, written
    # when the number is presented again (the only moment both hashes can be computed)
    PERSON_KEY_ROTATED = "person_key.rotated"
    PERSON_KEY_LINKED = "person_key.linked"


# USCC registering-authority code (position 1) and type code (position 2) → subject kind.
# Only the pairs whose meaning is fixed by GB 32100 are listed; everything else falls back
# to the registering authority's default.
USCC_TYPE_KINDS: dict[str, SubjectKind] = {
    "91": SubjectKind.ENTERPRISE,
    "92": SubjectKind.INDIVIDUAL_BUSINESS,
    "93": SubjectKind.COOPERATIVE,
    "11": SubjectKind.GOVERNMENT,
    "12": SubjectKind.PUBLIC_INSTITUTION,
    "13": SubjectKind.PUBLIC_INSTITUTION,
    "51": SubjectKind.SOCIAL_ORGANISATION,
    "52": SubjectKind.SOCIAL_ORGANISATION,
    "53": SubjectKind.SOCIAL_ORGANISATION,
}
# USCC position 1, the registering authority (GB 32100-2015, table 1)
USCC_REGISTERING_AUTHORITIES: dict[str, str] = {
    "1": "organisation-staffing office (机构编制)",
    "2": "foreign affairs (外交)",
    "3": "judicial administration (司法行政)",
    "4": "culture (文化)",
    "5": "civil affairs (民政)",
    "6": "tourism (旅游)",
    "7": "religious affairs (宗教)",
    "8": "trade unions (工会)",
    "9": "market regulation (市场监管, formerly 工商)",
    "A": "Central Military Commission reform and staffing office (中央军委改革和编制办公室)",
    "N": "agriculture (农业)",
    "Y": "other registering authority (其他)",
}
USCC_AUTHORITY_KINDS: dict[str, SubjectKind] = {
    "1": SubjectKind.GOVERNMENT,
    "5": SubjectKind.SOCIAL_ORGANISATION,
    "9": SubjectKind.ENTERPRISE,
}


def kind_of_uscc(code: str) -> SubjectKind:
    """Subject kind implied by a (valid) USCC's first two characters."""
    kind = USCC_TYPE_KINDS.get(code[:2])
    if kind is not None:
        return kind
    return USCC_AUTHORITY_KINDS.get(code[:1], SubjectKind.OTHER_ORGANISATION)
