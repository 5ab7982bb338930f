"""Server-rendered SVG charts: no script, no build step, allowed by the strict CSP (SPEC §10)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from batch.money import format_yuan

SERIES = (("应缴", "due"), ("到账", "received"), ("入账", "posted"))
"""(label, CSS class) of the three bars of a month."""


def monthly_bars(months: Sequence[tuple[str, Sequence[int | None]]], *, width: int = 760, height: int = 240) -> str:
    """Grouped bars, one group per month: (label, (due, received, posted) in fen; None for a figure not kept)."""
    top = max((v for _, values in months for v in values if v), default=0)
    left, bottom, pad = 90, 30, 10
    plot_w, plot_h = width - left - pad, height - bottom - pad - 20
    group = plot_w / max(1, len(months))
    bar = group / (len(SERIES) + 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="近{len(months)}个月应缴、到账、入账金额">'
    ]
    for i in range(5):  # the scale: five lines from zero to the top
        value = top * i // 4
        y = pad + 20 + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{left}" x2="{width - pad}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{format_yuan(value)}</text>')
    for m, (label, values) in enumerate(months):
        x0 = left + m * group + bar / 2
        for s, ((name, css), figure) in enumerate(zip(SERIES, values, strict=True)):
            if not figure:
                continue
            value = figure
            h = plot_h * max(0, value) / top if top else 0
            parts.append(
                f'<rect class="{css}" x="{x0 + s * bar:.1f}" y="{pad + 20 + plot_h - h:.1f}" width="{bar * 0.9:.1f}" '
                f'height="{h:.1f}"><title>{escape(label)} {name} {format_yuan(value)}元</title></rect>'
            )
        parts.append(
            f'<text class="axis" x="{x0 + bar * 1.5:.1f}" y="{height - 10}" text-anchor="middle">{escape(label)}</text>'
        )
    for s, (name, css) in enumerate(SERIES):  # the legend
        parts.append(f'<rect class="{css}" x="{left + s * 90}" y="4" width="12" height="12"/>')
        parts.append(f'<text class="legend" x="{left + s * 90 + 16}" y="15">{name}</text>')
    parts.append("</svg>")
    return "".join(parts)
