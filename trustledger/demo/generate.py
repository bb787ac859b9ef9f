"""Synthetic but realistic intake lines for demos, benchmarks and tests.

The output is a pure function of ``(seed, subjects, as_of)``: one ``random.Random`` and one
Faker instance, both seeded, and no clock. Faker is only used to fill small pools up front
(person names, street names, trade names); per-record work draws from those pools so that
300,000 records take seconds, not minutes.

Lines come in dependency order — authorities, subjects, issues, then changes — so a single
pass through the intake never meets a reference it has not seen yet.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import IO, Any

import orjson
from faker import Faker

from trustledger.demo import names as nm
from trustledger.domain import AuthorityType, DecisionType, EndReason, SubjectKind

Line = dict[str, object]

EARLIEST_DECISION = date(2018, 1, 1)
# GB 32100 took effect on this day; organisations registered later got "MA…" codes.
USCC_START = date(2015, 10, 1)

# --------------------------------------------------------------------------------------
# Check characters. ids.py is written elsewhere at the same time; these private copies keep
# the demo self-contained, and the tests check them against an independent implementation.

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {ch: i for i, ch in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _org_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10


def _org_check(body8: str) -> str:
    c = 11 - sum(_org_value(ch) * w for ch, w in zip(body8, _ORG_WEIGHTS, strict=True)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def _uscc_check(body17: str) -> str:
    s = sum(_USCC_VALUE[ch] * w for ch, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - s % 31) % 31]


def _resident_id_check(body17: str) -> str:
    return _ID_CHECK[sum(int(ch) * w for ch, w in zip(body17, _ID_WEIGHTS, strict=True)) % 11]


def _looks_like_resident_id(code: str) -> bool:
    # A digits-only USCC passes the MOD 11-2 check one time in eleven; the demo never emits
    # such codes, so the kind of every subject is plain from its identifier.
    return code[:17].isdigit() and _resident_id_check(code[:17]) == code[17]


def _make_uscc(prefix2: str, division: str, body8: str, *, break_inner: bool = False) -> str:
    inner = _org_check(body8)
    if break_inner:
        # Real registers hold codes whose embedded organisation-code check is wrong while
        # the outer check is right; the intake must accept them with a warning.
        inner = next(c for c in "0123456789X" if c != inner)
    body17 = prefix2 + division + body8 + inner
    return body17 + _uscc_check(body17)


# --------------------------------------------------------------------------------------
# Administrative divisions


@dataclass(frozen=True, slots=True)
class Division:
    code: str
    name: str
    abbr: str

    @property
    def level(self) -> str:
        if self.code.endswith("0000"):
            return "province"
        if self.code.endswith("00"):
            return "prefecture"
        return "county"

    @property
    def province(self) -> str:
        return self.code[:2] + "0000"

    @property
    def prefecture(self) -> str:
        return self.code[:4] + "00"


def load_divisions() -> list[Division]:
    """The GB/T 2260 codes shipped in ``divisions.csv``, in file order."""
    text = resources.files("trustledger.data").joinpath("divisions.csv").read_text("utf-8")
    return [
        Division(r["code"], r["name"], r["province_abbr"])
        for r in csv.DictReader(text.splitlines())
    ]


_MUNICIPALITIES = frozenset({"110000", "120000", "310000", "500000"})
# Rough share of registered market entities per province (big coastal economies dominate).
_PROVINCE_WEIGHT = {
    "44": 12.0,
    "32": 10.0,
    "33": 8.0,
    "37": 8.0,
    "11": 5.0,
    "31": 5.0,
    "41": 5.0,
    "51": 5.0,
    "42": 4.0,
    "35": 4.0,
    "43": 4.0,
    "34": 4.0,
    "13": 3.5,
    "12": 1.5,
    "50": 2.5,
    "61": 2.5,
    "21": 2.5,
    "36": 2.5,
    "45": 2.0,
    "53": 2.0,
    "52": 1.5,
    "14": 1.7,
    "15": 1.5,
    "22": 1.0,
    "23": 1.2,
    "65": 1.3,
    "62": 0.8,
    "46": 0.6,
    "64": 0.4,
    "63": 0.3,
    "54": 0.2,
}
# Court case numbers use these instead of the everyday abbreviation.
_COURT_ABBR = {"蒙": "内"}


def _short_province(name: str) -> str:
    for suffix in ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _short_city(name: str) -> str:
    return name[:-1] if name.endswith("市") and len(name) > 2 else name


# --------------------------------------------------------------------------------------
# Authorities


@dataclass(slots=True)
class Authority:
    id: str
    name: str
    type: AuthorityType
    level: str
    division: Division
    doc_prefix: str  # 京海, 深, 粤 … — opens every administrative document number
    court_code: str = ""  # 粤0305, 粤03, 粤 — court case numbers
    counters: dict[int, int] = field(default_factory=dict)


# Government bodies at province level are 厅 in provinces but 局 in municipalities.
_PROVINCE_BODIES: tuple[tuple[AuthorityType, str, str], ...] = (
    (AuthorityType.TAX, "国家税务总局{p}税务局", "国家税务总局{p}税务局"),
    (AuthorityType.MARKET_REGULATION, "{p}市场监督管理局", "{p}市场监督管理局"),
    (AuthorityType.ECOLOGY_ENVIRONMENT, "{p}生态环境厅", "{p}生态环境局"),
    (AuthorityType.HUMAN_RESOURCES, "{p}人力资源和社会保障厅", "{p}人力资源和社会保障局"),
    (AuthorityType.EMERGENCY_MANAGEMENT, "{p}应急管理厅", "{p}应急管理局"),
    (AuthorityType.HOUSING_CONSTRUCTION, "{p}住房和城乡建设厅", "{p}住房和城乡建设委员会"),
    (AuthorityType.FINANCE_BUREAU, "{p}财政厅", "{p}财政局"),
    (AuthorityType.DRUG_ADMINISTRATION, "{p}药品监督管理局", "{p}药品监督管理局"),
    (AuthorityType.STATISTICS, "{p}统计局", "{p}统计局"),
    (AuthorityType.CULTURE_TOURISM, "{p}文化和旅游厅", "{p}文化和旅游局"),
    (AuthorityType.DEVELOPMENT_REFORM, "{p}发展和改革委员会", "{p}发展和改革委员会"),
    (
        AuthorityType.FINANCE_REGULATION,
        "国家金融监督管理总局{s}监管局",
        "国家金融监督管理总局{s}监管局",
    ),
)
# Transport and the monitoring centres issue nothing in the demo's categories; a few exist
# so the authority register covers every type.
_EXTRA_BODY_PROVINCES = frozenset({"11", "31", "44", "33", "32", "37"})
# Prefectures outside the capitals that carry a full set of city bodies.
_BIG_CITIES = frozenset(
    {
        "440300",
        "320500",
        "330200",
        "370200",
        "350200",
        "210200",
        "320200",
        "440600",
        "350500",
        "330300",
        "370600",
    }
)
_CUSTOMS_CITIES = frozenset({"440300", "370200", "350200", "330200", "210200"})


class _AuthorityBuilder:
    def __init__(self, rng: random.Random, divisions: list[Division]) -> None:
        self.rng = rng
        self.by_code = {d.code: d for d in divisions}
        self.authorities: list[Authority] = []
        self._ids: set[str] = set()
        self._prefixes: set[tuple[AuthorityType, str]] = set()

    def _uscc(self, division: str) -> str:
        while True:
            # Organisation codes of state organs mostly start with 0 (assigned in blocks).
            body = "0" + "".join(self.rng.choice("0123456789") for _ in range(7))
            code = _make_uscc("11", division, body)
            if code not in self._ids and not _looks_like_resident_id(code):
                self._ids.add(code)
                return code

    def _prefix(self, kind: AuthorityType, candidates: Sequence[str]) -> str:
        for cand in candidates:
            if (kind, cand) not in self._prefixes:
                self._prefixes.add((kind, cand))
                return cand
        raise ValueError(f"no free document prefix among {candidates}")

    def add(
        self,
        kind: AuthorityType,
        name: str,
        level: str,
        division: Division,
        prefixes: Sequence[str],
        court_code: str = "",
    ) -> None:
        prefix = self._prefix(kind, prefixes)
        self.authorities.append(
            Authority(self._uscc(division.code), name, kind, level, division, prefix, court_code)
        )

    def build(self, divisions: list[Division]) -> list[Authority]:
        provinces = [d for d in divisions if d.level == "province"]
        prefectures = [d for d in divisions if d.level == "prefecture"]
        counties = [d for d in divisions if d.level == "county"]
        for prov in provinces:
            self._province(prov)
        for pref in prefectures:
            self._prefecture(pref, prefectures)
        seen: Counter[str] = Counter()
        for county in counties:
            # Municipal districts are where most Beijing/Shanghai cases are decided, so
            # they get more basic-level bodies than ordinary prefectures' counties.
            limit = 3 if county.province in _MUNICIPALITIES else 1
            parent = county.province if county.province in _MUNICIPALITIES else county.prefecture
            if seen[parent] < limit:
                seen[parent] += 1
                self._county(county)
        return self.authorities

    def _province(self, prov: Division) -> None:
        municipal = prov.code in _MUNICIPALITIES
        short = _short_province(prov.name)
        cabbr = _COURT_ABBR.get(prov.abbr, prov.abbr)
        self.add(
            AuthorityType.COURT, f"{prov.name}高级人民法院", "province", prov, [prov.abbr], cabbr
        )
        if municipal:
            self.add(
                AuthorityType.COURT,
                f"{prov.name}第一中级人民法院",
                "prefecture",
                prov,
                [prov.abbr + "一中"],
                cabbr + "01",
            )
        for kind, provincial, city in _PROVINCE_BODIES:
            template = city if municipal else provincial
            self.add(kind, template.format(p=prov.name, s=short), "province", prov, [prov.abbr])
        capital_city = short if municipal else None
        if capital_city is not None:
            self.add(AuthorityType.CUSTOMS, f"{capital_city}海关", "province", prov, [prov.abbr])
        if prov.code[:2] in _EXTRA_BODY_PROVINCES:
            transport = "{p}交通委员会" if municipal else "{p}交通运输厅"
            self.add(
                AuthorityType.TRANSPORT,
                transport.format(p=prov.name),
                "province",
                prov,
                [prov.abbr],
            )
            self.add(
                AuthorityType.MONITORING,
                f"{prov.name}生态环境监测中心",
                "province",
                prov,
                [prov.abbr],
            )

    def _prefecture(self, pref: Division, prefectures: list[Division]) -> None:
        prov = self.by_code[pref.province]
        city = _short_city(pref.name)
        cabbr = _COURT_ABBR.get(prov.abbr, prov.abbr)
        first_in_province = next(p for p in prefectures if p.province == pref.province) is pref
        prefixes = [city[0], city[:2], city]
        self.add(
            AuthorityType.COURT,
            f"{pref.name}中级人民法院",
            "prefecture",
            pref,
            prefixes,
            cabbr + pref.code[2:4],
        )
        self.add(
            AuthorityType.MARKET_REGULATION,
            f"{pref.name}市场监督管理局",
            "prefecture",
            pref,
            prefixes,
        )
        if first_in_province and pref.province not in _MUNICIPALITIES:
            # The capital's customs district carries the city's name (广州海关, 成都海关).
            self.add(AuthorityType.CUSTOMS, f"{city}海关", "prefecture", pref, prefixes)
        if pref.code in _CUSTOMS_CITIES:
            self.add(AuthorityType.CUSTOMS, f"{city}海关", "prefecture", pref, prefixes)
        if first_in_province or pref.code in _BIG_CITIES:
            self.add(
                AuthorityType.TAX, f"国家税务总局{pref.name}税务局", "prefecture", pref, prefixes
            )
            self.add(
                AuthorityType.ECOLOGY_ENVIRONMENT,
                f"{pref.name}生态环境局",
                "prefecture",
                pref,
                prefixes,
            )
            if prov.code[:2] in _EXTRA_BODY_PROVINCES:
                self.add(
                    AuthorityType.MONITORING,
                    f"{pref.name}生态环境监测中心",
                    "prefecture",
                    pref,
                    prefixes,
                )

    def _county(self, county: Division) -> None:
        prov = self.by_code[county.province]
        municipal = county.province in _MUNICIPALITIES
        cabbr = _COURT_ABBR.get(prov.abbr, prov.abbr)
        if municipal:
            full = prov.name + county.name
            head = prov.abbr
        else:
            pref = self.by_code[county.prefecture]
            # County-level cities stand alone (荣成市人民法院); districts go with their city.
            full = county.name if county.name.endswith("市") else pref.name + county.name
            head = _short_city(pref.name)[0]
        prefixes = [head + county.name[0], head + county.name[:2], head + county.name[:-1]]
        self.add(
            AuthorityType.COURT,
            f"{full}人民法院",
            "county",
            county,
            prefixes,
            cabbr + county.code[2:6],
        )
        self.add(
            AuthorityType.MARKET_REGULATION, f"{full}市场监督管理局", "county", county, prefixes
        )
        if municipal:
            self.add(AuthorityType.TAX, f"国家税务总局{full}税务局", "county", county, prefixes)
            self.add(
                AuthorityType.ECOLOGY_ENVIRONMENT, f"{full}生态环境局", "county", county, prefixes
            )


# --------------------------------------------------------------------------------------
# Record categories

E = SubjectKind.ENTERPRISE
IB = SubjectKind.INDIVIDUAL_BUSINESS
CO = SubjectKind.COOPERATIVE
PI = SubjectKind.PUBLIC_INSTITUTION
SO = SubjectKind.SOCIAL_ORGANISATION
P = SubjectKind.PERSON
ORGS = frozenset({E, IB, CO, PI, SO})
A = AuthorityType
D = DecisionType


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    authority: AuthorityType
    kinds: frozenset[SubjectKind]
    decision: DecisionType
    weight: float  # relative frequency among organisations
    person_weight: float = 0.0
    amount: tuple[float, float] | None = None  # fine or sum in yuan, log-uniform
    doc: str = "罚"  # document-type word in administrative numbers (罚, 异, 信 …)
    high_level: bool = False  # listings and honours are decided higher up
    sectors: tuple[tuple[str, float], ...] = ()  # sector affinity multipliers
    default_sector: float = 1.0

    @property
    def titles(self) -> tuple[str, ...]:
        return nm.TITLES[self.code]

    @property
    def positive(self) -> bool:
        return self.decision is DecisionType.COMMENDATION


_MARKET_LISTED = frozenset({E, IB, CO})
_FOOD = (("food", 6.0), ("tourism", 2.0))
_DIRTY = (("manufacturing", 3.0), ("chemical", 5.0), ("energy", 3.0), ("agri", 1.5))
_RISKY = (("manufacturing", 3.0), ("chemical", 4.0), ("construction", 3.0), ("logistics", 2.0))

CATEGORIES: tuple[Category, ...] = (
    Category(
        "TAX-PENALTY-GENERAL",
        A.TAX,
        ORGS | {P},
        D.ADMINISTRATIVE_PENALTY,
        14,
        3,
        (200, 50_000),
        "税稽罚",
    ),
    Category(
        "TAX-MAJOR-VIOLATION",
        A.TAX,
        ORGS,
        D.ADMINISTRATIVE_PENALTY,
        1.2,
        0,
        (100_000, 8_000_000),
        "税稽罚",
        high_level=True,
    ),
    Category("TAX-A-GRADE", A.TAX, frozenset({E}), D.COMMENDATION, 5, doc="税信", high_level=True),
    Category(
        "MKT-PENALTY-MINOR",
        A.MARKET_REGULATION,
        ORGS | {P},
        D.ADMINISTRATIVE_PENALTY,
        6,
        2,
        (200, 3_000),
        "市监罚",
    ),
    Category(
        "MKT-PENALTY-GENERAL",
        A.MARKET_REGULATION,
        ORGS | {P},
        D.ADMINISTRATIVE_PENALTY,
        14,
        3,
        (2_000, 200_000),
        "市监罚",
    ),
    Category(
        "MKT-PENALTY-SERIOUS",
        A.MARKET_REGULATION,
        ORGS | {P},
        D.ADMINISTRATIVE_PENALTY,
        1.5,
        0.5,
        (200_000, 3_000_000),
        "市监罚",
    ),
    Category(
        "MKT-ABNORMAL-NO-REPORT",
        A.MARKET_REGULATION,
        _MARKET_LISTED,
        D.ADMINISTRATIVE_DECISION,
        14,
        doc="市监异",
    ),
    Category(
        "MKT-ABNORMAL-NO-PUBLICATION",
        A.MARKET_REGULATION,
        _MARKET_LISTED,
        D.ADMINISTRATIVE_DECISION,
        2,
        doc="市监异",
    ),
    Category(
        "MKT-ABNORMAL-FALSIFICATION",
        A.MARKET_REGULATION,
        _MARKET_LISTED,
        D.ADMINISTRATIVE_DECISION,
        1,
        doc="市监异",
    ),
    Category(
        "MKT-ABNORMAL-UNREACHABLE",
        A.MARKET_REGULATION,
        _MARKET_LISTED,
        D.ADMINISTRATIVE_DECISION,
        8,
        doc="市监异",
    ),
    Category(
        "MKT-SERIOUS-DISHONEST",
        A.MARKET_REGULATION,
        frozenset({E}),
        D.ADMINISTRATIVE_DECISION,
        1.2,
        doc="市监严",
        high_level=True,
    ),
    Category(
        "MKT-CONTRACT-HONOURING",
        A.MARKET_REGULATION,
        frozenset({E}),
        D.COMMENDATION,
        2,
        doc="市监守",
        high_level=True,
    ),
    Category(
        "ENV-PENALTY-GENERAL",
        A.ECOLOGY_ENVIRONMENT,
        ORGS,
        D.ADMINISTRATIVE_PENALTY,
        4,
        0,
        (20_000, 500_000),
        "环罚",
        sectors=_DIRTY,
        default_sector=0.3,
    ),
    Category(
        "ENV-PENALTY-SERIOUS",
        A.ECOLOGY_ENVIRONMENT,
        ORGS,
        D.ADMINISTRATIVE_PENALTY,
        0.8,
        0,
        (500_000, 5_000_000),
        "环罚",
        sectors=_DIRTY,
        default_sector=0.2,
    ),
    Category(
        "ENV-MAJOR-INCIDENT",
        A.ECOLOGY_ENVIRONMENT,
        frozenset({E, PI}),
        D.ADMINISTRATIVE_PENALTY,
        0.05,
        0,
        (1_000_000, 10_000_000),
        "环罚",
        high_level=True,
        sectors=_DIRTY,
        default_sector=0.2,
    ),
    Category(
        "FOOD-PENALTY-GENERAL",
        A.MARKET_REGULATION,
        ORGS | {P},
        D.ADMINISTRATIVE_PENALTY,
        4,
        2,
        (5_000, 100_000),
        "市监罚",
        sectors=_FOOD,
        default_sector=0.3,
    ),
    Category(
        "FOOD-PENALTY-SERIOUS",
        A.MARKET_REGULATION,
        ORGS | {P},
        D.ADMINISTRATIVE_PENALTY,
        0.5,
        0.3,
        (100_000, 2_000_000),
        "市监罚",
        sectors=_FOOD,
        default_sector=0.2,
    ),
    Category(
        "DRUG-PENALTY-SERIOUS",
        A.DRUG_ADMINISTRATION,
        frozenset({E}),
        D.ADMINISTRATIVE_PENALTY,
        0.3,
        0,
        (500_000, 10_000_000),
        "药监罚",
        high_level=True,
        sectors=(("pharma", 30.0),),
        default_sector=0.05,
    ),
    Category(
        "LAB-WAGE-ARREARS",
        A.HUMAN_RESOURCES,
        frozenset({E, IB, P}),
        D.ADMINISTRATIVE_DECISION,
        1.5,
        3,
        (50_000, 3_000_000),
        "人社欠薪",
        sectors=(("construction", 4.0),),
    ),
    Category(
        "LAB-PENALTY-GENERAL",
        A.HUMAN_RESOURCES,
        ORGS,
        D.ADMINISTRATIVE_PENALTY,
        2.5,
        0,
        (2_000, 50_000),
        "人社监罚",
        sectors=(("construction", 2.0),),
    ),
    Category(
        "SAFE-PENALTY-GENERAL",
        A.EMERGENCY_MANAGEMENT,
        frozenset({E}),
        D.ADMINISTRATIVE_PENALTY,
        3,
        0,
        (10_000, 300_000),
        "应急罚",
        sectors=_RISKY,
        default_sector=0.5,
    ),
    Category(
        "SAFE-SERIOUS-DISHONEST",
        A.EMERGENCY_MANAGEMENT,
        frozenset({E}),
        D.ADMINISTRATIVE_DECISION,
        0.3,
        doc="应急失信",
        high_level=True,
        sectors=_RISKY,
        default_sector=0.3,
    ),
    Category(
        "PROC-DEBARMENT",
        A.FINANCE_BUREAU,
        frozenset({E, SO}),
        D.ADMINISTRATIVE_PENALTY,
        0.6,
        0,
        (5_000, 100_000),
        "财采罚",
        high_level=True,
    ),
    Category(
        "CONS-PENALTY-GENERAL",
        A.HOUSING_CONSTRUCTION,
        frozenset({E}),
        D.ADMINISTRATIVE_PENALTY,
        2,
        0,
        (10_000, 500_000),
        "建罚",
        sectors=(("construction", 8.0), ("realestate", 5.0)),
        default_sector=0.1,
    ),
    Category(
        "CUS-PENALTY-GENERAL",
        A.CUSTOMS,
        frozenset({E}),
        D.ADMINISTRATIVE_PENALTY,
        1,
        0,
        (1_000, 300_000),
        "关缉违字",
        sectors=(("trade", 4.0), ("manufacturing", 2.0)),
        default_sector=0.2,
    ),
    Category(
        "CUS-AEO-ADVANCED",
        A.CUSTOMS,
        frozenset({E}),
        D.COMMENDATION,
        0.3,
        doc="关企认",
        high_level=True,
        sectors=(("trade", 4.0), ("manufacturing", 2.0)),
        default_sector=0.2,
    ),
    Category(
        "JUD-DEBTOR-G1", A.COURT, ORGS | {P}, D.COURT_JUDGMENT, 6, 30, (10_000, 20_000_000), "执"
    ),
    Category(
        "JUD-DEBTOR-G2", A.COURT, ORGS | {P}, D.COURT_JUDGMENT, 0.4, 1, (10_000, 5_000_000), "执"
    ),
    Category(
        "JUD-DEBTOR-G3", A.COURT, ORGS | {P}, D.COURT_JUDGMENT, 0.8, 2, (10_000, 5_000_000), "执"
    ),
    Category(
        "JUD-DEBTOR-G4", A.COURT, ORGS | {P}, D.COURT_JUDGMENT, 2.5, 8, (10_000, 5_000_000), "执"
    ),
    Category(
        "JUD-DEBTOR-G5", A.COURT, ORGS | {P}, D.COURT_JUDGMENT, 1, 3, (10_000, 5_000_000), "执"
    ),
    Category(
        "JUD-DEBTOR-G6", A.COURT, ORGS | {P}, D.COURT_JUDGMENT, 0.8, 2, (10_000, 5_000_000), "执"
    ),
    Category(
        "JUD-CONSUMPTION-RESTRICTION",
        A.COURT,
        ORGS | {P},
        D.COURT_JUDGMENT,
        7,
        25,
        (10_000, 20_000_000),
        "执",
    ),
    Category(
        "FIN-PENALTY-GENERAL",
        A.FINANCE_REGULATION,
        frozenset({E}),
        D.ADMINISTRATIVE_PENALTY,
        0.5,
        0,
        (200_000, 5_000_000),
        "金罚决字",
        high_level=True,
        sectors=(("finance", 30.0),),
        default_sector=0.05,
    ),
    Category(
        "STAT-FRAUD-SERIOUS",
        A.STATISTICS,
        frozenset({E, PI}),
        D.ADMINISTRATIVE_PENALTY,
        0.3,
        0,
        (10_000, 200_000),
        "统执罚",
        high_level=True,
    ),
    Category(
        "TOUR-PENALTY-GENERAL",
        A.CULTURE_TOURISM,
        frozenset({E, IB}),
        D.ADMINISTRATIVE_PENALTY,
        0.8,
        0,
        (5_000, 100_000),
        "文旅罚",
        high_level=True,
        sectors=(("tourism", 10.0), ("culture", 3.0)),
        default_sector=0.1,
    ),
    Category(
        "HON-COMMENDATION",
        A.DEVELOPMENT_REFORM,
        ORGS,
        D.COMMENDATION,
        1,
        doc="发改信用",
        high_level=True,
    ),
)
CATEGORY_BY_CODE = {c.code: c for c in CATEGORIES}
_JUD = frozenset(c.code for c in CATEGORIES if c.authority is AuthorityType.COURT)
_EXACT_AMOUNTS = _JUD | {"LAB-WAGE-ARREARS", "TAX-PENALTY-GENERAL", "TAX-MAJOR-VIOLATION"}
_ABNORMAL = frozenset(c.code for c in CATEGORIES if c.code.startswith("MKT-ABNORMAL"))


def decision_type_for(category: Category, kind: SubjectKind) -> DecisionType:
    """A person's record must rest on a judgment or penalty, whatever organisations get."""
    if kind is SubjectKind.PERSON and category.decision not in (
        DecisionType.COURT_JUDGMENT,
        DecisionType.ADMINISTRATIVE_PENALTY,
    ):
        return DecisionType.ADMINISTRATIVE_PENALTY
    return category.decision


