"""One intake for every source: validate, check against the ledger, append."""

from trustledger.intake.bulk import FileReport, ingest_file
from trustledger.intake.service import Counts, Intake, Outcome, Result, submit_all
from trustledger.intake.validate import Reject, record_id

__all__ = [
    "Counts",
    "FileReport",
    "Intake",
    "Outcome",
    "Reject",
    "Result",
    "ingest_file",
    "record_id",
    "submit_all",
]
