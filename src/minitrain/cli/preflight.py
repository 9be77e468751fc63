"""``preflight``: the checklist runner (not built yet)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from minitrain.errors import ExitCode


def main(argv: Sequence[str] | None = None) -> int:
    print("preflight: the checklist runner is not built yet (issue 3)", file=sys.stderr)
    return ExitCode.INTERNAL
