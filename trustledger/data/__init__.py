"""Reference data shipped with the package (read with ``importlib.resources``):
``divisions.csv``, the GB/T 2260 administrative-division codes and names, used by name
screening (place names) and by the demo generator (where its subjects are registered)."""

from functools import lru_cache as _lru_cache


@_lru_cache(maxsize=1)
def division_names() -> dict[str, str]:
    """GB/T 2260 code → name (北京市, 东城区, …), as shipped."""
    import csv
    from importlib import resources

    text = resources.files("trustledger.data").joinpath("divisions.csv").read_text("utf-8")
    return {row["code"]: row["name"] for row in csv.DictReader(text.splitlines())}
