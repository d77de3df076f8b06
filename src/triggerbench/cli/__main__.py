"""``python -m triggerbench.cli``: the command, as the console script runs it."""

from triggerbench.cli import main

main()