# --------------------------------------------------------------------------------------
# Subjects


@dataclass(slots=True)
class Subject:
    id: str
    kind: SubjectKind
    county: Division
    sector: str
    earliest: date  # no decision about the subject before this day


_KIND_SHARES: tuple[tuple[str, float], ...] = (
    ("91", 0.85),
    ("92", 0.06),
    ("93", 0.02),
    ("12", 0.01),
    ("5x", 0.02),
)
_TYPE_KIND = {"91": E, "92": IB, "93": CO, "12": PI, "51": SO, "52": SO, "53": SO}


def kind_counts(subjects: int) -> dict[str, int]:
    """How many subjects of each USCC type (and persons) a run of this size produces."""
    counts = {code: round(subjects * share) for code, share in _KIND_SHARES}
    counts["person"] = max(0, subjects - sum(counts.values()))
    return counts


class _World:
    """Seeded pools and lookup tables shared by every phase of one run."""

    def __init__(self, seed: int, as_of: date) -> None:
        self.rng = random.Random(seed)
        self.as_of = as_of
        faker = Faker("zh_CN")
        faker.seed_instance(seed)
        self.person_names = [faker.name() for _ in range(4000)]
        self.streets = sorted({faker.street_name() for _ in range(1500)}) + list(nm.COMMON_STREETS)
        company_provider = next(p for p in faker.providers if hasattr(p, "company_prefixes"))
        self.trade_pool = nm.clean_trade_names(list(company_provider.company_prefixes))

        self.divisions = load_divisions()
        self.by_code = {d.code: d for d in self.divisions}
        counties = [d for d in self.divisions if d.level == "county"]
        self.counties = counties
        per_province = Counter(d.province for d in counties)
        self.county_weights = list(
            _cumulative(_PROVINCE_WEIGHT[d.code[:2]] / per_province[d.province] for d in counties)
        )
        self.authorities = _AuthorityBuilder(self.rng, self.divisions).build(self.divisions)
        self.auth_index: dict[tuple[AuthorityType, str], list[Authority]] = {}
        for auth in self.authorities:
            self.auth_index.setdefault((auth.type, auth.division.code), []).append(auth)
        self.by_type: dict[AuthorityType, list[Authority]] = {}
        for auth in self.authorities:
            self.by_type.setdefault(auth.type, []).append(auth)
        self._cands: dict[tuple[AuthorityType, str, bool], tuple[list[Authority], list[float]]] = {}
        self.names: set[str] = set()

    # ---- places

    def county(self) -> Division:
        return self.rng.choices(self.counties, cum_weights=self.county_weights)[0]

    def city_of(self, county: Division) -> Division:
        """The prefecture, or the municipality itself for Beijing, Tianjin, Shanghai, Chongqing."""
        if county.province in _MUNICIPALITIES:
            return self.by_code[county.province]
        return self.by_code[county.prefecture]

    def address(self, county: Division) -> str:
        rng = self.rng
        prov = self.by_code[county.province]
        city = self.city_of(county)
        head = city.name if city is prov else (prov.name if rng.random() < 0.5 else "") + city.name
        county_part = county.name if county.name != city.name else ""
        street = rng.choice(self.streets)
        number = rng.randint(1, 999)
        tail = ""
        roll = rng.random()
        if roll < 0.4:
            tail = f"{rng.randint(1, 30)}栋{rng.randint(1, 28)}{rng.randint(1, 20):02d}室"
        elif roll < 0.6:
            tail = f"{rng.randint(1, 40)}楼"
        return f"{head}{county_part}{street}{number}号{tail}"

    # ---- authorities

    def authority(self, kind: AuthorityType, county: Division, high: bool) -> Authority:
        rng = self.rng
        if rng.random() < 0.03:
            # Cross-regional decisions happen (a supplier fined where it delivered).
            return rng.choice(self.by_type[kind])
        key = (kind, county.code, high)
        cached = self._cands.get(key)
        if cached is None:
            levels = (
                (county.code, 0.1 if high else 0.7),
                (county.prefecture, 0.4 if high else 0.25),
                (county.province, 0.5 if high else 0.05),
            )
            auths: list[Authority] = []
            weights: list[float] = []
            for code, weight in levels:
                found = self.auth_index.get((kind, code), [])
                for auth in found:
                    auths.append(auth)
                    weights.append(weight / len(found))
            if not auths:
                auths = self.by_type[kind]
                weights = [1.0] * len(auths)
            cached = (auths, list(_cumulative(weights)))
            self._cands[key] = cached
        return rng.choices(cached[0], cum_weights=cached[1])[0]

    def doc_number(self, auth: Authority, year: int, word: str) -> str:
        # Numbers run per authority and year; the random step stands in for the decisions
        # the demo does not publish, so numbers look like a real register's.
        n = auth.counters.get(year, self.rng.randint(0, 40)) + self.rng.randint(1, 4)
        auth.counters[year] = n
        if auth.type is AuthorityType.COURT:
            return f"({year}){auth.court_code}{word}{n}号"
        return f"{auth.doc_prefix}{word}〔{year}〕{n}号"

    # ---- identifiers

    def _org_body(self, modern: bool, first: str | None = None) -> str:
        rng = self.rng
        if modern:
            return "MA" + "".join(rng.choice(_USCC_ALPHABET) for _ in range(6))
        head = first if first is not None else rng.choice("123456789")
        return head + "".join(rng.choice("0123456789") for _ in range(7))

    def uscc(self, type2: str, division: str, established: date, taken: set[str]) -> str:
        rng = self.rng
        while True:
            if type2 == "12":
                body = self._org_body(False, "4")
            elif type2[0] == "5":
                body = self._org_body(established >= USCC_START, "5")
            else:
                body = self._org_body(established >= USCC_START)
            code = _make_uscc(type2, division, body, break_inner=rng.random() < 0.004)
            if code not in taken and not _looks_like_resident_id(code):
                taken.add(code)
                return code

    def resident_id(self, county: Division, taken: set[str]) -> tuple[str, date]:
        rng = self.rng
        start = date(1950, 1, 1).toordinal()
        end = date(2002, 12, 31).toordinal()
        while True:
            born = date.fromordinal(rng.randint(start, end))
            body = f"{county.code}{born:%Y%m%d}{rng.randint(1, 999):03d}"
            code = body + _resident_id_check(body)
            # About one resident ID in 31 also passes the USCC check; leaving those out keeps
            # "organisation or person?" decidable from the identifier alone.
            if code not in taken and _uscc_check(code[:17]) != code[17]:
                taken.add(code)
                return code, born

    # ---- dates

    def established(self, type2: str) -> date:
        rng = self.rng
        latest = self.as_of - timedelta(days=30)
        if type2 == "12":
            earliest, skew = date(1950, 1, 1), 1.0
        elif type2 in ("91", "93"):
            earliest, skew = date(1993, 1, 1), 1.8
        else:
            earliest, skew = date(1995, 1, 1), 2.2
        span = max(0, (latest - earliest).days)
        # A power of a uniform leans towards the present: most registered firms are young.
        return latest - timedelta(days=int(span * rng.random() ** skew))

    # ---- names

    def unique(self, make: Callable[[], str]) -> str:
        # Registered names are unique within a registry; a clash is simply drawn again.
        for _ in range(20):
            name = make()
            if name not in self.names:
                self.names.add(name)
                return name
        name = f"{make()}（{len(self.names)}）"
        self.names.add(name)
        return name


