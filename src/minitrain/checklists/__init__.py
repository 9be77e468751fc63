"""The default checklists, shipped in the package, and which file a checklist name means.

A repository's own ``checklists/NAME.yaml`` (at its root) overrides the shipped ``NAME.yaml``, so
an installed tool runs the same routine in any repository, and a repository can change it. This
repository's ``checklists/`` holds the same files as this package (a test holds the two copies
byte for byte): the documents, CI and the examples name them there.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED = Path(__file__).parent
NAMES = ("pre-flight", "post-start", "post-flight")
DEFAULT = "pre-flight"
FOLDER = "checklists"  # a repository's own, at its root


def locate(given: Path | None, *, root: Path | None = None) -> Path:
    """The checklist file ``given`` means: a file that exists, as given; a shipped name
    (``post-start``, ``post-start.yaml`` or ``checklists/post-start.yaml``) the repository's own
    ``checklists/`` copy, else the shipped one; ``None`` the pre-flight. ``root``: the
    repository's root (default: the one holding the working folder)."""
    if given is not None and given.is_file():
        return given
    name = _shipped_name(given)
    if name is None:
        assert given is not None
        return given  # not a name of ours: loading it says "no such file"
    own = (root or repository_root()) / FOLDER / f"{name}.yaml"
    return own if own.is_file() else SHIPPED / f"{name}.yaml"


def _shipped_name(given: Path | None) -> str | None:
    if given is None:
        return DEFAULT
    if given.is_absolute() or given.parent not in (Path(), Path(FOLDER)):
        return None
    name = given.name.removesuffix(".yaml")
    return name if name in NAMES else None


def repository_root() -> Path:
    """The root of the repository holding the working folder, else the working folder."""
    from minitrain import manifest

    return Path(manifest.repository_root() or Path.cwd())
