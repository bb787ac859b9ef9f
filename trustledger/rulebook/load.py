"""Reading rulebook files: strict YAML, the schema, then the legality lint.

Every problem is reported as ``FILE: path (line N): message`` so that an author can go
straight to the line, and all of a file's problems are reported at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trustledger.catalogue import Catalogue
from trustledger.rulebook.lint import lint_rulebook
from trustledger.rulebook.schema import Rulebook
from trustledger.yamlfile import (
    YamlProblem,
    format_loc,
    load_strict,
    node_line,
    read_policy_file,
)

__all__ = ["RulebookError", "load_rulebook", "parse_rulebook", "validate_rulebook_file"]

# Error inputs are echoed for context; a megabyte condition must not be echoed whole.
_MAX_ECHO = 60
_SCORE_FORMS = frozenset({"none", "points", "percent", "grades"})


class RulebookError(ValueError):
    """A rulebook file that cannot be read; `problems` lists every reason, formatted."""

    def __init__(self, source: str | Path, problems: list[str]) -> None:
        self.source = str(source)
        self.problems = problems
        super().__init__("\n".join(problems))


def _file_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # The score union adds its tag to error paths (score.grades.rules[0]); the file has no
    # such key, so it is dropped to name the path as written.
    if len(loc) >= 2 and loc[0] == "score" and loc[1] in _SCORE_FORMS:
        return (loc[0], *loc[2:])
    return loc


def _echo(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_ECHO else text[: _MAX_ECHO - 1] + "…"


def _describe(error: Any) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        return f"unknown field '{loc[-1]}'"
    if kind == "missing":
        return f"missing field '{loc[-1]}'"
    message = str(error["msg"])
    if kind in {"rulebook", "condition", "duration", "score_form", "publicity_no_maximum"}:
        return message
    value = error.get("input")
    if isinstance(value, str | int | float | bool) or value is None:
        return f"{message} (got {_echo(value)})"
    return message


def _where(source: str | Path, root: Any, loc: tuple[int | str, ...]) -> str:
    line = node_line(root, loc)
    return f"{source}: {format_loc(loc)}" + (f" (line {line})" if line is not None else "")


def _parse(text: str, source: str | Path) -> tuple[Rulebook, Any]:
    try:
        data, root = load_strict(text)
    except YamlProblem as exc:
        raise RulebookError(source, [f"{source}: {exc}"]) from exc
    if not isinstance(data, dict):
        raise RulebookError(source, [f"{source}: (top level): a rulebook must be a YAML mapping"])
    try:
        return Rulebook.model_validate(data), root
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = _file_loc(tuple(error["loc"]))
            problems.append(f"{_where(source, root, loc)}: {_describe(error)}")
        raise RulebookError(source, problems) from exc


def parse_rulebook(text: str, source: str | Path = "<string>") -> Rulebook:
    """Parse and schema-check rulebook YAML (no lint); `source` names it in messages."""
    return _parse(text, source)[0]


def _read(path: Path) -> str:
    try:
        return read_policy_file(path)
    except YamlProblem as exc:
        raise RulebookError(path, [f"{path}: {exc}"]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RulebookError(path, [f"{path}: cannot read: {exc}"]) from exc


def load_rulebook(path: Path | str) -> Rulebook:
    """Load and schema-check a rulebook file, raising `RulebookError` with every problem.

    The legality lint needs a catalogue and is run by `validate_rulebook_file`.
    """
    path = Path(path)
    return parse_rulebook(_read(path), path)


def validate_rulebook_file(path: Path | str, catalogue: Catalogue) -> list[str]:
    """Every problem of a rulebook file (YAML, schema, conditions, legality); [] if clean."""
    path = Path(path)
    try:
        rulebook, root = _parse(_read(path), path)
    except RulebookError as exc:
        return exc.problems
    return [
        f"{_where(path, root, problem.loc)}: {problem.message}"
        for problem in lint_rulebook(rulebook, catalogue)
    ]