def _cumulative(values: Iterable[float]) -> list[float]:
    total = 0.0
    out: list[float] = []
    for v in values:
        total += float(v)
        out.append(total)
    return out


def _enterprise(world: _World, county: Division) -> tuple[str, list[str], list[str], str]:
    """Name, former names, aliases and sector of an enterprise registered in ``county``."""
    rng = world.rng
    industry_idx = rng.choices(range(len(nm.INDUSTRIES)), weights=nm.INDUSTRY_WEIGHTS)[0]
    industry, sector, industry_en = nm.INDUSTRIES[industry_idx]
    form, form_en, _ = rng.choices(nm.LEGAL_FORMS, weights=[f[2] for f in nm.LEGAL_FORMS])[0]
    city = world.city_of(county)
    prov = world.by_code[county.province]
    city_short = _short_city(city.name)
    prov_short = _short_province(prov.name)
    style = rng.random()

    def render(trade: str, ind: str, frm: str) -> tuple[str, str]:
        if style < 0.45:
            return f"{city.name}{trade}{ind}{frm}", nm.romanise(city_short)
        if style < 0.55 and county.name.endswith("市"):
            return f"{county.name}{trade}{ind}{frm}", nm.romanise(_short_city(county.name))
        if style < 0.65:
            return f"{prov_short}{trade}{ind}{frm}", nm.romanise(prov_short)
        if style < 0.80:
            return f"{trade}{ind}（{city_short}）{frm}", f"({nm.romanise(city_short)})"
        return f"{trade}{ind}{frm}", ""

    trade = ""

    def make() -> str:
        nonlocal trade
        trade = nm.trade_name(rng, world.trade_pool)
        return render(trade, industry, form)[0]

    name = world.unique(make)
    former: list[str] = []
    if rng.random() < 0.10:
        # Renamings are mostly a change of business scope or of legal form, sometimes a
        # new trade name after a takeover.
        roll = rng.random()
        if roll < 0.5:
            alt = rng.choice([i for i in nm.INDUSTRIES if i[1] == sector] or list(nm.INDUSTRIES))[0]
            old = render(trade, alt if alt != industry else "实业", form)[0]
        elif roll < 0.8:
            old = render(trade, industry, "有限责任公司" if form != "有限责任公司" else "有限公司")[
                0
            ]
        else:
            old = render(nm.trade_name(rng, world.trade_pool), industry, form)[0]
        if old != name and old not in world.names:
            world.names.add(old)
            former.append(old)
    aliases: list[str] = []
    if rng.random() < 0.30:
        place = render(trade, industry, form)[1]
        roman_trade = nm.romanise(trade)
        if place.startswith("("):
            aliases.append(f"{roman_trade} {industry_en} {place} {form_en}")
        elif place:
            aliases.append(f"{place} {roman_trade} {industry_en} {form_en}")
        else:
            aliases.append(f"{roman_trade} {industry_en} {form_en}")
    return name, former, aliases, sector


