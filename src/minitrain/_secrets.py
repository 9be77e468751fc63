"""Keep credentials out of what the project writes (records, the ledger, messages).

A vendor CLI's output or a typed termination command can carry an API key; the record is
committed to git, so anything that looks like a credential is replaced before it is written:
the value of any environment variable whose name says it is secret, the value given to a
credential flag (``vastai ... --api-key KEY``: vastai keeps its key in a file, so it is not in
the environment), RunPod-style keys, and the password of a URL. Structures are redacted value by
value *before* JSON encoding: encoded text escapes ``\\`` and ``"``, and a key holding either
would no longer match.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

# Patterns only ``redact`` or an unusual environment needs stay text, compiled on first use (re
# caches them): the guard imports this module to check every label, and compiling is start-up.
_SECRET_NAME = r"API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL"  # matched ignoring case
_SECRET_NAME_UPPER = re.compile(_SECRET_NAME)  # for names already upper-cased
_KEY_SHAPES = re.compile(r"\brpa_[A-Za-z0-9]{16,}\b")  # RunPod API keys
# The flags the vendors' CLIs take a credential by (vastai --api-key, runpodctl --apiKey) and
# the usual others; the value follows a space or '='. Matched ignoring case.
_CREDENTIAL_FLAG = (
    r"(--?(?:api[-_]?key|apikey|(?:access[-_]?|auth[-_]?)?token|password|passwd|"
    r"secret(?:[-_]?key)?|credentials?)(?:=|\s+))(?!\[redacted)(\S+)"
)
_MIN_LENGTH = 12  # API keys are longer; shorter values would redact ordinary words
# scheme://user:password@ -- any scheme (postgresql+psycopg:// too), a password up to the last @
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^\s]*@")


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    return _redact(text, _secret_values(environ))


def redact_data(data: object, environ: Mapping[str, str] | None = None) -> object:
    """``data`` (JSON-like: dicts, lists, strings) with every string redacted, keys included."""
    return _redact_data(data, _secret_values(environ))  # the environment read once, not per string


def _redact(text: str, secrets: list[tuple[str, str]]) -> str:
    text = re.sub(_CREDENTIAL_FLAG, r"\1[redacted]", text, flags=re.IGNORECASE)
    for name, value in secrets:
        if value in text:
            text = text.replace(value, f"[redacted ${name}]")
    return redact_url(_KEY_SHAPES.sub("[redacted API key]", text))


def _redact_data(data: object, secrets: list[tuple[str, str]]) -> object:
    if isinstance(data, str):
        return _redact(data, secrets)
    if isinstance(data, dict):
        return {_redact_data(k, secrets): _redact_data(v, secrets) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_redact_data(item, secrets) for item in data]
    return data


def find_secret(text: str, environ: Mapping[str, str] | None = None) -> str | None:
    """What known secret ``text`` holds, described without its value; None if none."""
    for name, value in _secret_values(environ):
        if value in text:
            return f"the value of ${name}"
    if _KEY_SHAPES.search(text):
        return "a RunPod API key (rpa_...)"
    if _URL_PASSWORD.search(text):
        return "a URL with a password"
    return None


SHOWN_MAX = 40  # the most of a refused value a message echoes


def shown(text: str, limit: int = SHOWN_MAX) -> str:
    """``text`` as a message may echo it: ASCII-escaped (a hidden joiner or a Cyrillic letter is
    seen for what it is), at most ``limit`` characters of it, and not at all when it holds a
    known secret (a prefix of a key is still part of the key)."""
    what = find_secret(text)
    if what is not None:
        return f"(not shown: it holds {what})"
    if len(text) <= limit:
        return ascii(text)
    return f"{text[:limit]!a}... ({len(text):,} characters)"


def redact_url(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@host`` in it replaced; works
    on URLs too broken to parse (a bad port, ``[::1``), which is when they reach a message."""
    return _URL_PASSWORD.sub(r"\1:[redacted]@", text)


def _secret_values(environ: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """The secret-named variables' values (long enough to be keys), in the environment's order.

    Read afresh on every call (a credential set a moment ago counts), but cheaply, as the guard
    checks every label: one search over all the names joined (they cannot hold a NUL), and only
    the values of the names it finds; a search per name, and every value decoded, cost ~3x."""
    env = os.environ if environ is None else environ
    names = "\0".join(env)
    if not names.isascii():  # upper() could change lengths: one search per name instead
        return [
            (n, v)
            for n, v in env.items()
            if len(v) >= _MIN_LENGTH and re.search(_SECRET_NAME, n, re.IGNORECASE)
        ]
    found: list[tuple[str, str]] = []
    last = ""
    for match in _SECRET_NAME_UPPER.finditer(names.upper()):  # IGNORECASE scans ~3x slower
        start = names.rfind("\0", 0, match.start()) + 1
        end = names.find("\0", match.end())
        name = names[start:] if end == -1 else names[start:end]
        if name != last and len(value := env[name]) >= _MIN_LENGTH:
            found.append((name, value))
        last = name
    return found
