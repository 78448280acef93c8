"""Pictures of an arena plan: buffers as rectangles, time (op index) across, arena offset down.

``memory_ascii`` renders to the terminal (rich), ``memory_svg`` returns a hand-written SVG.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from rich.text import Text

_COLORS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac")
_STYLES = ("blue", "dark_orange", "red", "cyan", "green", "yellow", "magenta", "pink1", "tan", "grey62")


def _label(b) -> str:
    name = b.name
    return name if len(name) <= 40 else name[:18] + "…" + name[-18:]


def memory_ascii(plan, n_ops: int, width: int = 72, rows: int = 24) -> Text:
    """Op index across (``width`` columns), arena offset down (``rows`` lines); a letter per buffer."""
    arena = max(plan.arena_bytes, 1)
    cols = max(1, min(width, n_ops + 1))
    grid = [[(" ", None)] * cols for _ in range(rows)]
    legend = []
    for k, b in enumerate(sorted(plan.buffers, key=lambda b: (b.offset, b.first))):
        ch = chr(ord("A") + k % 26) if k < 52 else "#"
        ch = ch if k < 26 else ch.lower()
        style = _STYLES[k % len(_STYLES)]
        r0 = b.offset * rows // arena
        r1 = max(r0 + 1, -(-(b.offset + b.size) * rows // arena))
        c0 = b.first * cols // (n_ops + 1)
        c1 = max(c0 + 1, (b.last + 1) * cols // (n_ops + 1))
        for r in range(r0, min(r1, rows)):
            for c in range(c0, min(c1, cols)):
                grid[r][c] = (ch, style)
        if k < 40:
            legend.append((ch, style, f"{_label(b)}  {b.size:,} B @ {b.offset:,}, ops {b.first}..{b.last}"))
    out = Text()
    out.append(f"arena {plan.arena_bytes:,} B (lower bound {plan.lower_bound:,} B); "
               f"ops 0..{n_ops} across, offset down\n")
    for r, line in enumerate(grid):
        out.append(f"{r * arena // rows:>8,} |")
        for ch, style in line:
            out.append(ch, style=style)
        out.append("|\n")
    for ch, style, text in legend:
        out.append(f"  {ch} ", style=style)
        out.append(text + "\n")
    if len(plan.buffers) > 40:
        out.append(f"  ... and {len(plan.buffers) - 40} more buffers\n")
    return out


def memory_svg(g, plan, title: str = "model", width: int = 960, height: int = 540) -> str:
    """The arena plan as an SVG: one rectangle per buffer (x: its lifetime, y: its bytes)."""
    n = len(g.ops) + 1
    arena = max(plan.arena_bytes, 1)
    left, top, right, bottom = 70, 40, 20, 40
    w, h = width - left - right, height - top - bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="20" font-size="14">{escape(title)}: arena {plan.arena_bytes:,} B, '
             f'lower bound {plan.lower_bound:,} B, {len(g.ops)} ops</text>',
             f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="black"/>']
    for k, b in enumerate(sorted(plan.buffers, key=lambda b: (b.offset, b.first, b.name))):
        x = left + w * b.first / n
        bw = max(w * (b.last + 1 - b.first) / n, 1.0)
        y = top + h * b.offset / arena
        bh = max(h * b.size / arena, 1.0)
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{bh:.1f}" '
                     f'fill="{_COLORS[k % len(_COLORS)]}" fill-opacity="0.75" stroke="black" '
                     f'stroke-width="0.5"><title>{escape(b.name)}: {b.size:,} B at {b.offset:,}, '
                     f'ops {b.first}..{b.last}</title></rect>')
    for frac in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + h * frac
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{int(arena * frac):,}</text>')
    parts.append(f'<text x="{left + w / 2:.0f}" y="{height - 10}" text-anchor="middle">op index '
                 f'(0..{len(g.ops)})</text>')
    parts.append("</svg>\n")
    return "\n".join(parts)