def _individual_business(world: _World, county: Division) -> tuple[str, str]:
    rng = world.rng
    shop, sector = rng.choice(nm.SHOPS)
    city = world.city_of(county)
    lead = county.name if rng.random() < 0.6 else city.name + county.name

    def make() -> str:
        if rng.random() < 0.25:
            surname = rng.choice(world.person_names)[0]
            return f"{lead}{surname}记{shop}"
        return f"{lead}{nm.trade_name(rng, world.trade_pool)}{shop}"

    return world.unique(make), sector


def _cooperative(world: _World, county: Division) -> str:
    rng = world.rng
    product = rng.choice(nm.COOP_PRODUCTS)
    suffix = "农民专业合作社" if rng.random() < 0.4 else "专业合作社"
    return world.unique(
        lambda: f"{county.name}{nm.trade_name(rng, world.trade_pool)}{product}{suffix}"
    )


def _public_institution(world: _World, county: Division) -> str:
    rng = world.rng
    city = world.city_of(county)
    district = city.name + (county.name if county.name != city.name else "")

    def make() -> str:
        roll = rng.random()
        if roll < 0.25:
            return f"{city.name}第{nm.chinese_number(rng.randint(1, 12))}人民医院"
        if roll < 0.4:
            return f"{district}{rng.choice(['人民医院', '中医院', '妇幼保健院'])}"
        if roll < 0.7:
            level = rng.choice(["中学", "小学"])
            return f"{district}第{nm.chinese_number(rng.randint(1, 60))}{level}"
        if roll < 0.85:
            return f"{district}{rng.choice(['疾病预防控制中心', '图书馆', '文化馆', '公证处'])}"
        return f"{city.name}{rng.choice(['农业科学研究院', '职业技术学院', '城市规划设计研究院'])}"

    return world.unique(make)


