"""YAML in, with line numbers kept: every later error can say ``file:line``.

Safe loading only. Mappings come back as :class:`LineDict` (a dict that remembers where it and
each of its keys started); duplicate keys are an error rather than YAML's silent last-one-wins.
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
    loader = None
    try:
        loader = (_StringLoader if strings_only else _SafeLoader)(text)  # checks printability
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise FileFormatError(f"not valid YAML: {exc.problem}", path=path, line=line) from None
    except yaml.YAMLError as exc:
        raise FileFormatError(f"not valid YAML: {exc}", path=path) from None
    finally:
        if loader is not None:
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


for _loader in (_SafeLoader, _StringLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
