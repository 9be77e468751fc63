"""What ``budget status`` and ``budget report`` print: spend per lab against its cap, reserved
vs actual, open operations, and spend over time.

The chart needs matplotlib (the ``chart`` extra); nothing else here does, and it is imported only
when a PNG is asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from minitrain._struct import Struct
from minitrain.budget_guard import BUFFER, Operation, Status, pool_of
from minitrain.errors import InputError
from minitrain.ledger.totals import added_by
from minitrain.money import format_usd, usd_text
from minitrain.status_view import lab_json

TYPE_CHECKING = False  # ``typing`` costs start-up time; mypy reads this name as True
if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_BLUE, _LIGHT, _RED = "#2a7ab9", "#9cc7e6", "#c0392b"


class LabRow(Struct, frozen=True):
    lab: str
    cap: Decimal | None
    reserved: Decimal  # open authorizations' estimates
    actual: Decimal  # recorded actuals
    remaining: Decimal | None

    @property
    def charged(self) -> Decimal:
        return self.reserved + self.actual


class Point(Struct, frozen=True):
    at: datetime
    spent: Decimal  # cumulative, as the ledger counted it at that moment
    label: str
    event: str  # "authorize" or "actual"


class Report(Struct, frozen=True):
    status: Status
    labs: tuple[LabRow, ...]
    timeline: tuple[Point, ...]


def build(status: Status, operations: list[Operation]) -> Report:
    rows = []
    for pool in list(status.lab_caps) or [BUFFER]:
        reserved = sum(
            (
                op.charged
                for op in status.open_operations
                if (pool_of(op.lab, status.lab_caps) or BUFFER) == pool
            ),
            Decimal(0),
        )
        charged = status.lab_spent(pool) if status.lab_caps else status.spent
        cap = status.lab_caps.get(pool)
        rows.append(
            LabRow(pool, cap, reserved, charged - reserved, None if cap is None else cap - charged)
        )
    return Report(status, tuple(rows), _timeline(operations))


def _timeline(operations: list[Operation]) -> tuple[Point, ...]:
    """Spend as it moved, entry by entry (the rule of ``ledger.totals``)."""
    events: list[tuple[datetime, Decimal, str, str]] = []
    for op in operations:
        if op.authorized_at is not None and op.estimated is not None:
            events.append(
                (op.authorized_at, added_by("authorize", op.estimated, None), op.label, "authorize")
            )
        if op.recorded_at is not None and op.actual is not None:
            events.append(
                (op.recorded_at, added_by("actual", op.estimated, op.actual), op.label, "actual")
            )
    spent = Decimal(0)
    points = []
    for at, delta, label, event in sorted(events, key=lambda e: e[0]):
        spent += delta
        points.append(Point(at, spent, label, event))
    return tuple(points)


def text(report: Report) -> str:
    s = report.status
    lines = [
        f"ceiling {format_usd(s.ceiling)} ({s.ceiling_source}); spent {format_usd(s.spent)}"
        f" ({format_usd(s.reserved)} reserved, {format_usd(s.spent - s.reserved)} actual);"
        f" remaining {format_usd(s.remaining)}",
        "",
        f"{'lab':<8} {'cap':>8} {'reserved':>9} {'actual':>8} {'remaining':>10}",
    ]
    for row in report.labs:
        cap = format_usd(row.cap) if row.cap is not None else "-"
        left = format_usd(row.remaining) if row.remaining is not None else "-"
        lines.append(
            f"{row.lab:<8} {cap:>8} {format_usd(row.reserved):>9} {format_usd(row.actual):>8}"
            f" {left:>10}"
        )
    if report.timeline:
        lines += ["", "spend over time (UTC)"]
        for point in report.timeline:
            lines.append(
                f"  {point.at:%Y-%m-%d %H:%M}  {format_usd(point.spent):>8}  {point.event:<9}"
                f" {point.label}"
            )
    return "\n".join(lines)


def as_json(report: Report) -> dict[str, object]:
    return {
        "ceiling": usd_text(report.status.ceiling),
        "spent": usd_text(report.status.spent),
        "reserved": usd_text(report.status.reserved),
        "remaining": usd_text(report.status.remaining),
        "labs": [
            lab_json(row.lab, row.cap, spent=row.charged, reserved=row.reserved)
            for row in report.labs
        ],
        "timeline": [
            {"at": p.at.isoformat(), "spent": usd_text(p.spent), "label": p.label, "event": p.event}
            for p in report.timeline
        ],
    }


def require_chart() -> None:
    """Fail now, naming the fix, if the chart cannot be drawn (matplotlib is not installed)."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise InputError("--png needs matplotlib: pip install 'minitrain-preflight[chart]'")


def png(report: Report, path: Path, *, now: datetime | None = None) -> None:
    """Save :func:`chart` as a PNG."""
    drawn = chart(report, now=now)
    try:
        drawn.savefig(path, dpi=110)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None