def _social_organisation(world: _World, county: Division, type2: str) -> str:
    rng = world.rng
    city = world.city_of(county)
    prov = world.by_code[county.province]

    def make() -> str:
        if type2 == "51":
            if rng.random() < 0.6:
                return f"{city.name}{rng.choice(nm.ASSOCIATION_FIELDS)}协会"
            other = rng.choice([d for d in world.divisions if d.level == "province"])
            return f"{city.name}{_short_province(other.name)}商会"
        if type2 == "52":
            tail = rng.choice(["培训学校", "社会工作服务中心", "养老服务中心", "幼儿园"])
            return f"{city.name}{county.name}{nm.trade_name(rng, world.trade_pool)}{tail}"
        tail = rng.choice(["慈善基金会", "教育基金会", "公益基金会"])
        return f"{_short_province(prov.name)}{nm.trade_name(rng, world.trade_pool)}{tail}"

    return world.unique(make)


def _subjects(world: _World, subjects: int, roster: list[Subject]) -> Iterator[Line]:
    rng = world.rng
    counts = kind_counts(subjects)
    plan: list[str] = []
    for code, n in counts.items():
        if code == "5x":
            plan.extend(rng.choices(["51", "52", "53"], weights=[55, 35, 10], k=n))
        else:
            plan.extend([code] * n)
    rng.shuffle(plan)
    taken: set[str] = set()
    for type2 in plan:
        county = world.county()
        if type2 == "person":
            pid, born = world.resident_id(county, taken)
            # the 18th birthday (29 February's in a common year is 1 March): no decision
            # about a minor, whom some regimes may not list at all (the SPC's art. 4)
            try:
                adult = born.replace(year=born.year + 18)
            except ValueError:
                adult = date(born.year + 18, 3, 1)
            roster.append(Subject(pid, P, county, "person", max(adult, EARLIEST_DECISION)))
            yield {"op": "subject", "subject": pid, "name": rng.choice(world.person_names)}
            continue
        established = world.established(type2)
        code = world.uscc(type2, county.code, established, taken)
        former: list[str] = []
        aliases: list[str] = []
        if type2 == "91":
            name, former, aliases, sector = _enterprise(world, county)
        elif type2 == "92":
            name, sector = _individual_business(world, county)
        elif type2 == "93":
            name, sector = _cooperative(world, county), "agri"
        elif type2 == "12":
            name, sector = _public_institution(world, county), "public"
        else:
            name, sector = _social_organisation(world, county, type2), "services"
        line: Line = {"op": "subject", "subject": code, "name": name}
        if former:
            line["former_names"] = former
        if aliases:
            line["aliases"] = aliases
        line["address"] = world.address(county)
        line["established"] = established.isoformat()
        roster.append(
            Subject(
                code,
                _TYPE_KIND[type2],
                county,
                sector,
                max(established + timedelta(days=30), EARLIEST_DECISION),
            )
        )
        yield line


