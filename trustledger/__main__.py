"""`python -m trustledger`: the same as the `trustledger` command."""

from trustledger.cli import main

main()
