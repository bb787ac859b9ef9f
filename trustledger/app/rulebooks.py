"""Rulebooks: the shipped regimes (package data), validating, showing and publishing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import BadInput

# the rulebook's types, for faces that render one (and the id pattern they check paths by)
from trustledger.rulebook.schema import ID_PATTERN, BandedScore, GradesScore, Rulebook

if TYPE_CHECKING:
    from trustledger.app.context import Context

__all__ = [
    "ID_PATTERN",
    "BandedScore",
    "GradesScore",
    "PublishResult",
    "Rulebook",
    "RulebookInvalid",
    "Validation",
    "load",
    "publish",
    "publish_shipped",
    "published",
    "resolve_file",
    "shipped_names",
    "shipped_paths",
    "validate",
]

SHIPPED_PACKAGE = "trustledger.rulebooks_shipped"


class RulebookInvalid(BadInput):
    """A rulebook file that does not load, with every problem (file, path, line). Exit 1:
    the CLI documents validation failures so."""

    exit_code = 1

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems) or "invalid rulebook")
        self.problems = list(problems)


def shipped_names() -> list[str]:
    """File names of the shipped regimes, sorted."""
    root = resources.files(SHIPPED_PACKAGE)
    return sorted(p.name for p in root.iterdir() if p.name.endswith(".yaml"))


@contextlib.contextmanager
def shipped_paths() -> Iterator[list[Path]]:
    """Real file paths of the shipped regimes for as long as the block runs (extracted to a
    temporary place if the package is not on a file system)."""
    root = resources.files(SHIPPED_PACKAGE)
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(resources.as_file(root / name)) for name in shipped_names()]


def resolve_file(text: str | Path) -> Path:
    """A rulebook file by path, or a shipped one by name (``cn-rongcheng-points`` or
    ``cn-rongcheng-points.yaml``)."""
    path = Path(text)
    if path.exists():
        return path
    name = path.name if path.name.endswith(".yaml") else f"{path.name}.yaml"
    if str(path.parent) in ("", ".") and name in shipped_names():
        traversable = resources.files(SHIPPED_PACKAGE) / name
        if isinstance(traversable, Path):
            return traversable
        with resources.as_file(traversable) as real:
            return Path(real)
    raise BadInput(f"no rulebook file {text} (shipped: {', '.join(shipped_names())})")


@dataclass(frozen=True)
class PublishResult:
    file: str
    published: bool
    rulebook: str | None = None
    seq: int | None = None  # None with published=True: that exact file was already published
    sha256: str | None = None
    problems: str | None = None

    def to_json(self) -> dict[str, Any]:
        if not self.published:
            return {"file": self.file, "published": False, "problems": self.problems}
        return {"file": self.file, "published": True, "rulebook": self.rulebook,
                "seq": self.seq, "sha256": self.sha256}  # fmt: skip


def publish(ctx: Context, paths: Sequence[Path]) -> list[PublishResult]:
    """Publish each file that validates clean; a failure is reported, not raised."""
    from trustledger.rulebook.load import RulebookError
    from trustledger.rulebook.publish import PublishError, publish_rulebook

    results = []
    for path in in_law_order(paths):
        try:
            done = publish_rulebook(ctx.store, path, ctx.catalogue)
        except (PublishError, RulebookError, OSError) as exc:
            results.append(PublishResult(str(path), False, problems=str(exc)))
            continue
        results.append(PublishResult(str(path), True, done.ref, done.seq, done.sha256))
    return results


def publish_shipped(ctx: Context, directory: Path | None = None) -> list[str]:
    """Publish the shipped regimes (or every ``*.yaml`` in ``directory``); their refs.
    A regime that fails to publish is an error: the shipped ones are tested clean."""
    from trustledger.rulebook.publish import publish_rulebook

    if directory is not None:
        if not directory.is_dir():
            raise BadInput(f"no rulebook folder {directory}")
        return [publish_rulebook(ctx.store, p, ctx.catalogue).ref
                for p in in_law_order(sorted(directory.glob("*.yaml")))]  # fmt: skip
    with shipped_paths() as paths:
        return [publish_rulebook(ctx.store, p, ctx.catalogue).ref for p in in_law_order(paths)]


def in_law_order(paths: Sequence[Path]) -> list[Path]:
    """The files as given, but the versions of one regime in the order the law took them
    (their ``effective.from``, at the place of the first): a version published later that
    takes effect later succeeds the earlier one
    (``trustledger.rulebook.publish.regime_versions``). A file that cannot be read keeps
    its place, for publishing to report."""
    from trustledger.rulebook.load import RulebookError

    groups: dict[str, list[tuple[str, Path]]] = {}
    for n, path in enumerate(paths):
        try:
            found = load(path)
        except (BadInput, RulebookError, OSError):
            groups[f"\0{n}"] = [("", path)]
            continue
        groups.setdefault(found.id, []).append((found.effective.from_.isoformat(), path))
    return [path for group in groups.values() for _, path in sorted(group, key=lambda g: g[0])]


def published(ctx: Context, at_us: int | None = None) -> dict[str, Rulebook]:
    from trustledger.rulebook.publish import published_rulebooks

    return published_rulebooks(ctx.store, at_us)


@dataclass(frozen=True)
class Validation:
    file: str
    problems: list[str]
    rulebook: Rulebook | None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        if self.rulebook is None or self.problems:
            return {"file": self.file, "ok": False, "problems": self.problems}
        rb = self.rulebook
        return {"file": self.file, "ok": True, "id": rb.id, "treatments": len(rb.treatments),
                "lists": len(rb.lists), "measures": len(rb.measures)}  # fmt: skip


def validate(paths: Sequence[Path]) -> list[Validation]:
    """Schema, conditions and the legality lint of each file, against the national
    catalogue (no store needed)."""
    from trustledger.catalogue import national_catalogue
    from trustledger.rulebook.load import load_rulebook, validate_rulebook_file

    catalogue = national_catalogue()
    results = []
    for path in paths:
        problems = validate_rulebook_file(path, catalogue)
        results.append(Validation(str(path), problems, None if problems else load_rulebook(path)))
    return results


def load(path: Path) -> Rulebook:
    """One rulebook file, schema-checked (RulebookInvalid with every problem)."""
    from trustledger.rulebook.load import RulebookError, load_rulebook

    try:
        return load_rulebook(path)
    except RulebookError as exc:
        raise RulebookInvalid(exc.problems) from exc
