"""What ``@dataclass`` gave the ledger's small records, without importing ``dataclasses`` on
every command's start-up (it pulls ``inspect``, ``ast``, ``dis``: ~8 ms, plus the decorator's work
per class): equality, hash and repr by fields (their ``__slots__``), and
:meth:`replace`.

Not ``minitrain._struct.Struct``, which the rest of the package's value types use: these classes
write their own ``__init__`` because a full read makes one per line (a hand-written one is 0.8 µs
against 3.6 µs for Struct's generic one: ~3 s more for ``budget verify`` of 1M lines), and
``_struct`` imports ``typing``, which ``budget status`` does not."""

from __future__ import annotations

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from typing import Any, Self


class Fields:
    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({shown})"

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (as ``dataclasses.replace``)."""
        new = object.__new__(type(self))
        for name in self.__slots__:
            object.__setattr__(new, name, changes.pop(name, getattr(self, name)))
        if changes:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(changes)}")
        return new
