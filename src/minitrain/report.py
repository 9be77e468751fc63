"""What ``budget status`` and ``budget report`` print: spend per lab against its cap, reserved
vs actual, open operations, and spend over time.

The chart needs matplotlib (the ``chart`` extra); nothing else here does, and it is imported only
when a PNG is asked for.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from minitrain._struct import Struct
from minitrain.budget_guard import BUFFER, Operation, Status, pool_of
from minitrain.errors import InputError
from minitrain.ledger.totals import added_by
from minitrain.money import format_usd, usd_text


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
            {
                "lab": row.lab,
                "cap": None if row.cap is None else usd_text(row.cap),
                "reserved": usd_text(row.reserved),
                "actual": usd_text(row.actual),
                "remaining": None if row.remaining is None else usd_text(row.remaining),
            }
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


def png(report: Report, path: Path) -> None:
    """Two panels: each lab's reserved + actual against its cap; cumulative spend vs ceiling."""
    require_chart()
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, none opened
    import matplotlib.pyplot as plt
    from matplotlib.dates import DateFormatter

    figure, (bars, line) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    labs = [row.lab for row in report.labs]
    actual = [float(row.actual) for row in report.labs]  # floats only to draw, never to add
    reserved = [float(row.reserved) for row in report.labs]
    bars.bar(labs, actual, color="#2a7ab9", label="actual")
    bars.bar(labs, reserved, bottom=actual, color="#9cc7e6", label="reserved")
    caps = [(i, float(row.cap)) for i, row in enumerate(report.labs) if row.cap is not None]
    if caps:
        bars.scatter(
            [i for i, _ in caps],
            [c for _, c in caps],
            marker="_",
            s=900,
            color="#c0392b",
            label="cap",
            zorder=3,
        )
    bars.set_title("Spend per lab against its cap")
    bars.set_ylabel("USD")
    bars.legend()
    ceiling = float(report.status.ceiling)
    if report.timeline:
        times = [p.at for p in report.timeline]
        line.step(
            times,
            [float(p.spent) for p in report.timeline],
            where="post",
            color="#2a7ab9",
            label="spent (reserved + actual)",
        )
        line.xaxis.set_major_formatter(DateFormatter("%m-%d %H:%M"))  # type: ignore[no-untyped-call]
        line.tick_params(axis="x", labelrotation=30)
    line.axhline(
        ceiling,
        color="#c0392b",
        linestyle="--",
        label=f"ceiling {format_usd(report.status.ceiling)}",
    )
    line.set_ylim(0, max(ceiling, float(report.status.spent)) * 1.15 or 1)
    line.set_title("Cumulative spend over time (UTC)")
    line.set_ylabel("USD")
    line.legend(loc="lower right")
    try:
        figure.savefig(path, dpi=110)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        plt.close(figure)
