"""Graduated price tiers per event class, and what a month's volume costs.

Tiers apply to the month's total billable volume, so the first million events
are free whatever their class. Inside each tier, events are split between the
two classes in the month's proportions and each class pays its own price: a
month that is 70% anonymous pays the anonymous price on 70% of every tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from magpie.errors import InvalidInput

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Tier:
    up_to: int | None  # cumulative monthly events; None = no upper bound
    anonymous: Decimal
    identified: Decimal


@dataclass(frozen=True)
class Pricing:
    currency: str
    tiers: tuple[Tier, ...]

    @property
    def free_allowance(self) -> int:
        free = 0
        for tier in self.tiers:
            if tier.anonymous or tier.identified or tier.up_to is None:
                break
            free = tier.up_to
        return free

    def to_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "tiers": [
                {"up_to": t.up_to, "anonymous": str(t.anonymous), "identified": str(t.identified)}
                for t in self.tiers
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> Pricing:
        if not isinstance(data, dict) or not isinstance(data.get("tiers"), list):
            raise InvalidInput(
                "pricing needs currency and tiers of up_to, anonymous and identified prices",
                attr="tiers",
            )
        currency = data.get("currency", "USD")
        if not isinstance(currency, str) or not 1 <= len(currency) <= MAX_CURRENCY:
            raise InvalidInput(
                f"currency is a code of 1 to {MAX_CURRENCY} characters", attr="currency"
            )
        pricing = cls(currency, tuple(_tier(t) for t in data["tiers"]))
        pricing.validate()
        return pricing

    def validate(self) -> None:
        if not self.tiers or self.tiers[-1].up_to is not None:
            raise InvalidInput("the last tier must have no upper bound (up_to: null)", attr="tiers")
        bounds = [t.up_to for t in self.tiers[:-1]]
        if any(b is None or b <= 0 for b in bounds) or bounds != sorted(set(bounds)):  # type: ignore[type-var]
            raise InvalidInput("tier bounds must be positive and increasing", attr="tiers")
        if any(t.anonymous < 0 or t.identified < 0 for t in self.tiers):
            raise InvalidInput("prices cannot be negative", attr="tiers")


MAX_CURRENCY = 16
# Bounds that keep every quote exact: prices and event counts multiply within
# Decimal's 28 digits, and tier bounds fit the store's 64-bit integers.
MAX_UP_TO = 10**15
MAX_PRICE = Decimal(1_000_000)


def _tier(data: Any) -> Tier:
    if not isinstance(data, dict):
        raise InvalidInput('a tier is {"up_to", "anonymous", "identified"}', attr="tiers")
    up_to = data.get("up_to")
    if isinstance(up_to, str) and up_to.isdigit() and len(up_to) <= 16:
        up_to = int(up_to)
    if up_to is not None and (
        isinstance(up_to, bool) or not isinstance(up_to, int) or not 1 <= up_to <= MAX_UP_TO
    ):
        raise InvalidInput(
            f"up_to is a whole number of events from 1 to {MAX_UP_TO:,}, or null", attr="tiers"
        )
    return Tier(up_to, _price(data, "anonymous"), _price(data, "identified"))


def _price(tier: dict[str, Any], name: str) -> Decimal:
    raw = tier.get(name)
    price: Decimal | None = None
    if isinstance(raw, int | float | str) and not isinstance(raw, bool) and len(str(raw)) <= 40:
        try:
            price = Decimal(str(raw))
        except ArithmeticError:  # decimal.InvalidOperation: not a number
            price = None
    if price is None or not price.is_finite() or not 0 <= price <= MAX_PRICE:
        raise InvalidInput(
            f"{name} is a price per event from 0 to {MAX_PRICE:,} (a number or a decimal string)",
            attr="tiers",
        )
    return price


# PostHog's 2024 per-event prices (compat §7), per month.
DEFAULT_PRICING = Pricing(
    "USD",
    (
        Tier(1_000_000, Decimal("0"), Decimal("0")),
        Tier(2_000_000, Decimal("0.0000500"), Decimal("0.0002480")),
        Tier(15_000_000, Decimal("0.0000343"), Decimal("0.0001040")),
        Tier(50_000_000, Decimal("0.0000295"), Decimal("0.0000655")),
        Tier(100_000_000, Decimal("0.0000218"), Decimal("0.0000364")),
        Tier(250_000_000, Decimal("0.0000150"), Decimal("0.0000187")),
        Tier(None, Decimal("0.0000090"), Decimal("0.0000100")),
    ),
)


@dataclass(frozen=True)
class TierLine:
    low: int
    high: int | None
    anonymous_events: int
    identified_events: int
    tier: Tier

    @property
    def anonymous_amount(self) -> Decimal:
        return self.anonymous_events * self.tier.anonymous

    @property
    def identified_amount(self) -> Decimal:
        return self.identified_events * self.tier.identified

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.low,
            "to": self.high,
            "events": self.anonymous_events + self.identified_events,
            "anonymous_events": self.anonymous_events,
            "identified_events": self.identified_events,
            "anonymous_unit_price": str(self.tier.anonymous),
            "identified_unit_price": str(self.tier.identified),
            "amount": money(self.anonymous_amount + self.identified_amount),
        }


@dataclass(frozen=True)
class Quote:
    anonymous: int
    identified: int
    currency: str
    lines: tuple[TierLine, ...]

    @property
    def anonymous_amount(self) -> Decimal:
        return sum((line.anonymous_amount for line in self.lines), Decimal(0))

    @property
    def identified_amount(self) -> Decimal:
        return sum((line.identified_amount for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.anonymous_amount + self.identified_amount

    def cost_json(self) -> dict[str, Any]:
        return {
            "anonymous": money(self.anonymous_amount),
            "identified": money(self.identified_amount),
            "total": money(self.total),
            "currency": self.currency,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "anonymous": self.anonymous,
            "identified": self.identified,
            "currency": self.currency,
            "tiers": [
                line.to_json()
                for line in self.lines
                if line.anonymous_events or line.identified_events
            ],
            "total": money(self.total),
        }


def quote(pricing: Pricing, anonymous: int, identified: int) -> Quote:
    if anonymous < 0 or identified < 0:
        raise InvalidInput("event counts cannot be negative")
    total = anonymous + identified
    lines = []
    low = 0
    anonymous_left = anonymous
    for tier in pricing.tiers:
        high = tier.up_to
        in_tier = max(0, (total if high is None else min(total, high)) - low)
        # Each tier takes the month's mix; the last one takes what is left exactly.
        if high is None or high >= total:
            anonymous_in = anonymous_left
        else:
            anonymous_in = round(in_tier * anonymous / total) if total else 0
            anonymous_in = min(anonymous_in, anonymous_left)
        anonymous_left -= anonymous_in
        lines.append(TierLine(low, high, anonymous_in, in_tier - anonymous_in, tier))
        if high is None or high >= total:
            break
        low = high
    return Quote(anonymous, identified, pricing.currency, tuple(lines))


def money(amount: Decimal) -> float:
    return float(amount.quantize(CENT, rounding=ROUND_HALF_UP))
