"""Command-line entry points: ``budget``, ``preflight`` and ``python -m minitrain TOOL``."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m minitrain budget ...`` or ``python -m minitrain preflight ...``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "budget":
        from minitrain.cli import budget

        return budget.main(args[1:])
    if args and args[0] == "preflight":
        from minitrain.cli import preflight

        return preflight.main(args[1:])
    print("usage: python -m minitrain {budget,preflight} ...", file=sys.stderr)
    return 2
