"""Strict YAML reading shared by the catalogue and rulebook loaders.

Both kinds of file are published policy, so both refuse what plain YAML would silently
accept (a repeated key overwrites the first) and both point their problems at a line.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = [
    "MAX_BYTES",
    "MAX_NODES",
    "StrictLoader",
    "YamlProblem",
    "format_loc",
    "load_strict",
    "node_line",
    "parse_model",
    "read_policy_file",
    "validation_problems",
]

Model = TypeVar("Model", bound=BaseModel)


# A policy file is a page of text a person reviews: the largest shipped one is under 70 KB.
# The bound keeps a mistaken or hostile upload (50 MB took two minutes of CPU) from being
# parsed at all.
MAX_BYTES = 1 << 20


# Aliases (`*name`) let a file share one legal basis between categories, and also let a few
# lines expand into billions of nodes for the validator to walk: the expanded size is bounded.
MAX_NODES = 200_000


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses what a policy file never needs and plain YAML accepts:
    duplicate keys (silently overwritten) and keys that are lists or mappings."""


def _expanded_size(root: yaml.Node) -> int:
    """Nodes in the document with every alias expanded, counted without expanding."""
    sizes: dict[int, int] = {}
    # children before parents, without recursion (a document may nest deeply)
    order: list[yaml.Node] = []
    stack = [root]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        stack.extend(_children(node))
    for node in reversed(order):
        sizes[id(node)] = 1 + sum(sizes.get(id(c), 1) for c in _children(node))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, str | int | float | bool | None.__class__ | date | datetime):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"a key must be a plain value, not a {type(key).__name__}",
                key_node.start_mark,
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"duplicate key {key!r}",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class YamlProblem(ValueError):
    """Unreadable YAML; the message is `line L, column C: malformed YAML: …` when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(message)


def load_strict(text: str) -> tuple[Any, yaml.Node | None]:
    """The data and the composed node tree (for line numbers) of `text`."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise YamlProblem(f"is {size:,} bytes, over the {MAX_BYTES:,}-byte limit of a policy file")
    loader: StrictLoader | None = None
    try:
        loader = StrictLoader(text)
        # composed once: the node tree gives line numbers, the data is built from it
        root = loader.get_single_node()
        if root is not None and (expanded := _expanded_size(root)) > MAX_NODES:
            raise YamlProblem(
                f"malformed YAML: {expanded:,} values once its aliases are expanded, over "
                f"the {MAX_NODES:,} of a policy file"
            )
        data = None if root is None else loader.construct_document(root)
    except RecursionError:
        raise YamlProblem("malformed YAML: nested too deeply") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "unreadable"
        if exc.context and exc.context.startswith("expected") and exc.problem:
            problem = f"{exc.context} {exc.problem}"  # "expected a single document … but found …"
        raise YamlProblem(
            f"{where}malformed YAML: {problem}", mark.line + 1 if mark else None
        ) from exc
    except yaml.reader.ReaderError as exc:
        # "unacceptable character #x0000 … position 0": the reader counts characters
        raise YamlProblem(f"malformed YAML: {exc.reason} (character {exc.position + 1})") from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(f"malformed YAML: {exc}") from exc
    finally:
        if loader is not None:
            loader.dispose()
    return data, root


def read_policy_file(path: Path) -> str:
    """The text of a policy file, refused before reading if over MAX_BYTES. OSError and
    UnicodeDecodeError are the caller's to name (it knows what the file is)."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise YamlProblem(f"is {size:,} bytes, over the {MAX_BYTES:,}-byte limit of a policy file")
    return path.read_text(encoding="utf-8")


def format_loc(loc: tuple[int | str, ...]) -> str:
    """`("lists", 2, "when")` → `lists[2].when`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def node_line(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Line (1-based) of the deepest YAML node on `loc` that exists in the file."""
    node = root
    if node is None:
        return None
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            child = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if 0 <= part < len(node.value) else None
        if child is None:
            break
        node = child
    return int(node.start_mark.line) + 1


def validation_problems(
    exc: ValidationError, root: yaml.Node | None, source: str | Path
) -> list[str]:
    """Each error of a model's validation as `source:line: where: what`."""
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        line = node_line(root, loc)
        where = f"{source}:{line}" if line is not None else str(source)
        problems.append(f"{where}: {format_loc(loc)}: {error['msg']}")
    return problems


def parse_model(text: str, model: type[Model], source: str | Path, error: type[Exception]) -> Model:
    """Strict YAML validated into ``model``; every problem raised as ``error`` in the form
    `source:line: where: what` (YAML problems first, as they stop validation)."""
    try:
        data, root = load_strict(text)
    except YamlProblem as exc:
        raise error(f"{source}: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error("\n".join(validation_problems(exc, root, source))) from None