# --------------------------------------------------------------------------------------
# Records and changes


def _record_count(rng: random.Random, kind: SubjectKind) -> int:
    """Heavy-tailed: most subjects have a clean or nearly clean file, a few have dozens."""
    u = rng.random()
    if kind is SubjectKind.PERSON:
        return 1 + min(int(rng.expovariate(0.7)), 12)
    if kind is not SubjectKind.ENTERPRISE:
        return int(rng.expovariate(0.5)) if u < 0.9 else rng.randint(3, 12)
    if u < 0.62:
        return rng.choice((0, 0, 0, 1, 1, 1, 2, 2, 3))
    if u < 0.93:
        return rng.randint(3, 16)
    return min(15 + int(rng.paretovariate(1.6) * 12), 150)


def _amount(rng: random.Random, cat: Category, person: bool) -> str | None:
    if cat.amount is None:
        return None
    lo, hi = cat.amount
    if person:
        hi = max(lo, hi / 10)
    value = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    # Fines are set in round figures; sums owed and tax-based fines are exact to the fen.
    exact = cat.code in _EXACT_AMOUNTS and rng.random() < 0.8
    if not exact:
        step = 100 if value < 100_000 else 1000
        return f"{max(step, round(value / step) * step)}.00"
    return f"{value:.2f}"


