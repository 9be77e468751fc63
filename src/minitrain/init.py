"""``budget init``: set the tool up in a git repository.

It writes one folder holding the manifest and the ledger side by side (the manifest governs the
ledger beside it, see ``settings.py``), and the lines git needs for the ledger: ``merge=union`` in
``.gitattributes`` (two people's appended lines merge without conflict) and, in ``.gitignore``,
the files that are local to one machine (the lock, the checkpoint and its key, rehearsals). The
folder is ``budget/`` at the repository's root, or the home that already holds a ledger (this
course's ``experiments/35-cloud-budget/``): wherever the commands look from any folder of the
repository (``manifest.HOMES``).

A repository that has a manifest is refused: the ceiling is raised by editing ``ceiling_usd`` in
a reviewed commit, never by running a command again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from minitrain import labs, vendors
from minitrain import manifest as manifest_module
from minitrain._struct import Struct
from minitrain.errors import InputError, Interrupted
from minitrain.money import format_usd, parse_rate, parse_usd

# What ``.gitignore`` needs for a ledger in ``{home}``: the same lines as this repository's own
# ``.gitignore`` (a test holds them to it).
GITIGNORE = (
    "*.jsonl.lock",  # the ledger's lock file: local to one machine
    "*.jsonl.checkpoint",  # derived from the ledger, rebuilt whenever in doubt
    "*.jsonl.key",  # the checkpoint's per-ledger key (an HMAC secret)
    ".*.jsonl.checkpoint.*.tmp",
    "{home}/preflight/*-dry-run.json",  # rehearsals are not part of the record
    "{home}/preflight/.watch-*",  # the watcher's working files
    "{home}/preflight/.*.tmp",
)
# Every ledger line has a unique id, so a union merge never drops or doubles one.
GITATTRIBUTES = ("{home}/spend.jsonl merge=union",)
_ASKED_AT_MOST = 3  # wrong answers in a row before giving up (a script piping junk stops)

Ask = Callable[[str], str]
_T = TypeVar("_T")


class Initialized(Struct, frozen=True):
    """What ``budget init`` wrote."""

    root: Path
    home: str  # the folder, relative to the root
    manifest: Path
    ledger: Path
    ceiling: Decimal
    caps: Mapping[str, Decimal]
    vendor: str | None
    gitignore: tuple[str, ...]  # the lines added
    gitattributes: tuple[str, ...]

    def message(self) -> str:
        caps = ", ".join(f"{labs.cap_name(p)} {format_usd(c)}" for p, c in self.caps.items())
        lines = [
            f"set up {self.home}/ in {self.root}: manifest.json (ceiling"
            f" {format_usd(self.ceiling)}; {caps or 'no lab caps'};"
            f" {'vendor ' + self.vendor if self.vendor else 'no vendor'}) beside spend.jsonl"
        ]
        for name, added in ((".gitattributes", self.gitattributes), (".gitignore", self.gitignore)):
            if added:
                lines.append(f"added to {name}: {' '.join(added)}")
        lines.append(
            f"next: git add {self.home} .gitattributes .gitignore && git commit -m 'budget:"
            f" a {format_usd(self.ceiling)} ceiling'; then `budget status` from any folder of"
            " the repository"
        )
        return "\n".join(lines)

    def data(self) -> dict[str, object]:
        return {
            "root": str(self.root),
            "manifest": str(self.manifest),
            "ledger": str(self.ledger),
            "ceiling": str(self.ceiling),
            "caps": {pool: str(cap) for pool, cap in self.caps.items()},
            "vendor": self.vendor,
            "gitignore_added": list(self.gitignore),
            "gitattributes_added": list(self.gitattributes),
        }


def init(
    *,
    start: str | None = None,
    ceiling: str | None = None,
    caps: Sequence[str] = (),
    buffer: str | None = None,
    vendor: str | None = None,
    price: str | None = None,
    ask: Ask | None = None,
) -> Initialized:
    """Set up the git repository holding ``start`` (default: the working folder). ``caps`` are
    ``LAB=USD``; the buffer defaults to what the caps leave of the ceiling. Whatever is not given
    is asked through ``ask`` (a person at a terminal); without ``ask``: the ceiling alone (it
    must be given), no caps, no vendor."""
    found = manifest_module.repository_root(start)
    if found is None:
        raise InputError(
            "not inside a git repository: `budget init` sets one up (the ledger is committed,"
            " and merged by git); run `git init` first, or cd into your repository"
        )
    root = Path(found)
    existing = manifest_module.find(start) or manifest_module.find(root)
    if existing is not None:
        raise InputError(
            f"already set up: {existing} exists; to change the ceiling or the caps, edit it in a"
            " reviewed commit (init never overwrites it)"
        )
    amount = _ceiling(ceiling, ask)
    capped = _caps(amount, caps, buffer, ask if not caps and buffer is None else None)
    chosen, rate = _vendor(vendor, price, ask)
    home = _home(root)
    folder = root / home
    data = _manifest_data(home, amount, capped, chosen, rate)
    manifest_path = folder / manifest_module.MANIFEST_NAME
    text = _json(data)
    manifest_module.build(str(manifest_path), _parsed(text))  # the loader's checks, first
    folder.mkdir(parents=True, exist_ok=True)
    with manifest_path.open("x", encoding="utf-8") as f:  # "x": never over a racing one
        f.write(text)
    ledger = folder / manifest_module.LEDGER_NAME
    ledger.touch()  # an empty ledger, or the one already there as it was
    return Initialized(
        root=root,
        home=home,
        manifest=manifest_path,
        ledger=ledger,
        ceiling=amount,
        caps=capped,
        vendor=chosen,
        gitignore=_append(root / ".gitignore", GITIGNORE, home),
        gitattributes=_append(root / ".gitattributes", GITATTRIBUTES, home),
    )


def _home(root: Path) -> str:
    """The home that already holds a ledger (written with ``--ceiling`` before init), else the
    init folder: where the commands find it from any folder of the repository."""
    for home in manifest_module.HOMES:
        if (root / home / manifest_module.LEDGER_NAME).is_file():
            return home
    return manifest_module.HOMES[-1]


def _ceiling(given: str | None, ask: Ask | None) -> Decimal:
    if given is not None:
        return parse_usd(given, what="--ceiling")
    if ask is None:
        raise InputError(
            "give the ceiling: budget init --ceiling USD (e.g. 5.00); the caps and the vendor"
            " are optional (--cap LAB=USD, --buffer USD, --vendor NAME, --price USD)"
        )
    return _asked(
        ask,
        "The hard ceiling for everything this repository rents, in dollars (e.g. 5.00): ",
        lambda text: parse_usd(text, what="the ceiling"),
    )


def _caps(
    ceiling: Decimal, given: Sequence[str], buffer: str | None, ask: Ask | None
) -> dict[str, Decimal]:
    """Caps by lab plus the buffer, adding up to the ceiling; empty: the ceiling alone."""
    if ask is not None:
        return _asked(
            ask,
            "Caps per lab as LAB=USD separated by spaces (e.g. 02=3.00 03=0.00),"
            " or Enter for none (the ceiling alone): ",
            lambda text: _caps(ceiling, text.split(), None, None),
        )
    caps: dict[str, Decimal] = {}
    for item in given:
        lab, sep, usd = item.partition("=")
        what = f"the cap {item!r}"
        if not sep:
            raise InputError(f"{what} is not LAB=USD; write e.g. 02=3.00")
        key = labs.normalise(lab, what=f"{what}: the lab")
        if key in caps:
            raise InputError(f"{what}: lab {key} is capped twice; give each lab one cap")
        caps[key] = parse_usd(usd, what=what)
    if buffer is not None:
        caps[labs.BUFFER] = parse_usd(buffer, what="--buffer")
    elif caps:
        left = ceiling - _total(caps)
        if left < 0:
            raise InputError(
                f"the caps add up to {format_usd(_total(caps))}, more than the ceiling"
                f" {format_usd(ceiling)}; lower a cap or raise --ceiling"
            )
        caps[labs.BUFFER] = left
    if caps and _total(caps) != ceiling:
        raise InputError(
            f"the caps and the buffer add up to {format_usd(_total(caps))}, not the"
            f" ceiling {format_usd(ceiling)}; leave --buffer out to give it what is left"
        )
    return caps


def _total(caps: Mapping[str, Decimal]) -> Decimal:
    return sum(caps.values(), Decimal(0))


def _vendor(
    given: str | None, price: str | None, ask: Ask | None
) -> tuple[str | None, Decimal | None]:
    choices = ", ".join(vendors.ADAPTERS)
    if given is None and ask is not None:
        given = _asked(
            ask,
            f"The vendor you rent from ({choices}), or Enter for none: ",
            lambda text: _vendor(text.strip() or None, "", None)[0],
        )
    if given is None:
        if price:
            raise InputError("--price needs --vendor: whose price per GPU-hour is it?")
        return None, None
    if given not in vendors.ADAPTERS:
        raise InputError(f"vendor {given!r} is not one of {choices}")
    if price is None and ask is not None:
        return given, _asked(
            ask,
            f"{given}'s price per GPU-hour in dollars (e.g. 0.35), or Enter to leave it out: ",
            lambda text: parse_rate(text, what="the price") if text.strip() else None,
        )
    return given, parse_rate(price, what="--price") if price else None


def _asked(ask: Ask, question: str, parse: Callable[[str], _T]) -> _T:
    """Ask until ``parse`` takes the answer (at most a few times)."""
    for _ in range(_ASKED_AT_MOST - 1):
        try:
            return parse(_answer(ask, question))
        except InputError as exc:
            print(f"  {exc}", file=sys.stderr)
    return parse(_answer(ask, question))


def _answer(ask: Ask, question: str) -> str:
    try:
        return ask(question)
    except EOFError:  # Ctrl-D, or a closed pipe: stop, having written nothing
        raise Interrupted("end of input: nothing was written") from None


def _manifest_data(
    home: str,
    ceiling: Decimal,
    caps: Mapping[str, Decimal],
    vendor: str | None,
    price: Decimal | None,
) -> dict[str, object]:
    data: dict[str, object] = {"currency": "USD", "ceiling_usd": ceiling}
    if caps:
        data["ceiling_per_lab"] = dict(caps)
    data["spend_log_path"] = f"{home}/{manifest_module.LEDGER_NAME}"
    if vendor is not None:
        data["vendor"] = vendor
    if vendor is not None and price is not None:
        data["vendor_snapshot_date"] = datetime.now(UTC).date().isoformat()
        data["vendor_snapshot_prices"] = {vendor: str(price)}
    return data


def _json(data: Mapping[str, object], indent: str = "") -> str:
    """The manifest as JSON, amounts as plain numbers (``5.00``): ``json`` writes a Decimal only
    through a float, and money never passes through one."""
    inner = indent + "  "
    items = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            shown = _json(value, inner).rstrip("\n")
        elif isinstance(value, Decimal):
            shown = f"{value:.2f}"
        else:
            shown = f'"{value}"'  # ASCII names and dates; nothing to escape
        items.append(f'{inner}"{key}": {shown}')
    return "{\n" + ",\n".join(items) + f"\n{indent}}}" + ("" if indent else "\n")


def _parsed(text: str) -> dict[str, object]:
    import json

    parsed: dict[str, object] = json.loads(text, parse_float=Decimal)
    return parsed


def _append(path: Path, lines: Sequence[str], home: str) -> tuple[str, ...]:
    """Add to ``path`` the ``lines`` (with ``{home}`` filled in) it lacks; return them."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    have = {line.strip() for line in text.splitlines()}
    missing = tuple(line.format(home=home) for line in lines if line.format(home=home) not in have)
    if missing:
        block = "\n".join(("# minitrain preflight's ledger (budget init)", *missing))
        with path.open("a", encoding="utf-8") as f:
            f.write(("\n" if text and not text.endswith("\n") else "") + block + "\n")
    return missing
