"""Reference data shipped with the package (read with ``importlib.resources``):
``divisions.csv``, the GB/T 2260 administrative-division codes and names, used by name
screening (place names) and by the demo generator (where its subjects are registered)."""
