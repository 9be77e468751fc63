"""Record docs/demo.svg: a real rehearsal of the pre-flight, typed at a pseudo-terminal.

    .venv/bin/python docs/record_demo.py              # rewrites docs/demo.svg
    .venv/bin/python docs/record_demo.py --out x.svg  # somewhere else

It copies the lab's manifest and checklists into a temporary folder, starts a shell there in a
pseudo-terminal (pexpect), types the README's rehearsal (`preflight run ... --dry-run --records
"$(mktemp -d)"`) and the answers a person would type, and feeds everything the programs draw to
pyte, a screen emulator. The SVG is that screen, colours included, written by hand (no
dependency beyond pexpect and pyte, both test dependencies). Nothing but the SVG is written
outside the temporary folder, and no ledger is touched: it is a dry run in a copy.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from html import escape
from pathlib import Path

import pexpect
import pyte

REPO = Path(__file__).resolve().parent.parent
LAB = Path("experiments/35-cloud-budget")
COMMAND = 'preflight run --label lab02-tp-spinup --estimate 3.00 --dry-run --records "$(mktemp -d)"'
# (what the program shows, what a person types), in the order of checklists/pre-flight.yaml
ANSWERS = [
    ("Type the number you see there", "0"),
    ("Type the figure you set", "2.40"),
    ("Type the hours configured", "4"),
    ("Type the hourly price the console shows", "0.70"),
    ("end this instance", "runpodctl pod delete POD_ID"),
    ("type authorize, or a step number", "authorize"),
]
HINT_END = "stop ends the run)"  # the end of the hint beside every question; the answer follows
COLUMNS, ROWS = 100, 60
PROMPT = "$ "

# xterm's 16 colours, as pyte names them; "default" is the terminal's own foreground
PALETTE = {
    "default": "#d0d0d0",
    "black": "#4d4d4d",
    "red": "#f2777a",
    "green": "#99cc99",
    "brown": "#ffcc66",
    "yellow": "#ffcc66",
    "blue": "#6699cc",
    "magenta": "#cc99cc",
    "cyan": "#66cccc",
    "white": "#e0e0e0",
}
BACKGROUND = "#1d1f21"
CHAR_W, LINE_H, FONT_SIZE, PAD, TITLE_H = 8.4, 18, 14, 16, 30


class _Feed:
    """What pexpect reads from the terminal goes to the screen emulator too."""

    def __init__(self, stream: pyte.Stream) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        self.stream.feed(text)

    def flush(self) -> None:
        pass


def wait_for(
    shell: pexpect.spawn,
    screen: pyte.Screen,
    seen: Callable[[list[str]], bool],
    limit_s: float = 30,
) -> None:
    """Read until the screen's rows pass `seen`. Not the byte stream: a line longer than the
    terminal is drawn in pieces with cursor moves between them; on the screen it is whole."""
    deadline = time.monotonic() + limit_s
    while not seen(screen.display):
        if time.monotonic() > deadline:
            raise TimeoutError("the rehearsal stalled here:\n" + "\n".join(screen.display))
        try:
            shell.read_nonblocking(4096, timeout=0.5)
        except pexpect.TIMEOUT:
            continue


def _shows(text: str, rows: list[str]) -> bool:
    return text in "".join(rows)  # rows joined as the terminal wraps a long line


def _prompt_is_back(rows: list[str]) -> bool:
    """The run said where its record is, and the shell's prompt is on the last row written."""
    written = [row.rstrip() for row in rows if row.strip()]
    return any(row.startswith("record: ") for row in written) and written[-1] == PROMPT.strip()


def record(folder: Path) -> pyte.Screen:
    """Run the rehearsal in `folder` at a terminal and return the screen at its end."""
    shutil.copytree(REPO / "checklists", folder / "checklists")
    (folder / LAB).mkdir(parents=True)
    shutil.copy(REPO / LAB / "manifest.json", folder / LAB / "manifest.json")
    screen = pyte.Screen(COLUMNS, ROWS)
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "TERM": "xterm-256color",
        "HOME": str(folder),
        "TMPDIR": str(folder),  # mktemp -d lands in the temporary folder too
        "PS1": PROMPT,
        "PROMPT_TOOLKIT_NO_CPR": "1",  # nobody answers cursor-position requests here
    }
    shell = pexpect.spawn(
        "bash",
        ["--norc", "--noprofile"],
        cwd=str(folder),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(ROWS, COLUMNS),
    )
    shell.logfile_read = _Feed(pyte.Stream(screen))
    shell.expect_exact(PROMPT)
    shell.send(COMMAND + "\r")
    for shown, keys in ANSWERS:
        wait_for(shell, screen, functools.partial(_shows, shown))
        shell.send(keys)  # typed, then Enter once it is on screen: a gate refuses both at once
        wait_for(shell, screen, functools.partial(_shows, f"{HINT_END} {keys}"))
        shell.send("\r")
    wait_for(shell, screen, _prompt_is_back)
    shell.logfile_read = None  # the picture ends at the prompt; the shell's hangup is not in it
    shell.close(force=True)
    return screen


def _colour(name: str) -> str:
    if len(name) == 6 and all(c in "0123456789abcdefABCDEF" for c in name):
        return "#" + name.lower()  # pyte gives 256-colour and true-colour cells as hex
    return PALETTE.get(name.removeprefix("bright"), PALETTE["default"])


def _row_text(line: dict[int, pyte.screens.Char]) -> str:
    """One screen row as <tspan>s, a run per colour and weight, trailing blanks dropped."""
    cells = [line[x] for x in range(COLUMNS)]
    while cells and cells[-1].data == " ":
        cells.pop()
    spans: list[str] = []
    run: list[str] = []
    style: tuple[str, bool] | None = None
    for cell in [*cells, None]:
        key = None if cell is None else (_colour(cell.fg), cell.bold)
        if key != style and run and style is not None:
            weight = ' font-weight="bold"' if style[1] else ""
            spans.append(f'<tspan fill="{style[0]}"{weight}>{escape("".join(run))}</tspan>')
            run = []
        if cell is not None:
            style = key
            run.append(cell.data)
    return "".join(spans)


def svg(screen: pyte.Screen, title: str) -> str:
    """The screen as a terminal window: used rows only, monospace, xml:space preserved."""
    rows = [_row_text(screen.buffer[y]) for y in range(screen.lines)]
    while rows and not rows[-1]:
        rows.pop()
    width = round(COLUMNS * CHAR_W + 2 * PAD)
    height = TITLE_H + len(rows) * LINE_H + 2 * PAD
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width}" height="{height}" rx="8" fill="{BACKGROUND}"/>',
        '<circle cx="20" cy="15" r="6" fill="#ff5f56"/>',
        '<circle cx="40" cy="15" r="6" fill="#ffbd2e"/>',
        '<circle cx="60" cy="15" r="6" fill="#27c93f"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" fill="#909090" font-size="12" '
        f'font-family="sans-serif">bash: the README\'s rehearsal</text>',
        f"<g font-family=\"ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', "
        f'monospace" font-size="{FONT_SIZE}" xml:space="preserve">',
    ]
    for y, row in enumerate(rows):
        if row:
            top = TITLE_H + PAD + y * LINE_H + FONT_SIZE
            out.append(f'<text x="{PAD}" y="{top}">{row}</text>')
    out += ["</g>", "</svg>", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "demo.svg", help="the SVG")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="demo-") as folder:
        screen = record(Path(folder))
    title = "A rehearsal of the pre-flight checklist: preflight run ... --dry-run"
    args.out.write_text(svg(screen, title), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
