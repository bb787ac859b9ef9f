"""The layering contract (DESIGN.md, "Layout") is a test, not a wish.

The contracts live in pyproject.toml (``[tool.importlinter]``) and are checked by
import-linter: faces → app → domain modules → ledger → ids → domain; no domain module
imports a face, the application layer, Typer, Rich, FastAPI or Uvicorn; the ledger imports
nothing of ours but ``domain`` and ``ids``; a face (CLI, API) imports no domain module
itself, only ``app`` and the shared ``settings``, ``domain`` and ``ids``; no import cycles
among the packages.

The tree keeps them; and each kind of forbidden import, added to a copy of the package,
breaks the contract that names it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "trustledger"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["importlinter"]
CONTRACTS = {c["id"]: c for c in CONFIG["contracts"]}
FACES = {"api", "cli", "portal", "app", "__main__"}
FOUNDATION = {"ledger", "domain", "ids"}
SHARED = {"settings", "domain", "ids"}  # what a face may import beside the application layer


def lint(cwd: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """lint-imports over the ``trustledger`` found first on the path from ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    args = [str(LINT_IMPORTS), "--no-cache", "--no-logo"]
    for contract in contracts:
        args += ["--contract", contract]
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def verdicts(output: str) -> dict[str, str]:
    """Contract name → KEPT or BROKEN, as lint-imports reports them."""
    return dict(re.findall(r"^(.+?) (KEPT|BROKEN)$", output, re.MULTILINE))


def top_level_modules() -> set[str]:
    return {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" and p.is_file()) or (p / "__init__.py").is_file()
    } - {"__init__"}


def test_the_tree_keeps_every_contract() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    found = verdicts(result.stdout)
    assert found == {c["name"]: "KEPT" for c in CONFIG["contracts"]}, result.stdout


def test_the_contracts_name_every_module() -> None:
    """A module added later is placed in a layer and held to the forbidden contracts: the
    lists in pyproject.toml are checked against the package, not trusted."""
    modules = top_level_modules()

    def short(names: list[str]) -> set[str]:
        return {name.removeprefix("trustledger.") for name in names}

    domain = short(CONTRACTS["domain-no-faces"]["source_modules"])
    assert domain == modules - FACES, "domain-no-faces must list every non-face module"
    beside_ledger = short(CONTRACTS["ledger-alone"]["forbidden_modules"])
    others = modules - FOUNDATION - {"__main__"}
    assert beside_ledger == others, "ledger-alone must forbid every other module"
    assert CONTRACTS["layers"]["exhaustive"] is True
    forbidden = set(CONTRACTS["domain-no-faces"]["forbidden_modules"])
    assert {"typer", "rich", "fastapi", "uvicorn", "trustledger.app"} <= forbidden
    assert {"trustledger.api", "trustledger.cli"} <= forbidden
    faces = CONTRACTS["faces-through-app"]
    assert short(faces["forbidden_modules"]) == modules - FACES - SHARED, (
        "faces-through-app must forbid every module but the faces, app and the shared ones"
    )
    assert {"cli", "api"} <= short(faces["source_modules"])
    assert faces.get("ignore_imports", []) == []


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The package and its contracts, copied where a change breaks nothing else."""
    shutil.copytree(PACKAGE, tmp_path / "trustledger", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(copy: Path, module: str, statement: str) -> None:
    path = copy / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = copy / module.replace(".", "/") / "__init__.py"
    text = path.read_text("utf-8")
    # after the docstring and `from __future__`, where a real import would go
    head, future, rest = text.partition("from __future__ import annotations\n")
    assert future, f"{path} has no `from __future__ import annotations`"
    path.write_text(head + future + statement + "\n" + rest, "utf-8")


# (where, what is added, the contract it breaks, what its report must name)
BREAKS = [
    pytest.param(
        "trustledger.evaluate.profile", "import typer", "domain-no-faces",
        "trustledger.evaluate.profile -> typer", id="domain-imports-typer",
    ),
    pytest.param(
        "trustledger.intake.service", "from rich.console import Console", "domain-no-faces",
        "trustledger.intake.service -> rich", id="domain-imports-rich",
    ),
    pytest.param(
        "trustledger.sanctions.check", "import fastapi", "domain-no-faces",
        "trustledger.sanctions.check -> fastapi", id="domain-imports-fastapi",
    ),
    pytest.param(
        "trustledger.monitoring.judge", "import trustledger.app.context", "layers",
        "trustledger.monitoring.judge -> trustledger.app.context", id="domain-imports-app",
    ),
    pytest.param(
        "trustledger.rulebook.schema", "import trustledger.api.models", "domain-no-faces",
        "trustledger.rulebook.schema -> trustledger.api.models", id="domain-imports-a-face",
    ),
    pytest.param(
        "trustledger.ledger.entry", "import trustledger.catalogue", "ledger-alone",
        "trustledger.ledger.entry -> trustledger.catalogue", id="ledger-imports-a-domain-module",
    ),
    pytest.param(
        "trustledger.cli.monitor", "import trustledger.monitoring.points", "faces-through-app",
        "trustledger.cli.monitor -> trustledger.monitoring.points",
        id="cli-imports-a-domain-module",
    ),
    pytest.param(
        "trustledger.cli.commands", "from trustledger.ledger.verify import verify",
        "faces-through-app", "trustledger.cli.commands -> trustledger.ledger.verify",
        id="cli-imports-the-ledger",
    ),
    pytest.param(
        "trustledger.api.routers.lists", "from trustledger.rulebook.schema import ID_PATTERN",
        "faces-through-app", "trustledger.api.routers.lists -> trustledger.rulebook.schema",
        id="api-imports-a-domain-module",
    ),
    pytest.param(
        # evaluate imports catalogue; catalogue importing evaluate closes a cycle
        "trustledger.catalogue", "import trustledger.evaluate.profile", "acyclic",
        ".catalogue -> .evaluate", id="cycle-between-domain-packages",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("module", "statement", "contract", "named"), BREAKS)
def test_a_forbidden_import_breaks_its_contract(
    copy: Path, module: str, statement: str, contract: str, named: str
) -> None:
    assert lint(copy, contract).returncode == 0, "the copy keeps the contract before the change"
    add_import(copy, module, statement)
    result = lint(copy, contract)
    assert result.returncode == 1, result.stdout + result.stderr
    assert verdicts(result.stdout) == {CONTRACTS[contract]["name"]: "BROKEN"}, result.stdout
    assert named in result.stdout, result.stdout


def test_a_module_without_a_layer_breaks_the_layers(copy: Path) -> None:
    (copy / "trustledger" / "stray.py").write_text('"""Placed in no layer."""\n', "utf-8")
    result = lint(copy, "layers")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "trustledger.stray" in result.stdout, result.stdout
