"""``search.svg`` beside the model card: every trial of the search as a point, student size
(parameters, log scale) across, validation accuracy up, the chosen trial marked. Plain SVG written
here (no plotting library), so the card's picture needs nothing to render."""

from __future__ import annotations

import math
from html import escape

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 560, 320, 64, 16, 28, 48


def search_svg(search: dict) -> str:
    trials = search["trials"]
    xs = [math.log10(max(t["params"], 1)) for t in trials]
    ys = [t["val_accuracy"] for t in trials]
    x0, x1 = _span(xs, 0.1)
    y0, y1 = _span(ys, 0.02)
    y0, y1 = max(0.0, y0), min(1.0, y1)

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * (WIDTH - LEFT - RIGHT)

    def py(y: float) -> float:
        return HEIGHT - BOTTOM - (y - y0) / (y1 - y0) * (HEIGHT - TOP - BOTTOM)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
             'role="img" aria-labelledby="t d" font-family="sans-serif" font-size="11">',
             '<title id="t">Search trials: student size against validation accuracy</title>',
             f'<desc id="d">{len(trials)} trials; the chosen one, trial {search["chosen"] + 1}, is the ringed point.</desc>',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
             f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="#444"/>',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#444"/>']
    for tick in _ticks(y0, y1):
        parts.append(f'<text x="{LEFT - 6}" y="{py(tick) + 4:.1f}" text-anchor="end">{tick:.3f}</text>')
        parts.append(f'<line x1="{LEFT}" y1="{py(tick):.1f}" x2="{WIDTH - RIGHT}" y2="{py(tick):.1f}" stroke="#eee"/>')
    last = -math.inf
    for params in sorted({t["params"] for t in trials}):  # a tick at each design's size, where there is room
        x = px(math.log10(max(params, 1)))
        if x - last >= 48:
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{params:,}</text>')
            last = x
    parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 10}" text-anchor="middle">student parameters (log scale)</text>')
    parts.append(f'<text x="14" y="{(TOP + HEIGHT - BOTTOM) / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {(TOP + HEIGHT - BOTTOM) / 2})">validation accuracy</text>')
    for trial, x, y in zip(trials, xs, ys):
        colour = "#888" if trial.get("reference") else ("#c44" if trial["state"] == "pruned" else "#26a")
        label = escape(f"trial {trial['number'] + 1}: {trial['design']}, {trial['state']}, {trial['val_accuracy']:.4f}")
        parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{colour}" fill-opacity="0.75"><title>{label}</title></circle>')
        if trial["number"] == search["chosen"]:
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="9" fill="none" stroke="#000" stroke-width="2"/>')
            parts.append(f'<text x="{px(x) + 12:.1f}" y="{py(y) - 8:.1f}">chosen</text>')
    parts.append(f'<text x="{LEFT}" y="16">blue: ran to the end; red: stopped early (pruned); grey: labels only</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _span(values: list[float], pad: float) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high - low < 1e-9:
        return low - pad, high + pad
    margin = (high - low) * 0.08
    return low - margin, high + margin


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]
