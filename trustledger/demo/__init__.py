"""Synthetic but realistic demo data, produced as intake lines (see docs/intake.md).

``generate`` yields the lines; ``write_demo_files`` streams them to JSON Lines files and a
CSV sample. Both are deterministic for ``(seed, subjects, as_of)``.
"""

from trustledger.demo.generate import (
    CATEGORIES,
    Category,
    generate,
    kind_counts,
    load_divisions,
    write_demo_files,
)

__all__ = [
    "CATEGORIES",
    "Category",
    "generate",
    "kind_counts",
    "load_divisions",
    "write_demo_files",
]
