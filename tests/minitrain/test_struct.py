"""The package's value types behave as the dataclasses they replaced: the walk, the run files
and the vendors rely on construction, equality, hashing, immutability, ``replace`` and a deep
``asdict`` (a run file's step is written from it)."""

from __future__ import annotations

import dataclasses

import pytest

from minitrain._struct import Struct, asdict, field, replace


class Point(Struct, frozen=True):
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


class Box(Struct):
    corner: Point
    items: list[Point] = field(default_factory=list)
    note: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        self.area = self.corner.x * self.corner.y


@dataclasses.dataclass(frozen=True)
class DataPoint:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


@dataclasses.dataclass
class DataBox:
    corner: DataPoint
    items: list[DataPoint] = dataclasses.field(default_factory=list)
    note: str = dataclasses.field(default="", repr=False, compare=False)


def test_construction_takes_positions_keywords_and_defaults() -> None:
    assert Point(1, 2) == Point(x=1, y=2) == Point(1, y=2)
    assert Point(1).y == 0
    assert Box(Point(1)).items == []
    assert Box(Point(1)).items is not Box(Point(1)).items  # a fresh list each time
    assert Box(Point(3, 4)).area == 12  # __post_init__ ran


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Point(), "missing required argument 'x'"),  # noqa: PLW0108
        (lambda: Point(1, 2, (), 4), "takes 3 arguments, 4 given"),
        (lambda: Point(1, x=1), "multiple values for 'x'"),
        (lambda: Point(1, z=1), "unexpected keyword argument 'z'"),
    ],
)
def test_a_wrong_call_is_a_type_error(make: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        make()  # type: ignore[operator]


def test_equality_hash_and_repr_match_dataclasses() -> None:
    for ours, theirs in [(Point(1, 2, ("a",)), DataPoint(1, 2, ("a",)))]:
        assert repr(ours).replace("Point", "X") == repr(theirs).replace("DataPoint", "X")
        assert hash(ours) == hash(theirs)  # both hash the tuple of fields
    assert Point(1) != DataPoint(1)  # another class is never equal
    assert Box(Point(1), note="a") == Box(Point(1), note="b")  # compare=False
    assert "note" not in repr(Box(Point(1), note="a"))  # repr=False
    assert {Point(1), Point(1)} == {Point(1)}
    with pytest.raises(TypeError):
        hash(Box(Point(1)))  # mutable: unhashable, as a dataclass with eq


def test_a_frozen_value_refuses_assignment_and_deletion() -> None:
    point = Point(1)
    with pytest.raises(AttributeError, match="cannot assign to field 'x'"):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.x  # type: ignore[misc]
    box = Box(point)
    box.note = "changed"  # not frozen: assignable
    assert box.note == "changed"


def test_replace_and_asdict_match_dataclasses() -> None:
    moved = replace(Point(1, 2), y=5)
    assert moved == Point(1, 5)
    assert replace(Box(Point(3, 4)), corner=Point(2, 2)).area == 4  # through __init__
    with pytest.raises(TypeError):
        replace(Point(1), z=1)
    ours = Box(Point(1, 2, ("a",)), [Point(3)])
    theirs = DataBox(DataPoint(1, 2, ("a",)), [DataPoint(3)])
    assert asdict(ours) == dataclasses.asdict(theirs)  # deep: nested values become dicts
    assert list(asdict(ours)) == list(dataclasses.asdict(theirs))  # in field order


def test_a_class_is_checked_as_a_dataclass_is() -> None:
    with pytest.raises(TypeError, match="non-default field 'y' follows a default"):

        class Bad(Struct):
            x: int = 0
            y: int

    with pytest.raises(ValueError, match="mutable default"):

        class Shared(Struct):
            x: list[int] = []  # noqa: RUF012
