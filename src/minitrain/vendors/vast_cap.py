"""The 4-hour cap on a Vast.ai instance itself: a `vastai create instance` gets an on-start that
ends the instance at an absolute UTC time, so the cap holds while the laptop sleeps.

Vast has no vendor-side time limit. What it gives every instance (vast-ai/docs
``guides/instances/docker-environment.mdx``, "Predefined Variables" and "Using the CLI from
Inside an Instance") is its own id and a per-instance API key, ``CONTAINER_ID`` and
``CONTAINER_API_KEY``, with which "you can also stop or destroy the instance from within"
(``vastai destroy instance $CONTAINER_ID``): so the cap destroys (the disk stops billing too),
and only if that destroy is not accepted does it stop the instance (GPU billing ends, the disk
bills on until the watcher destroys it). The variables live in PID 1's environment; a shell
that lacks them reads ``/proc/1/environ``.

The cap is plain POSIX sh and calls the API itself, the same server the CLI was pointed at
(``--url``, ``$VAST_URL``, else ``https://console.vast.ai``: ``vastai/api/client.py``), with
``curl``, else ``wget``, else ``python3``: no ``vastai`` is needed in the image. The calls are
the ones vastai makes: ``DELETE /api/v0/instances/ID/`` (``destroy_instance``) and ``PUT
/api/v0/instances/ID/`` with ``{"state": "stopped"}`` (vast-ai/docs "manage instance"); each
answers ``{"success": true}``. The time is absolute, fixed at launch: the on-start runs again
at every container start (a restart, an outbid instance resuming), and must not restart the
clock. It writes ``$TMPDIR/budget-cap.pid`` (pid, then the end as epoch seconds) so the
post-start check can see it running.

How vastai 1.9.1 reads the create (``vastai/cli/commands/instances.py``, ``create_instance_impl``
and ``_create_instance_args``; ``vastai/cli/main.py`` for the global options; argparse, so a
unique prefix of an option is that option): ``--onstart FILE`` replaces ``--onstart-cmd``, and
``--entrypoint`` fills the on-start when neither is given; the cap joins whichever it is. Forms it
cannot join are refused: ``--args`` (the args launch mode: the on-start field becomes the
entrypoint), ``--template_hash`` (the template's own on-start, which the create cannot see),
``create instances`` (several at once), and a total over 4,048 characters (vast-ai/docs
``api-reference/openapi.yaml``: "`onstart` field is limited to 4048 characters").
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from minitrain._struct import Struct
from minitrain.errors import InputError
from minitrain.vendors.contract import Account

ONSTART_MAX = 4048
DEFAULT_URL = "https://console.vast.ai"
PID_FILE = "budget-cap.pid"
GLOBAL_VALUES = ("--url", "--retry", "--api-key")
GLOBAL_FLAGS = ("--explain", "--raw", "--full", "--curl", "--version", "--no-color", "--help")
CREATE_VALUES = (
    *("--template_hash", "--user", "--disk", "--image", "--login", "--label", "--onstart"),
    *("--onstart-cmd", "--entrypoint", "--jupyter-dir", "--extra", "--env", "--bid_price"),
    *("--create-volume", "--link-volume", "--volume-size", "--mount-path", "--volume-label"),
)
CREATE_FLAGS = (
    *("--ssh", "--jupyter", "--direct", "--jupyter-lab", "--lang-utf8", "--python-utf8"),
    *("--force", "--cancel-unavail", "--args"),  # --args: REMAINDER, refused before its words
)
ONSTART = ("--onstart", "--onstart-cmd")


class Capped(Struct, frozen=True):
    argv: list[str]  # the create to run: the person's, its on-start joined by the cap
    account: Account  # the account the create names (its --api-key, --url)
    until: datetime
    url: str


def cap(
    argv: Sequence[str], *, until: datetime, environ: Mapping[str, str] | None = None
) -> Capped | None:
    """The create with the cap in its on-start; None when ``argv`` is no `vastai create`."""
    env = os.environ if environ is None else environ
    words = list(argv[1:])
    found = _options(words, GLOBAL_VALUES, GLOBAL_FLAGS, until_positional=True)
    rest = words[found.end :]
    if rest[:1] != ["create"]:
        return None
    if rest[1:2] != ["instance"]:
        raise InputError(
            f"`vastai create {' '.join(rest[1:2])}` is not one instance: launch each with"
            " `vastai create instance ID ...`, so each has its own cap and watcher"
        )
    create = _options(rest[2:], (*CREATE_VALUES, *GLOBAL_VALUES), (*CREATE_FLAGS, *GLOBAL_FLAGS))
    given = {**found.values, **create.values}
    _refuse(given, create.positional)
    person = _person_onstart(given)
    url = given.get("--url") or env.get("VAST_URL") or DEFAULT_URL
    joined = script(until, url) + (f"\n{person}" if person else "")
    if len(joined) > ONSTART_MAX:
        raise InputError(
            f"the on-start with the time cap is {len(joined)} characters (yours:"
            f" {len(person)}), over Vast's limit of {ONSTART_MAX}: shorten yours (put the"
            " script in the image or fetch it, and call it from --onstart-cmd) and launch again"
        )
    kept = [*words[: found.end], *rest[:2], *_without_onstart(rest[2:])]
    account = Account(given.get("--api-key"), given.get("--url"))
    return Capped(["vastai", *kept, "--onstart-cmd", joined], account, until, url)


def script(until: datetime, url: str) -> str:
    """The cap: in the background, sleep until ``until``, then destroy this instance (else stop
    it), retrying every minute; the person's on-start runs on meanwhile."""
    epoch = int(until.timestamp())
    api = url.rstrip("/").replace("'", "")
    return f"""\
# budget launch: this instance ends itself at {until:%Y-%m-%dT%H:%M:%SZ} (its time cap)
BUDGET_CAP_UNTIL={epoch}
(A='{api}'
e(){{ tr '\\0' '\\n' </proc/1/environ 2>/dev/null|sed -n "s/^$1=//p"|head -n 1; }}
I=${{CONTAINER_ID:-$(e CONTAINER_ID)}}
K=${{CONTAINER_API_KEY:-$(e CONTAINER_API_KEY)}}
h(){{ U="$A/api/v0/instances/$I/"
command -v curl >/dev/null 2>&1&&curl -sS -m 60 -X "$1" -H "Authorization: Bearer $K" \
-H 'Content-Type: application/json' -d "$2" "$U"&&return
command -v wget >/dev/null 2>&1&&wget -qO- -T 60 --method="$1" \
--header="Authorization: Bearer $K" --header='Content-Type: application/json' \
--body-data="$2" "$U"&&return
K="$K" python3 -c 'import os,sys,urllib.request as r
q=r.Request(sys.argv[1],sys.argv[3].encode(),method=sys.argv[2],headers={{"Authorization":\
"Bearer "+os.environ["K"],"Content-Type":"application/json"}})
try:print(r.urlopen(q,timeout=60).read().decode())
except Exception as x:print(x)' "$U" "$1" "$2"; }}
while N=$(date +%s)&&[ "$N" -lt {epoch} ];do S=$(({epoch}-N));[ $S -gt 60 ]&&S=60;sleep $S;done
while :;do for M in DELETE PUT;do B='{{}}';[ $M = PUT ]&&B='{{"state":"stopped"}}'
case $(h $M "$B") in *'"success": true'*|*'"success":true'*) echo "cap: $M accepted";exit 0;;esac
done;sleep 60;done) >>"${{TMPDIR:-/tmp}}/budget-cap.log" 2>&1 &
echo "$! $BUDGET_CAP_UNTIL" >"${{TMPDIR:-/tmp}}/{PID_FILE}\""""