_REVOKE_REASONS = (
    "经行政复议，原决定认定事实不清、证据不足，予以撤销",
    "原决定适用法律依据错误，依法撤销",
    "经复核，该信息系错误归集，予以撤销",
)
_COURT_REVOKES = (
    ("county", "行初", "经行政诉讼，人民法院判决撤销原行政处罚决定"),
    ("prefecture", "行终", "行政诉讼二审判决撤销原行政处罚决定"),
)
_JUD_REVOKE_REASONS = ("经执行异议审查，纳入失信被执行人名单错误，予以纠正",)
_END_JUD = (
    EndReason.PERFORMED,
    EndReason.SETTLEMENT,
    EndReason.CREDITOR_REQUEST,
    EndReason.CASE_CLOSED,
)


class _Weights:
    """Cumulative category weights per (kind, sector), built once on first use."""

    def __init__(self) -> None:
        self._cache: dict[tuple[SubjectKind, str], tuple[list[Category], list[float]]] = {}

    def get(self, kind: SubjectKind, sector: str) -> tuple[list[Category], list[float]]:
        key = (kind, sector)
        found = self._cache.get(key)
        if found is None:
            cats: list[Category] = []
            weights: list[float] = []
            for cat in CATEGORIES:
                if kind not in cat.kinds:
                    continue
                if kind is SubjectKind.PERSON:
                    w = cat.person_weight
                else:
                    w = cat.weight * dict(cat.sectors).get(sector, cat.default_sector)
                    if kind is not SubjectKind.ENTERPRISE and cat.code in _JUD:
                        w *= 0.5
                if w > 0:
                    cats.append(cat)
                    weights.append(w)
            found = (cats, _cumulative(weights))
            self._cache[key] = found
        return found


def _records(world: _World, roster: list[Subject], changes: list[Line]) -> Iterator[Line]:
    rng = world.rng
    as_of = world.as_of
    as_of_ord = as_of.toordinal()
    weights = _Weights()
    # Courts by (province, level), and by ("", level) for provinces without one.
    courts_by_province: dict[tuple[str, str], list[Authority]] = {}
    for auth in world.by_type[AuthorityType.COURT]:
        courts_by_province.setdefault((auth.division.province, auth.level), []).append(auth)
        courts_by_province.setdefault(("", auth.level), []).append(auth)
    persons = [s.id for s in roster if s.kind is SubjectKind.PERSON]
    for subj in roster:
        n = _record_count(rng, subj.kind)
        start = subj.earliest.toordinal()
        if n == 0 or start > as_of_ord:
            continue
        cats, cum = weights.get(subj.kind, subj.sector)
        span = as_of_ord - start
        picks = []
        for _ in range(n):
            # Skewed towards recent years: the platforms have been filling up since 2018.
            day = start + int(span * rng.random() ** 0.75)
            picks.append((day, rng.choices(cats, cum_weights=cum)[0]))
        picks.sort(key=lambda p: p[0])
        person = subj.kind is SubjectKind.PERSON
        for day, cat in picks:
            decided = date.fromordinal(day)
            published = date.fromordinal(min(as_of_ord, day + rng.randint(0, 7)))
            auth = world.authority(cat.authority, subj.county, cat.high_level)
            doc = world.doc_number(auth, decided.year, cat.doc)
            dtype = decision_type_for(cat, subj.kind)
            line: Line = {
                "op": "issue",
                "authority": auth.id,
                "category": cat.code,
                "subject": subj.id,
                "document_number": doc,
                "decision_type": dtype.value,
                "decision_date": decided.isoformat(),
                "publication_date": published.isoformat(),
                "title": rng.choice(cat.titles),
            }
            amount = _amount(rng, cat, person)
            if amount is not None:
                line["amount_cny"] = amount
            if (
                cat.code.startswith("JUD-DEBTOR")
                and subj.kind is not SubjectKind.PERSON
                and persons
            ):
                # the court's decision names the debtor organisation's legal representative;
                # chosen from the id so the rest of the generated world stays as it was
                pick = int(hashlib.sha256(subj.id.encode()).hexdigest(), 16) % len(persons)
                line["legal_representative"] = persons[pick]
            if cat.authority is AuthorityType.ECOLOGY_ENVIRONMENT and rng.random() < 0.4:
                digest = hashlib.sha256(f"{doc}|{subj.id}|{cat.code}".encode()).hexdigest()
                line["evidence_digest"] = "sha256:" + digest
            yield line
            change = _maybe_change(
                world, subj, cat, auth, line, published, amount, courts_by_province
            )
            if change is not None:
                changes.append(change)


