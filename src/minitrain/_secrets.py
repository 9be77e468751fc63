"""Keep credentials out of what the project writes (records, the ledger, messages).

A vendor CLI's output or a typed termination command can carry an API key; the record is
committed to git, so anything that looks like a credential is replaced before it is written:
the value of any environment variable whose name says it is secret, and RunPod-style keys.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

_SECRET_NAME = re.compile(r"API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
_KEY_SHAPES = re.compile(r"\brpa_[A-Za-z0-9]{16,}\b")  # RunPod API keys
_MIN_LENGTH = 12  # API keys are longer; shorter values would redact ordinary words
# scheme://user:password@ -- any scheme (postgresql+psycopg:// too), a password up to the last @
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^\s]*@")


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    for name, value in env.items():
        if len(value) >= _MIN_LENGTH and _SECRET_NAME.search(name) and value in text:
            text = text.replace(value, f"[redacted ${name}]")
    return _KEY_SHAPES.sub("[redacted API key]", text)


def redact_url(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@host`` in it replaced; works
    on URLs too broken to parse (a bad port, ``[::1``), which is when they reach a message."""
    return _URL_PASSWORD.sub(r"\1:[redacted]@", text)
