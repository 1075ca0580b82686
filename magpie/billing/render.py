"""Usage reports and quotes as terminal tables (the CLI's view of the billing API)."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table


def console() -> Console:
    """A terminal's own width; when piped, wide enough that tables are not cut."""
    return Console() if sys.stdout.isatty() else Console(width=160)


def _n(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _money(value: float, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def print_usage(report: dict[str, Any], console: Console) -> None:
    events, cost, quota = report["events"], report["cost"], report["quota"]
    currency = cost["currency"]
    summary = Table(title=f"Usage {report['period']}", show_header=True)
    summary.add_column("class")
    summary.add_column("events", justify="right")
    summary.add_column("cost", justify="right")
    summary.add_row("anonymous", _n(events["anonymous"]), _money(cost["anonymous"], currency))
    summary.add_row("identified", _n(events["identified"]), _money(cost["identified"], currency))
    summary.add_row("billable total", _n(events["total"]), _money(cost["total"], currency))
    summary.add_row("excluded (not billed)", _n(events["excluded"]), "")
    summary.add_row("dropped over quota", _n(quota["dropped_events"]), "")
    console.print(summary)
    projected = report["projected"]
    console.print(
        f"Free allowance: {_n(report['free_allowance'])} events a month. Projected to "
        f"month end: {_n(projected['events']['total'])} events, "
        f"{_money(projected['cost']['total'], currency)}."
    )
    if quota["max_events"] is not None or quota["max_amount"] is not None:
        limit = " and ".join(
            filter(
                None,
                [
                    f"{_n(quota['max_events'])} events" if quota["max_events"] is not None else "",
                    _money(quota["max_amount"], currency)
                    if quota["max_amount"] is not None
                    else "",
                ],
            )
        )
        state = "LIMITED: capture is dropping events" if quota["limited"] else "within quota"
        console.print(f"Quota: {limit} a month; {state}.")
    libs = Table(title="By SDK", show_header=True)
    for name in ("lib", "version", "anonymous", "identified"):
        libs.add_column(name, justify="right" if name in ("anonymous", "identified") else "left")
    for row in report["by_lib"]:
        libs.add_row(
            row["lib"] or "(unknown)",
            row["lib_version"] or "",
            _n(row["anonymous"]),
            _n(row["identified"]),
        )
    console.print(libs)
    days = Table(title="By day", show_header=True)
    for name in ("date", "anonymous", "identified", "excluded"):
        days.add_column(name, justify="left" if name == "date" else "right")
    for row in report["by_day"]:
        days.add_row(row["date"], _n(row["anonymous"]), _n(row["identified"]), _n(row["excluded"]))
    console.print(days)


def print_quote(quote: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"Quote: {_n(quote['anonymous'])} anonymous + "
        f"{_n(quote['identified'])} identified events a month"
    )
    for name in ("tier", "anonymous", "price", "identified", "price", "amount"):
        table.add_column(name, justify="right", no_wrap=True)
    currency = quote["currency"]
    for line in quote["tiers"]:
        upper = "∞" if line["to"] is None else f"{line['to']:,}"
        table.add_row(
            f"{line['from']:,}–{upper}",
            _n(line["anonymous_events"]),
            line["anonymous_unit_price"],
            _n(line["identified_events"]),
            line["identified_unit_price"],
            _money(line["amount"], currency),
        )
    table.add_row("total", "", "", "", "", _money(quote["total"], currency))
    console.print(table)
