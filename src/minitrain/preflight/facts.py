"""Every number a checklist shows, computed once so a tired person never does arithmetic."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from minitrain._struct import Struct
from minitrain.budget_guard import Status
from minitrain.hardware import Target, target_from
from minitrain.labs import BUFFER, Lab
from minitrain.manifest import Manifest
from minitrain.money import CENT, format_usd
from minitrain.runs import MAX_HOURS
from minitrain.vendors import Account

HEADROOM = Decimal("1.5")  # remaining must cover the estimate + 50% (the seed's Block D)
ALERT_SHARE = Decimal("0.8")  # the console's budget alert at 80% of the lab's cap

FACT_DOCS = {
    "label": "the operation's label (`--label`)",
    "estimate": "the estimated cost (`--estimate`)",
    "lab": "the lab the operation draws on (`--lab`, a `labNN-` label, else the buffer)",
    "lab_cap": "that lab's cap, from the manifest's `ceiling_per_lab`",
    "alert": "80% of the lab's cap: the console's budget alert",
    "ceiling": "the ceiling (manifest, `--ceiling` or `LYNX_CLOUD_BUDGET_USD`)",
    "remaining": "the ceiling minus everything spent or reserved in the ledger",
    "remaining_after": "what remains once this estimate is reserved",
    "needed": "the estimate + 50%: the headroom the budget must have",
    "price": "the chosen vendor's price per GPU-hour, from the manifest",
    "gpus": "the GPUs in the instance (the manifest's `gpus`, default 2)",
    "hourly": "price x GPUs: what the instance costs per hour",
    "hours_at_estimate": "the hours the estimate buys at that hourly price",
    "vendor": "the chosen vendor, from the manifest",
    "max_hours": "the longest vendor-side auto-termination allowed (4 hours)",
}
FACT_NAMES = frozenset(FACT_DOCS)


class Facts(Struct, frozen=True):
    label: str
    estimate: Decimal
    lab: Lab  # the lab the ledger line names, resolved once (``labs.resolve``)
    lab_cap: Decimal | None
    ceiling: Decimal
    remaining: Decimal
    price: Decimal | None  # per GPU-hour
    gpus: int
    vendor: str
    hardware: Target | None = None  # the manifest's hardware_target, once lab 02 fills it in
    lab_remaining: Decimal | None = None  # the lab's cap minus what its operations hold
    pool: str = BUFFER  # the cap it draws on: its lab's ("02"), else the buffer's
    capped: bool = True  # False: the manifest has no caps (``budget init`` without them)
    # the account the create will name (vastai --api-key/--url): the listing uses it too; in
    # memory only, never in a record
    account: Account | None = None

    @property
    def needed(self) -> Decimal:
        return (self.estimate * HEADROOM).quantize(CENT)

    @property
    def alert(self) -> Decimal | None:
        if self.lab_cap is None:
            return None
        return (self.lab_cap * ALERT_SHARE).quantize(CENT, rounding=ROUND_DOWN)

    @property
    def hourly(self) -> Decimal | None:
        return None if self.price is None else self.price * self.gpus

    @property
    def _buffer(self) -> str:
        return "the buffer" if self.capped else "the whole budget"

    def as_text(self) -> dict[str, str]:
        """The facts as a person reads them, for ``{name}`` placeholders in a checklist."""
        hourly = self.hourly
        hours = (
            (self.estimate / hourly).quantize(Decimal("0.1"), rounding=ROUND_DOWN)
            if hourly
            else None
        )
        unknown = "(not in the manifest)"
        return {
            "label": self.label,
            "estimate": format_usd(self.estimate),
            "lab": f"lab {self.pool}" if self.pool != BUFFER else self._buffer,
            "lab_cap": format_usd(self.lab_cap) if self.lab_cap is not None else unknown,
            "alert": format_usd(self.alert) if self.alert is not None else unknown,
            "ceiling": format_usd(self.ceiling),
            "remaining": format_usd(self.remaining),
            "remaining_after": format_usd(self.remaining - self.estimate),
            "needed": format_usd(self.needed),
            "price": f"${self.price}" if self.price is not None else unknown,
            "gpus": str(self.gpus),
            "hourly": format_usd(hourly) if hourly is not None else unknown,
            "hours_at_estimate": str(hours) if hours is not None else unknown,
            "vendor": self.vendor,
            "max_hours": str(MAX_HOURS),
        }


def compute(
    *,
    label: str,
    estimate: Decimal,
    lab: Lab,
    status: Status,
    manifest: Manifest | None,
    account: Account | None = None,
) -> Facts:
    caps = status.lab_caps
    pool = lab.pool(caps) or BUFFER  # no caps at all: the buffer, i.e. the ceiling alone
    return Facts(
        label=label,
        estimate=estimate,
        lab=lab,
        lab_cap=caps.get(pool) if caps else status.ceiling,  # no caps: the ceiling is the cap
        ceiling=status.ceiling,
        remaining=status.remaining,
        price=manifest.price_per_gpu_hour if manifest else None,
        gpus=manifest.gpus if manifest else 2,
        vendor=(manifest.vendor if manifest else None) or "your vendor",
        hardware=target_from(manifest.hardware_target) if manifest else None,
        lab_remaining=caps[pool] - status.lab_spent(pool) if pool in caps else None,
        pool=pool,
        capped=bool(caps),
        account=account,
    )
