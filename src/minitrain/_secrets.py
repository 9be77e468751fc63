"""Keep credentials out of everything the project writes or says: records, the ledger, and every
message that reaches a terminal (``cli._handler`` passes all of stdout and stderr through
:func:`redact`).

What counts as secret is everything the process knows to be one:

* the value of any environment variable whose name says it is secret (``API_KEY``, ``TOKEN``,
  ``SECRET``, ``PASSWORD``, ...), when it is 8 characters or more: a shorter one would blank
  ordinary words out of every message;
* the password field of a URL (``scheme://user:PASSWORD@host``) or of a libpq key=value string
  (``password=PASSWORD``, ``password='a b'``), by its position, whatever its length;
* the password of such a URL or DSN that the process holds (in any environment variable, or a
  manifest's ``ledger_url``: :func:`remember`), wherever it appears: psycopg quotes it in its own
  messages (``invalid percent-encoded token: "hun%zzter2SECRET"``), with no ``://`` around it;
* the value given to a credential flag (``vastai ... --api-key KEY``: vastai keeps its key in a
  file, so it is not in the environment), and RunPod-style keys (``rpa_...``).

Structures are redacted value by value *before* JSON encoding: encoded text escapes ``\\`` and
``"``, and a key holding either would no longer match. Every scan here is linear in the text's
length (a pasted megabyte is refused in milliseconds, not minutes).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping

# Patterns only ``redact`` or an unusual environment needs stay text, compiled on first use (re
# caches them): the guard imports this module to check every label, and compiling is start-up.
_SECRET_NAME = r"API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL"  # matched ignoring case
_KEY_SHAPES = r"\brpa_[A-Za-z0-9]{16,}\b"  # RunPod API keys
# The flags the vendors' CLIs take a credential by (vastai --api-key, runpodctl --apiKey) and
# the usual others; the value follows a space or '='. Matched ignoring case.
_CREDENTIAL_FLAG = (
    r"(--?(?:api[-_]?key|apikey|(?:access[-_]?|auth[-_]?)?token|password|passwd|"
    r"secret(?:[-_]?key)?|credentials?)(?:=|\s+))(?!\[redacted)"
    # a help text's placeholder (`--api-key API_KEY]`) is no key: short capitals, never redacted
    r"(?!(?-i:[A-Z][A-Z_]{0,11})(?:[\]|)\s]|$))(\S+)"
)
_FLAG_STEMS = ("key", "token", "passw", "secret", "credential")  # a word each flag holds
_MIN_LENGTH = 8  # an environment credential shorter than this would redact ordinary words
_MIN_ANYWHERE = 4  # a known password shorter than this is redacted only as a word of its own
# libpq's key=value form (libpq-connect "Keyword/Value Connection Strings"): a value is a word,
# or single-quoted with \' and \\ escapes. The quoted branch is possessive and always ends (at
# its quote, or at the end of the text), so no input makes the pattern backtrack.
_DSN_PASSWORD = r"\b(password\s*=\s*)('(?:[^'\\]|\\.)*+(?:'|\\?\Z)|[^\s']\S*)"
_URL_USER = r"[^/\s:@]*:"  # after "://": the user name and the ':' ending it
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_REMEMBERED: list[str] = []  # URLs and DSNs the process was given outside the environment
SHOWN_MAX = 40  # the most of a refused value a message echoes


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    return _redact(text, _secret_values(environ))


def redactor() -> Callable[[str], str]:
    """:func:`redact` with what is secret read once, now: for a stream that redacts every line
    of one command (`budget status --all` writes one per operation)."""
    secrets = _secret_values(None)
    return lambda text: _redact(text, secrets)


def redact_data(data: object, environ: Mapping[str, str] | None = None) -> object:
    """``data`` (JSON-like: dicts, lists, strings) with every string redacted, keys included."""
    return _redact_data(data, _secret_values(environ))  # the environment read once, not per string


def remember(url: str) -> None:
    """Hold the password of ``url`` (a URL or DSN the process was given, not from the
    environment) as a secret for every later message."""
    if url not in _REMEMBERED:
        _REMEMBERED.append(url)


def _redact(text: str, secrets: list[tuple[str, str]]) -> str:
    low = text.lower()
    if "-" in text and any(stem in low for stem in _FLAG_STEMS):  # most lines: no regex at all
        text = re.sub(_CREDENTIAL_FLAG, r"\1[redacted]", text, flags=re.IGNORECASE)
    for name, value in sorted(secrets, key=lambda secret: -len(secret[1])):  # the longest first
        if value not in text:
            continue
        marker = f"[redacted {name}]"
        if len(value) >= _MIN_ANYWHERE:
            text = text.replace(value, marker)
        else:
            word = rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])"
            text = re.sub(word, marker.replace("\\", "\\\\"), text)  # a template: \\ is one
    if "rpa_" in text:
        text = re.sub(_KEY_SHAPES, "[redacted API key]", text)
    return redact_url(text)


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
        if len(value) >= _MIN_ANYWHERE and value in text:
            return f"the value of {name}" if name.startswith("$") else f"the {name}"
    if "rpa_" in text and re.search(_KEY_SHAPES, text):
        return "a RunPod API key (rpa_...)"
    if "://" in text and next(_url_passwords(text), None) is not None:
        return "a URL with a password"
    if "assword" in text.lower() and re.search(_DSN_PASSWORD, text, re.IGNORECASE | re.DOTALL):
        return "a password=... setting"
    return None


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
    """``text`` with the password of every ``scheme://user:password@host`` and every libpq
    ``password=...`` in it replaced, by position; works on URLs too broken to parse (a bad port,
    ``[::1``), which is when they reach a message."""
    if "://" in text:
        spans = list(_url_passwords(text))
        for start, end in reversed(spans):
            text = f"{text[:start]}[redacted]{text[end:]}"
    if "assword" in text.lower():
        text = re.sub(_DSN_PASSWORD, r"\1[redacted]", text, flags=re.IGNORECASE | re.DOTALL)
    return text


def _url_passwords(text: str, *, spaces: bool = False) -> Iterator[tuple[int, int]]:
    """The (start, end) of every URL password in ``text``: after ``scheme://user:``, up to the
    last ``@`` before the next whitespace (or before the end, with ``spaces``: a whole value
    known to be one URL). One pass: each "://" is looked at once, and each run of text between
    spaces is searched for its last '@' once."""
    run_end = last_at = -1
    pos = 0
    while (i := text.find("://", pos)) != -1:
        pos = i + 3
        if i == 0 or text[i - 1] not in _SCHEME_CHARS:
            continue
        user = re.compile(_URL_USER).match(text, pos)
        if user is None:
            continue
        colon = user.end()
        if colon > run_end:  # a new run of text between spaces: find its end and its last '@'
            found = None if spaces else re.compile(r"\s").search(text, colon)
            run_end = len(text) if found is None else found.start()
            last_at = text.rfind("@", colon, run_end)
        if last_at < colon:
            continue
        yield colon, last_at
        pos = last_at + 1


def _passwords_in(value: str) -> Iterator[str]:
    """The passwords a URL or DSN ``value`` holds: as written, and as a driver decodes them."""
    if "://" in value:
        for start, end in _url_passwords(value, spaces=True):
            yield value[start:end]
            if "%" in value[start:end]:
                from urllib.parse import unquote  # only for a password written percent-encoded

                yield unquote(value[start:end])
    if "assword" in value.lower():
        for match in re.finditer(_DSN_PASSWORD, value, re.IGNORECASE | re.DOTALL):
            quoted = match.group(2)
            if quoted.startswith("'"):
                inner = quoted[1:-1] if quoted.endswith("'") and len(quoted) > 1 else quoted[1:]
                yield inner
                yield re.sub(r"\\(.)", r"\1", inner, flags=re.DOTALL)
            else:
                yield quoted


def _secret_values(environ: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """Every secret value the process knows, with a name for it: secret-named variables' values
    (long enough to be keys) and the passwords of the URLs and DSNs held in any variable or
    remembered, in the environment's order.

    Read afresh on every call (a credential set a moment ago counts), but cheaply, as the guard
    checks every label: one search over all the names joined (they cannot hold a NUL), and only
    the values of the names it finds; a search per name, and every value decoded, cost ~3x."""
    env = os.environ if environ is None else environ
    found = [(f"${name}", value) for name, value in _secret_named(env)]
    for name, value in env.items():
        if ("@" in value and "://" in value) or "assword" in value:
            found.extend((f"password of ${name}", p) for p in _passwords_in(value) if p)
    for url in _REMEMBERED:
        found.extend(("password of the ledger URL", p) for p in _passwords_in(url) if p)
    return found


def _secret_named(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """The secret-named variables' values of 8 characters or more, in the environment's order."""
    names = "\0".join(env)
    if not names.isascii():  # upper() could change lengths: one search per name instead
        return [
            (n, v)
            for n, v in env.items()
            if len(v) >= _MIN_LENGTH and re.search(_SECRET_NAME, n, re.IGNORECASE)
        ]
    found: list[tuple[str, str]] = []
    last = ""
    for match in re.finditer(_SECRET_NAME, names.upper()):  # IGNORECASE scans ~3x slower
        start = names.rfind("\0", 0, match.start()) + 1
        end = names.find("\0", match.end())
        name = names[start:] if end == -1 else names[start:end]
        if name != last and len(value := env[name]) >= _MIN_LENGTH:
            found.append((name, value))
        last = name
    return found
