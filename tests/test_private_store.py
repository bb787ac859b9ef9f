"""The store's private methods are the ledger's own: everything outside ``trustledger/ledger``
goes through its public query interface (``query``, ``execute``, ``transaction``), from one
query module per area."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "trustledger"
PRIVATE = {"_query", "_run", "_transaction"}


def private_calls(source: str) -> list[tuple[int, str]]:
    """(line, expression) of every use of a private store method on something other than
    the object's own ``self`` (a class may have a ``_run`` of its own)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in PRIVATE
            and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})
        ):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_no_module_outside_the_ledger_calls_a_private_store_method() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {expr}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if "ledger" not in path.relative_to(PACKAGE).parts[:1]
        for line, expr in private_calls(path.read_text("utf-8"))
    ]
    assert offenders == []


def test_the_check_sees_what_it_must() -> None:
    # the rule itself: a store's private method anywhere, but not a class's own
    source = (
        "def f(store, self_like):\n"
        "    store._query('SELECT 1', ())\n"
        "    with self_like.store._transaction():\n"
        "        getattr(store, 'x')._run('x', [])\n"
        "class Receiver:\n"
        "    def start(self):\n"
        "        return self._run\n"
    )
    assert [line for line, _ in private_calls(source)] == [2, 3, 4]
