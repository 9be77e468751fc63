"""What ``@dataclass`` gave the package's value types, without ``dataclasses`` on the start-up
path: that module imports ``inspect`` (with ``ast``, ``dis``, ``tokenize``: ~11 ms here) and its
decorator writes and compiles each class's methods (~0.65 ms a class; a dry run made 26).

A subclass declares its fields by annotation, as a dataclass does, and gets the same
``__init__`` (positional or keyword, defaults, :func:`field`, ``__post_init__``), ``__repr__``,
``__eq__`` (same class, fields in order), and with ``frozen=True`` immutability and
``__hash__``. :func:`replace` and :func:`asdict` (deep) work as ``dataclasses``' do.
msgspec's ``Struct`` was measured as the alternative and costs more here: importing it pulls
``typing_extensions`` (and so ``inspect``), ``uuid`` and ``platform``. The ledger's records
use ``ledger._fields.Fields`` instead: one is made per line of a full read, so they keep a
hand-written ``__init__`` (see there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, dataclass_transform

TYPE_CHECKING = False  # mypy reads this name as True
if TYPE_CHECKING:
    # Not at run time: a string bound makes typing call compile(), and the process's first
    # compile() builds the AST types (~1.5 ms), which nothing else on the dry run needs.
    from typing import TypeVar

    _S = TypeVar("_S", bound="Struct")
_MISSING: Any = object()


class _Field:
    __slots__ = ("compare", "default", "factory", "name", "repr")

    def __init__(
        self, default: Any, factory: Callable[[], Any] | None, *, repr: bool, compare: bool
    ) -> None:
        self.name, self.default, self.factory = "", default, factory
        self.repr, self.compare = repr, compare


def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] | None = None,
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """A field's options, as ``dataclasses.field`` takes them."""
    return _Field(default, default_factory, repr=repr, compare=compare)


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen value (as ``dataclasses.FrozenInstanceError``)."""


@dataclass_transform(field_specifiers=(field,))
class Struct:  # noqa: PLW1641 - __init_subclass__ sets each subclass's __hash__
    _fields: ClassVar[tuple[_Field, ...]] = ()
    _post_init: ClassVar[Callable[[Any], None] | None] = None

    def __init_subclass__(cls, *, frozen: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = {f.name: f for f in cls._fields}
        own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 - not inspect: see above
        for name, annotation in own.items():
            if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
                continue
            fields[name] = _declared(cls, name)
        cls._fields = tuple(fields.values())
        _check_order(cls)
        cls._post_init = getattr(cls, "__post_init__", None)
        if frozen:
            cls.__setattr__ = _refuse  # type: ignore[assignment, method-assign]
            cls.__delattr__ = _refuse  # type: ignore[assignment, method-assign]
        if "__hash__" not in cls.__dict__:
            cls.__hash__ = _hash if frozen else None  # type: ignore[assignment, method-assign]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._fields
        if len(args) > len(fields):
            raise TypeError(f"{_name(self)}() takes {len(fields)} arguments, {len(args)} given")
        for f, value in zip(fields, args, strict=False):
            if f.name in kwargs:
                raise TypeError(f"{_name(self)}() got multiple values for {f.name!r}")
            object.__setattr__(self, f.name, value)
        for f in fields[len(args) :]:
            value = kwargs.pop(f.name, _MISSING)
            if value is _MISSING:
                value = _default(self, f)
            object.__setattr__(self, f.name, value)
        if kwargs:
            raise TypeError(
                f"{_name(self)}() got an unexpected keyword argument {next(iter(kwargs))!r}"
            )
        if self._post_init is not None:
            self._post_init()

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self._fields if f.repr)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _key(self) == _key(other)


def _declared(cls: type[Struct], name: str) -> _Field:
    """The field ``name`` as the class body gave it; its default stays a class attribute, as
    ``dataclasses`` leaves it."""
    value = cls.__dict__.get(name, _MISSING)
    spec = value if isinstance(value, _Field) else _Field(value, None, repr=True, compare=True)
    spec.name = name
    if isinstance(spec.default, list | dict | set):
        raise ValueError(f"{cls.__name__}.{name}: a mutable default; use default_factory")
    if spec.default is not _MISSING:
        setattr(cls, name, spec.default)
    elif name in cls.__dict__:
        delattr(cls, name)
    return spec


def _check_order(cls: type[Struct]) -> None:
    seen_default = False
    for f in cls._fields:
        has_default = f.default is not _MISSING or f.factory is not None
        if seen_default and not has_default:
            raise TypeError(f"{cls.__name__}: non-default field {f.name!r} follows a default")
        seen_default = seen_default or has_default


def _default(obj: Struct, f: _Field) -> Any:
    if f.factory is not None:
        return f.factory()
    if f.default is _MISSING:
        raise TypeError(f"{_name(obj)}() missing required argument {f.name!r}")
    return f.default


def _name(obj: Struct) -> str:
    return type(obj).__name__


def _key(obj: Struct) -> tuple[Any, ...]:
    return tuple(getattr(obj, f.name) for f in obj._fields if f.compare)


def _hash(obj: Struct) -> int:
    return hash(_key(obj))


def _refuse(obj: Struct, name: str, *value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def replace(obj: _S, /, **changes: Any) -> _S:
    """A copy with some fields changed, made through ``__init__`` (as ``dataclasses.replace``)."""
    values = {f.name: getattr(obj, f.name) for f in obj._fields}
    return type(obj)(**{**values, **changes})


def asdict(obj: Struct) -> dict[str, Any]:
    """The fields as a dict, nested values included (as ``dataclasses.asdict``; leaves are
    shared, not deep-copied: every field type here is immutable or JSON-ready)."""
    return {f.name: _plain(getattr(obj, f.name)) for f in obj._fields}


def _plain(value: Any) -> Any:
    if isinstance(value, Struct):
        return asdict(value)
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return type(value)((_plain(k), _plain(v)) for k, v in value.items())
    return value
