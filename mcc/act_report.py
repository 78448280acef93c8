"""The activation-widths table of `mcc plan --act-widths` (rich)."""

from __future__ import annotations

from rich.table import Table


def activation_table(plan) -> Table:
    """Per candidate activation: its width in the plan and the sensitivity gain of 16 bits."""
    rep = plan.activation_report or {}
    gains = rep.get("gains", {})
    t = Table(title=f"activation widths (arena {rep.get('arena8', 0):,} B at all-8 -> {rep.get('arena', 0):,} B; "
                    f"SRAM {rep.get('sram8') or 0:,} -> {plan.sram:,} of {plan.sram_budget:,})")
    for c in ("activation", "bits", "output MSE gain of 16 bits"):
        t.add_column(c, justify="left" if c == "activation" else "right")
    for n, g in gains.items():
        t.add_row(n[-48:], str(plan.activation_widths.get(n, 8)), f"{g:.3g}")
    return t