class _Found(Struct, frozen=True):
    values: dict[str, str]
    positional: list[str]
    end: int  # where reading stopped (the first positional, with until_positional)


def _options(
    words: Sequence[str],
    takes_value: Sequence[str],
    flags: Sequence[str],
    *,
    until_positional: bool = False,
) -> _Found:
    """Options read as argparse reads them: ``--name value``, ``--name=value``, a unique prefix
    for a name; the last value of a repeated one wins. Raises InputError where vastai's
    argparse would refuse the command line."""
    values: dict[str, str] = {}
    positional: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if not word.startswith("-") or word == "-":
            if until_positional:
                break
            positional.append(word)
            index += 1
            continue
        name, has_value, value = word.partition("=")
        name = _resolve(name, (*takes_value, *flags))
        if name == "--args":
            values[name] = " ".join(words[index + 1 :])
            break
        if name in takes_value and not has_value:
            if index + 1 >= len(words) or words[index + 1].startswith("-"):
                raise InputError(f"vastai would refuse this create: {name} expects one argument")
            index += 1
            value = words[index]
        values[name] = value if name in takes_value else "true"
        index += 1
    return _Found(values, positional, index)


def _resolve(name: str, known: Sequence[str]) -> str:
    if name in known or name in ("-h",):
        return name
    matches = [option for option in known if option.startswith(name) and name.startswith("--")]
    if len(matches) == 1:
        return matches[0]
    why = f"ambiguous option: {name} could match {', '.join(matches)}" if matches else name
    raise InputError(f"vastai would refuse this create (unrecognized arguments: {why})")


def _refuse(given: Mapping[str, str], positional: Sequence[str]) -> None:
    if "--args" in given:
        raise InputError(
            "`vastai create instance ... --args` launches in args mode, where the on-start field"
            " becomes the container's entrypoint, so the time cap cannot join it: launch in ssh"
            " mode and start your program from --onstart-cmd"
        )
    if "--template_hash" in given:
        raise InputError(
            "a --template_hash template may carry an on-start of its own, which the time cap"
            " cannot see or join from here: launch with --image and your on-start in"
            " --onstart-cmd"
        )
    if len(positional) != 1:
        raise InputError(
            f"vastai would refuse this create: it takes one offer id, not {list(positional)}"
        )


def _person_onstart(given: Mapping[str, str]) -> str:
    """What vastai would send as the on-start: --onstart's file, else --onstart-cmd, else
    --entrypoint (``create_instance_impl``)."""
    if "--onstart" in given:
        try:
            return Path(given["--onstart"]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"--onstart {given['--onstart']}: cannot read it ({exc})") from None
    return given.get("--onstart-cmd") or given.get("--entrypoint") or ""


def _without_onstart(words: Sequence[str]) -> list[str]:
    """``words`` without any --onstart/--onstart-cmd and its value (the cap's replaces them)."""
    kept: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        name, has_value, _ = word.partition("=")
        if word.startswith("--") and _is_onstart(name):
            skip = not has_value
            continue
        kept.append(word)
    return kept


def _is_onstart(name: str) -> bool:
    try:
        return _resolve(name, (*CREATE_VALUES, *CREATE_FLAGS, *GLOBAL_VALUES)) in ONSTART
    except InputError:
        return False
