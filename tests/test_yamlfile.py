"""Strict YAML for policy files: every malformed input a named problem with its line, and
bounds on size and expansion, so a hostile upload costs nothing to refuse."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from trustledger.catalogue import CatalogueError, load_catalogue
from trustledger.rulebook.load import RulebookError, load_rulebook, parse_rulebook
from trustledger.yamlfile import MAX_BYTES, YamlProblem, load_strict, read_policy_file

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9)
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "? [a, b]\n: 1\n",
            "line 1, column 3: malformed YAML: a key must be a plain value, not a list",
        ),
        ("? {a: 1}\n: 1\n", "a key must be a plain value, not a dict"),
        ("a: 1\na: 2\n", "line 2, column 1: malformed YAML: duplicate key 'a'"),
        ("a: 1\n---\nb: 2\n", "expected a single document in the stream but found another"),
        ("ab\x00", "special characters are not allowed (character 3)"),
        ("a:\n\t- 1\n", "line 2, column 1: malformed YAML: found character '\\t'"),
        ("!!python/object:os.system x", "could not determine a constructor"),
        ("{a: 1", "line 1, column 6: malformed YAML: expected ',' or '}'"),
        ("a: b: c", "mapping values are not allowed here"),
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
        (BOMB, "4,412,961,516 values once its aliases are expanded"),
        ("x" * (MAX_BYTES + 1), f"over the {MAX_BYTES:,}-byte limit"),
    ],
)
def test_malformed_yaml_is_a_named_problem(text: str, message: str) -> None:
    with pytest.raises(YamlProblem) as caught:
        load_strict(text)
    assert message in str(caught.value)


def test_shared_values_by_alias_are_still_read() -> None:
    # the shipped catalogue shares legal bases this way
    assert load_strict("a: &basis {instrument: X}\nb: *basis\n")[0] == {
        "a": {"instrument": "X"},
        "b": {"instrument": "X"},
    }


def test_a_bomb_is_refused_at_once() -> None:
    started = time.perf_counter()
    with pytest.raises(YamlProblem):
        load_strict(BOMB)
    assert time.perf_counter() - started < 5  # generous: the point is no expansion at all


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.truncate(50 * MAX_BYTES)  # 50 MiB of holes: nothing to read if it is not read
    with pytest.raises(YamlProblem, match="52,428,800 bytes, over the 1,048,576-byte limit"):
        read_policy_file(path)
    with pytest.raises(RulebookError, match="over the 1,048,576-byte limit"):
        load_rulebook(path)
    with pytest.raises(CatalogueError, match="over the 1,048,576-byte limit"):
        load_catalogue(path)


def test_unhashable_key_in_a_rulebook_is_a_problem_not_a_crash() -> None:
    with pytest.raises(RulebookError, match="a key must be a plain value"):
        parse_rulebook("id: x\n? [a, b]\n: 1\n")


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("title: caf\xe9\n".encode("latin-1"))
    with pytest.raises(RulebookError, match="cannot read"):
        load_rulebook(path)
