"""The public portal: server-rendered pages over the application layer (thin, like the API).

Search, entity pages, lists, rulebooks, comparison, monitoring, the ledger, open data and
the subject's own file (``/me``). Every asset is served from the package (no CDN).
"""
