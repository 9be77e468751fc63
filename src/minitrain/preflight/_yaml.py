"""YAML in, with line numbers kept: every later error can say ``file:line``.

Safe loading only. Mappings come back as :class:`LineDict` (a dict that remembers where it and
each of its keys started); duplicate keys are an error rather than YAML's silent last-one-wins.

libyaml's parser (``yaml.CSafeLoader``, when PyYAML was built with it) reads a checklist about ten
times faster than the pure-Python one, which is most of ``preflight``'s start-up. The pure loader
stays the reference: it words every error (libyaml says "did not find expected ',' or ']'" where
the pure loader says "expected ',' or ']', but got '<stream end>'"), and it reads any text libyaml
is known to be more lenient with (a tab after ``key:``, which libyaml accepts and the pure loader
refuses; characters the pure reader does not call printable), so both give the same result on
every file; a test checks this on every shipped and test checklist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from minitrain.errors import FileFormatError


class LineDict(dict[str, Any]):
    """A mapping from the file, with the line it starts on and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]


def read(path: Path, *, strings_only: bool = False) -> Any:
    """Parse ``path``; ``strings_only`` keeps every scalar a string (for typed answers, where
    YAML 1.1 would turn ``no`` into ``False`` and ``2.40`` into ``2.4``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileFormatError("no such file", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"cannot read it: {exc}", path=path) from None
    if _FAST is not None and "\t" not in text and not _NON_PRINTABLE.search(text):
        try:
            return _load(_FAST[strings_only], text)
        except yaml.YAMLError:
            pass  # the pure loader below says what is wrong, in its own words
    return _read_pure(path, text, strings_only=strings_only)


def _read_pure(path: Path, text: str, *, strings_only: bool) -> Any:
    try:
        return _load(_PURE[strings_only], text)  # the pure reader also checks printability
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise FileFormatError(f"not valid YAML: {exc.problem}", path=path, line=line) from None
    except yaml.YAMLError as exc:
        raise FileFormatError(f"not valid YAML: {exc}", path=path) from None


def _load(loader_class: Any, text: str) -> Any:
    loader = loader_class(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _construct_mapping(loader: yaml.BaseLoader, node: yaml.MappingNode) -> LineDict:
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in result:
            raise yaml.MarkedYAMLError(
                problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


class _SafeLoader(yaml.SafeLoader):
    pass


class _StringLoader(yaml.BaseLoader):
    pass


_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
# Indexed by ``strings_only``.
_PURE: tuple[Any, Any] = (_SafeLoader, _StringLoader)
_FAST: tuple[Any, Any] | None = None
if yaml.__with_libyaml__:

    class _CSafeLoader(yaml.CSafeLoader):
        pass

    class _CStringLoader(yaml.CBaseLoader):
        pass

    _FAST = (_CSafeLoader, _CStringLoader)

for _loader in (*_PURE, *(_FAST or ())):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
