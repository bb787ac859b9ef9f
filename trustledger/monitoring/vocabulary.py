"""The pollutant vocabulary, as the monitoring code has always named it.

It lives in :mod:`trustledger.pollutants`, below both ``rulebook`` and ``monitoring``
(a rulebook's limit sets are checked against it): this module only re-exports it.
"""

from trustledger.pollutants import (
    CODES_2005,
    CODES_2017_TO_2005,
    POLLUTANTS,
    Pollutant,
    canonical,
    describe,
    known,
)

__all__ = [
    "CODES_2005",
    "CODES_2017_TO_2005",
    "POLLUTANTS",
    "Pollutant",
    "canonical",
    "describe",
    "known",
]
