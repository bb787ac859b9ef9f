"""The shipped regimes (YAML), package data: read them with ``importlib.resources``
(``trustledger.app.rulebooks.shipped_rulebooks``), never by a path beside the checkout."""
