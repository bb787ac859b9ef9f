"""Record-category catalogues: checking catalogue files and loading one (by default the
shipped national catalogue) for a face to show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import BadInput

if TYPE_CHECKING:
    from trustledger.catalogue import Catalogue


class CatalogueInvalid(BadInput):
    """A catalogue file that does not load: ``problems`` lists every reason, the message
    names the file on each. Exit 1: the CLI documents validation failures so."""

    exit_code = 1

    def __init__(self, message: str, problems: Sequence[str]) -> None:
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class CatalogueValidation:
    file: str
    problems: list[str]
    categories: int = 0  # when it loads

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        if self.problems:
            return {"file": self.file, "ok": False, "problems": self.problems}
        return {"file": self.file, "ok": True, "categories": self.categories}


def load(path: Path | None = None) -> Catalogue:
    """The catalogue in ``path``, or the national one; CatalogueInvalid if it does not load
    (legal basis, prohibited grounds, schema)."""
    from trustledger.catalogue import CatalogueError, load_catalogue, national_catalogue

    try:
        return national_catalogue() if path is None else load_catalogue(path)
    except CatalogueError as exc:
        raise CatalogueInvalid(str(exc), exc.problems) from exc


def validate(paths: Sequence[Path]) -> list[CatalogueValidation]:
    """Each file checked: the problems of one that does not load, or its category count."""
    results = []
    for path in paths:
        try:
            catalogue = load(path)
        except CatalogueInvalid as exc:
            results.append(CatalogueValidation(str(path), exc.problems or [exc.message]))
        else:
            results.append(CatalogueValidation(str(path), [], len(catalogue)))
    return results
