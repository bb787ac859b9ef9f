"""Pollutant codes: one canonical vocabulary (the HJ 212-2017 codes) for both dialects.

A shared vocabulary below both ``rulebook`` (a limit set names pollutants) and
``monitoring`` (the codec reads them), so neither has to import the other for it.

Loggers speaking the 2005 dialect send old codes (``02`` for SO2, ``S01`` for O2, ``011`` for
COD); everything downstream works with the 2017 codes, so the codec maps each reading's code
through :func:`canonical` and keeps the code as received next to it.

A code missing from the table (``S07`` in the sample traffic, vendor codes, newer factors) is
not an error: it passes through unchanged, :func:`known` is False, and such readings are kept
as evidence but never judged against a limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple


class Pollutant(NamedTuple):
    code: str
    name: str
    unit: str
    # concentration, oxygen, flow, velocity, temperature, pressure, humidity, ph: validity and
    # conversion rules differ per kind (only concentrations are converted to reference O2).
    kind: str


_TABLE: tuple[Pollutant, ...] = (
    # Flue gas (stack), HJ 212-2017 Appendix B as summarised in the monitoring reference.
    Pollutant("a34013", "dust", "mg/m3", "concentration"),
    Pollutant("a21026", "SO2", "mg/m3", "concentration"),
    Pollutant("a21002", "NOx", "mg/m3", "concentration"),
    Pollutant("a21005", "CO", "mg/m3", "concentration"),
    Pollutant("a21024", "HCl", "mg/m3", "concentration"),
    Pollutant("a21028", "H2S", "mg/m3", "concentration"),
    Pollutant("a19001", "O2", "%", "oxygen"),
    # m3/s per the standard; many points are configured in m3/h, which is a per-point setting
    # and not the vocabulary's business.
    Pollutant("a00000", "flue-gas flow", "m3/s", "flow"),
    Pollutant("a01011", "velocity", "m/s", "velocity"),
    Pollutant("a01012", "temperature", "°C", "temperature"),
    Pollutant("a01013", "pressure", "kPa", "pressure"),
    Pollutant("a01014", "humidity", "%", "humidity"),
    # Wastewater.
    Pollutant("w00000", "wastewater flow", "L/s", "flow"),
    Pollutant("w01018", "COD", "mg/L", "concentration"),
    Pollutant("w21003", "NH3-N", "mg/L", "concentration"),
    Pollutant("w01001", "pH", "pH", "ph"),
    Pollutant("w21011", "TP", "mg/L", "concentration"),
    Pollutant("w21001", "TN", "mg/L", "concentration"),
)

POLLUTANTS: Mapping[str, Pollutant] = MappingProxyType({p.code: p for p in _TABLE})

# 2005 code -> 2017 code (monitoring reference, "Pollutant codes").
CODES_2005: Mapping[str, str] = MappingProxyType(
    {
        "01": "a34013",
        "02": "a21026",
        "03": "a21002",
        "04": "a21005",
        "05": "a21028",
        "08": "a21024",
        "S01": "a19001",
        "B02": "a00000",
        "S02": "a01011",
        "S03": "a01012",
        "S08": "a01013",
        "S05": "a01014",
        "B01": "w00000",
        "011": "w01018",
        "060": "w21003",
        "001": "w01001",
        "101": "w21011",
        "065": "w21001",
    }
)

# The reverse direction, for building 2005-dialect traffic from canonical codes.
CODES_2017_TO_2005: Mapping[str, str] = MappingProxyType({v: k for k, v in CODES_2005.items()})


def canonical(raw_code: str) -> str:
    """The 2017 code for ``raw_code``; an unmapped code comes back unchanged."""
    return CODES_2005.get(raw_code, raw_code)


def describe(code: str) -> Pollutant | None:
    """The pollutant behind a code of either dialect, or None if the vocabulary lacks it."""
    return POLLUTANTS.get(CODES_2005.get(code, code))


def known(code: str) -> bool:
    """Whether a code (either dialect) is in the vocabulary, i.e. may be judged."""
    return CODES_2005.get(code, code) in POLLUTANTS