def chart(report: Report, *, now: datetime | None = None) -> Figure:
    """Two panels under a title saying what remains of the ceiling: each lab's reserved + actual
    against its cap; cumulative spend over time, up to ``now`` (default: the present)."""
    require_chart()
    from matplotlib.figure import Figure  # no pyplot: no global figures, no display

    figure = Figure(figsize=(11, 4.6), layout="constrained")
    bars, line = figure.subplots(1, 2)
    s = report.status
    figure.suptitle(
        f"Remaining {format_usd(s.remaining)} of the {format_usd(s.ceiling)} ceiling"
        f" (spent {format_usd(s.spent)}: {format_usd(s.reserved)} reserved,"
        f" {format_usd(s.spent - s.reserved)} actual)",
        fontweight="bold",
    )
    _bars(bars, report)
    _spend(line, report, now or datetime.now(UTC))
    return figure


def _bars(axes: Axes, report: Report) -> None:
    capped = bool(report.status.lab_caps)
    names = [row.lab for row in report.labs] if capped else ["all (no lab caps)"]
    actual = [float(row.actual) for row in report.labs]  # floats only to draw, never to add
    reserved = [float(row.reserved) for row in report.labs]
    axes.bar(names, actual, color=_BLUE, label="actual")
    axes.bar(names, reserved, bottom=actual, color=_LIGHT, label="reserved")
    # without lab caps the one bar's limit is the ceiling
    limits = [row.cap if capped else report.status.ceiling for row in report.labs]
    drawn = [(i, float(limit)) for i, limit in enumerate(limits) if limit is not None]
    # over the axis line and never clipped, so that a $0.00 cap shows; and named in words
    axes.hlines(
        [y for _, y in drawn],
        [i - 0.42 for i, _ in drawn],
        [i + 0.42 for i, _ in drawn],
        colors=_RED,
        linewidth=3,
        zorder=4,
        clip_on=False,
        label="cap" if capped else "ceiling",
    )
    for i, limit in enumerate(limits):
        if limit is not None:
            axes.annotate(
                f"{'cap' if capped else 'ceiling'} {format_usd(limit)}",
                (i, float(limit)),
                xytext=(0, 5),
                textcoords="offset points",
                ha="center",
                va="bottom",
                color=_RED,
                fontsize=9,
            )
    tallest = max(
        [float(x) for x in limits if x is not None]
        + [a + r for a, r in zip(actual, reserved, strict=True)]
    )
    axes.set_ylim(0, tallest * 1.35 or 1)  # room for the legend above the caps
    axes.set_title("Spend per lab against its cap" if capped else "Spend against the ceiling")
    axes.set_ylabel("USD")
    axes.legend(loc="best")


def _spend(axes: Axes, report: Report, now: datetime) -> None:
    from datetime import timedelta

    from matplotlib.dates import AutoDateFormatter, AutoDateLocator

    ceiling = float(report.status.ceiling)
    axes.axhline(
        ceiling, color=_RED, linestyle="--", label=f"ceiling {format_usd(report.status.ceiling)}"
    )
    points = report.timeline
    if points:
        times = [p.at for p in points]
        spent = [float(p.spent) for p in points]
        end = max(now, times[-1])
        pad = max((end - times[0]) * 0.05, timedelta(minutes=5))  # ticks a minute apart or more
        # $0.00 before the first entry, then each amount held until the next, the last to the
        # edge (it holds now): one entry is a line with a step in it
        axes.step(
            [times[0] - pad, *times, end + pad],  # type: ignore[arg-type]
            [0.0, *spent, spent[-1]],
            where="post",
            color=_BLUE,
            label="spent (reserved + actual)",
        )
        axes.plot(
            times,  # type: ignore[arg-type]
            spent,
            "o",
            color=_BLUE,
            markersize=5,
            label="an authorize or actual",
        )
        axes.set_xlim(times[0] - pad, end + pad)  # type: ignore[arg-type]
        locator = AutoDateLocator(tz=UTC, minticks=3, maxticks=6)  # type: ignore[no-untyped-call]
        formatter = AutoDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
        # every tick carries its date, down to the tick's own step, so no two read alike
        formatter.scaled = {
            365.0: "%Y",
            30.0: "%Y-%m",
            1.0: "%Y-%m-%d",
            1 / 24: "%Y-%m-%d %H:%M",
            1 / (24 * 60): "%Y-%m-%d %H:%M",
            1 / (24 * 3600): "%Y-%m-%d %H:%M:%S",
        }
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(formatter)
        axes.tick_params(axis="x", labelrotation=25)
    else:
        axes.set_xticks([])
        axes.text(0.5, 0.5, "nothing spent yet", transform=axes.transAxes, ha="center")
    top = max(ceiling, float(report.status.spent)) * 1.15 or 1
    axes.set_ylim(-0.03 * top, top)  # $0.00 drawn above the axis line, not on it
    axes.set_title("Cumulative spend over time (UTC)")
    axes.set_ylabel("USD")
    axes.legend(loc="best")
