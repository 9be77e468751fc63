"""msgspec in front of the line codec's stdlib decoder, for long reads (``parser.TYPED_READ``).

An authorize or actual line decodes straight into a typed, tagged ``Struct`` (unknown fields
refused, every field required), which skips building a dict per line. Whatever it cannot type
(a void, a number for an amount, a missing or extra field, JSON it rejects) goes to the stdlib
path, which words every failure as it always has. Either way the fields meet the same checks
(``parser.Parser._check``): this module only decodes. Imported lazily: msgspec costs ~20-50 ms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec


class _Authorize(msgspec.Struct, tag_field="kind", tag="authorize", forbid_unknown_fields=True):
    id: str
    ts: str
    op_label: str
    lab: str | None
    estimated: str | None
    currency: str
    crc32: str  # checked (against the bytes) before decoding


class _Actual(msgspec.Struct, tag_field="kind", tag="actual", forbid_unknown_fields=True):
    id: str
    ts: str
    op_label: str
    lab: str | None
    op_id: str | None
    estimated: str | None
    actual: str
    currency: str
    crc32: str


_decode = msgspec.json.Decoder(_Authorize | _Actual).decode


def taker(
    check: Callable[..., None], fallback: Callable[[bytes, int], None]
) -> Callable[[bytes, int], None]:
    """A ``take(raw, number)`` that feeds ``check`` from a typed line, else calls ``fallback``."""
    decode, untyped, authorize = _decode, msgspec.MsgspecError, _Authorize

    def take(raw: bytes, number: int) -> None:
        try:
            line: Any = decode(raw)
        except untyped:
            fallback(raw, number)
            return
        if type(line) is authorize:
            check(
                "authorize", line.id, line.ts, line.currency, line.op_label, line.lab,
                None, line.estimated, None, number,
            )  # fmt: skip
        else:
            check(
                "actual", line.id, line.ts, line.currency, line.op_label, line.lab,
                line.op_id, line.estimated, line.actual, number,
            )  # fmt: skip

    return take