def _maybe_change(
    world: _World,
    subj: Subject,
    cat: Category,
    auth: Authority,
    issue: Line,
    published: date,
    amount: str | None,
    courts: dict[tuple[str, str], list[Authority]],
) -> Line | None:
    rng = world.rng
    room = (world.as_of - published).days
    if room <= 0:
        return None
    u = rng.random()
    is_jud = cat.code in _JUD
    fine = amount is not None and cat.decision is DecisionType.ADMINISTRATIVE_PENALTY
    p_end = 0.11 if is_jud else 0.025 if fine else 0.045 if cat.code in _ABNORMAL else 0.0
    p_revoke = 0.005
    p_correct = 0.01
    base: Line = {
        "authority": auth.id,
        "subject": subj.id,
        "category": cat.code,
        "target_document_number": issue["document_number"],
    }
    if u < p_end:
        # Fulfilment comes weeks to a year or so after publication, rarely later.
        effective = published + timedelta(days=min(room, int(rng.expovariate(1 / 120)) + 1))
        end_reason = rng.choice(_END_JUD) if is_jud else EndReason.PERFORMED
        word = "执" if is_jud else cat.doc + "结"
        return {
            "op": "end",
            **base,
            "document_number": world.doc_number(auth, effective.year, word),
            "effective_date": effective.isoformat(),
            "reason": end_reason.value,
        }
    u -= p_end
    if u < p_revoke:
        effective = published + timedelta(days=min(room, rng.randint(15, 400)))
        if is_jud:
            return {
                "op": "revoke",
                **base,
                "document_number": world.doc_number(auth, effective.year, "执异"),
                "effective_date": effective.isoformat(),
                "reason": rng.choice(_JUD_REVOKE_REASONS),
            }
        if cat.decision is DecisionType.ADMINISTRATIVE_PENALTY and rng.random() < 0.3:
            # Annulled in administrative litigation: the court files the revocation itself,
            # a basic court at first instance or an intermediate court on appeal.
            level, word, reason = rng.choice(_COURT_REVOKES)
            court = rng.choice(courts.get((subj.county.province, level)) or courts[("", level)])
            return {
                "op": "revoke",
                **base,
                "authority": court.id,
                "target_authority": auth.id,
                "document_number": world.doc_number(court, effective.year, word),
                "effective_date": effective.isoformat(),
                "reason": reason,
            }
        return {
            "op": "revoke",
            **base,
            "document_number": world.doc_number(auth, effective.year, cat.doc + "撤"),
            "effective_date": effective.isoformat(),
            "reason": rng.choice(_REVOKE_REASONS),
        }
    u -= p_revoke
    if u < p_correct:
        effective = published + timedelta(days=min(room, rng.randint(1, 60)))
        if amount is not None and rng.random() < 0.6:
            cents = round(float(amount) * 100)
            new = cents + rng.choice((-1, 1)) * max(100, cents // 10)
            changes: dict[str, object] = {"amount_cny": f"{max(100, new) / 100:.2f}"}
            reason = "罚没金额录入错误，予以更正"
        else:
            others = [t for t in cat.titles if t != issue["title"]]
            title = rng.choice(others) if others else f"{issue['title']}（已更正）"
            changes = {"title": title}
            reason = "违法事实表述有误，予以更正"
        word = "执" if is_jud else cat.doc + "更"
        return {
            "op": "correct",
            **base,
            "document_number": world.doc_number(auth, effective.year, word),
            "effective_date": effective.isoformat(),
            "reason": reason,
            "changes": changes,
        }
    return None


# --------------------------------------------------------------------------------------
# Public API


def generate(seed: int = 7, subjects: int = 50_000, as_of: date | None = None) -> Iterator[Line]:
    """Intake lines in dependency order: authorities, subjects, issues, then changes.

    Deterministic for ``(seed, subjects, as_of)``; ``as_of`` defaults to today and bounds
    every date in the output.
    """
    if subjects < 0:
        raise ValueError("subjects must be >= 0")
    as_of = as_of or date.today()
    world = _World(seed, as_of)
    for auth in world.authorities:
        yield {
            "op": "authority",
            "id": auth.id,
            "name": auth.name,
            "authority_type": auth.type.value,
        }
    roster: list[Subject] = []
    yield from _subjects(world, subjects, roster)
    changes: list[Line] = []
    yield from _records(world, roster, changes)
    # Changes are filed in the order they took effect, like a real feed.
    changes.sort(key=lambda c: str(c["effective_date"]))
    yield from changes


# The intake's issue fields the demo fills (it never sends subject_name or tier).
ISSUE_FIELDS: tuple[str, ...] = (
    "op",
    "authority",
    "category",
    "subject",
    "document_number",
    "decision_type",
    "decision_date",
    "publication_date",
    "title",
    "amount_cny",
    "evidence_digest",
    "legal_representative",
)
SAMPLE_ROWS = 300

_FILES = {
    "authority": "authorities.jsonl",
    "subject": "subjects.jsonl",
    "issue": "records.jsonl",
    "correct": "changes.jsonl",
    "revoke": "changes.jsonl",
    "end": "changes.jsonl",
}
SAMPLE_FILE = "records-sample.csv"


def csv_cell(value: object) -> str:
    """How a value is written in an intake CSV cell."""
    if isinstance(value, list):
        return "|".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _private_fd(path: Path) -> int:
    """``path`` truncated or created, readable by its owner only: the demo's files are the
    issuers' source files, and subjects and records hold persons' ID numbers in the clear."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file existed with a wider mode
    return fd


def write_demo_files(
    directory: Path, seed: int = 7, subjects: int = 50_000, as_of: date | None = None
) -> list[Path]:
    """Write the demo as JSON Lines files plus a CSV sample; returns the paths written.

    Lines are streamed to disk as they are generated. The CSV sample holds up to
    ``SAMPLE_ROWS`` issue lines of the busiest market-regulation bureau, found by a second
    streaming pass over ``records.jsonl``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / name for name in dict.fromkeys(_FILES.values())}
    handles: dict[str, IO[bytes]] = {}
    market: set[str] = set()
    per_authority: Counter[str] = Counter()
    try:
        for name, path in paths.items():
            handles[name] = os.fdopen(_private_fd(path), "wb")
        for line in generate(seed, subjects, as_of):
            op = str(line["op"])
            handles[_FILES[op]].write(orjson.dumps(line) + b"\n")
            if op == "authority" and line["authority_type"] == AuthorityType.MARKET_REGULATION:
                market.add(str(line["id"]))
            elif op == "issue" and line["authority"] in market:
                per_authority[str(line["authority"])] += 1
    finally:
        for handle in handles.values():
            handle.close()
    sample = directory / SAMPLE_FILE
    chosen = min(per_authority, key=lambda a: (-per_authority[a], a)) if per_authority else None
    with os.fdopen(_private_fd(sample), "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=ISSUE_FIELDS, restval="")
        writer.writeheader()
        written = 0
        with paths["records.jsonl"].open("rb") as records:
            for raw in records:
                if written >= SAMPLE_ROWS or chosen is None:
                    break
                row: dict[str, Any] = orjson.loads(raw)
                if row["authority"] == chosen:
                    writer.writerow({k: csv_cell(v) for k, v in row.items()})
                    written += 1
    return [*paths.values(), sample]
