"""The action catalogue: what a checker may ask about, and which agencies ask.

A check names an action by its code; an action not in this catalogue cannot be answered
and is reported as "unknown" rather than allowed (principle 7).
"""

from __future__ import annotations

import functools
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trustledger.rulebook.schema import ACTION_PATTERN
from trustledger.yamlfile import YamlProblem, parse_model, read_policy_file

__all__ = [
    "ACTIONS_PATH",
    "Action",
    "ActionCatalogue",
    "ActionCatalogueError",
    "AgencyType",
    "load_actions",
    "parse_actions",
]

ACTIONS_PATH = Path(__file__).with_name("actions.yaml")


class AgencyType(StrEnum):
    """Kinds of agency that check an action (checkers, not the issuers of records)."""

    GOVERNMENT = "government"
    FINANCE_BUREAU = "finance_bureau"
    PUBLIC_RESOURCE_TRADING = "public_resource_trading"
    DEVELOPMENT_REFORM = "development_reform"
    SECURITIES_REGULATION = "securities_regulation"
    CENTRAL_BANK = "central_bank"
    FINANCE_REGULATION = "finance_regulation"
    TAX = "tax"
    MARKET_REGULATION = "market_regulation"
    ECOLOGY_ENVIRONMENT = "ecology_environment"
    HOUSING_CONSTRUCTION = "housing_construction"
    NATURAL_RESOURCES = "natural_resources"
    CIVIL_AVIATION = "civil_aviation"
    RAIL = "rail"
    TRANSPORT = "transport"
    CULTURE_TOURISM = "culture_tourism"
    HOSPITALITY = "hospitality"
    PUBLIC_SECURITY_TRAFFIC = "public_security_traffic"
    EDUCATION = "education"
    CUSTOMS = "customs"


class ActionCatalogueError(ValueError):
    """The action catalogue cannot be loaded; the message names the file, line and item."""


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    code: str = Field(pattern=ACTION_PATTERN)
    title: str = Field(min_length=1)
    title_zh: str = Field(min_length=1)
    agencies: tuple[AgencyType, ...] = Field(min_length=1)
    # the broader action this one is part of: a restriction on that one bars this one too
    # (restricting all subsidies restricts environmental subsidies; not the other way)
    within: str | None = Field(default=None, pattern=ACTION_PATTERN)

    @field_validator("agencies")
    @classmethod
    def _agencies_unique(cls, value: tuple[AgencyType, ...]) -> tuple[AgencyType, ...]:
        if len(set(value)) != len(value):
            raise ValueError("agencies are repeated")
        return value


class ActionCatalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    actions: tuple[Action, ...] = Field(min_length=1)

    @field_validator("actions")
    @classmethod
    def _codes_unique(cls, value: tuple[Action, ...]) -> tuple[Action, ...]:
        seen: set[str] = set()
        for action in value:
            if action.code in seen:
                raise ValueError(f"action {action.code} is listed twice")
            seen.add(action.code)
        for action in value:
            if action.within is not None and action.within not in seen:
                raise ValueError(
                    f"action {action.code} is within {action.within}, which is not catalogued"
                )
        parents = {a.code: a.within for a in value}
        for action in value:
            path = [action.code]
            while (parent := parents.get(path[-1])) is not None:
                if parent in path:
                    raise ValueError(f"actions within each other: {' → '.join([*path, parent])}")
                path.append(parent)
        return value

    @functools.cached_property
    def narrower(self) -> dict[str, tuple[str, ...]]:
        """Action → every action within it, at any depth."""
        out: dict[str, list[str]] = {}
        for action in self.actions:
            parent = action.within
            while parent is not None:
                out.setdefault(parent, []).append(action.code)
                parent = self.by_code[parent].within
        return {code: tuple(sorted(children)) for code, children in out.items()}

    @functools.cached_property
    def by_code(self) -> dict[str, Action]:
        return {a.code: a for a in self.actions}

    @functools.cached_property
    def codes(self) -> frozenset[str]:
        return frozenset(self.by_code)

    def get(self, code: str) -> Action | None:
        return self.by_code.get(code)


def parse_actions(text: str, source: str | Path = "<string>") -> ActionCatalogue:
    """Parse catalogue YAML; every problem is reported as `source:line: where: what`."""
    return parse_model(text, ActionCatalogue, source, ActionCatalogueError)


@functools.cache
def load_actions(path: Path = ACTIONS_PATH) -> ActionCatalogue:
    """The action catalogue (the shipped one unless another file is named), read once."""
    try:
        text = read_policy_file(path)
    except (OSError, UnicodeDecodeError, YamlProblem) as exc:
        raise ActionCatalogueError(f"{path}: cannot read the action catalogue: {exc}") from exc
    return parse_actions(text, path)
