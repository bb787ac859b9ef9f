"""Strict YAML reading shared by the catalogue and rulebook loaders.

Both kinds of file are published policy, so both refuse what plain YAML would silently
accept (a repeated key overwrites the first) and both point their problems at a line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = [
    "StrictLoader",
    "YamlProblem",
    "format_loc",
    "load_strict",
    "node_line",
    "parse_model",
    "validation_problems",
]

Model = TypeVar("Model", bound=BaseModel)


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, which plain YAML silently overwrites."""


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
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
    try:
        data = yaml.load(text, Loader=StrictLoader)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "unreadable"
        raise YamlProblem(
            f"{where}malformed YAML: {problem}", mark.line + 1 if mark else None
        ) from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(f"malformed YAML: {exc}") from exc
    return data, root


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
