"""trustledger: a public credit information platform with a tamper-evident ledger."""

__version__ = "0.1.0"
