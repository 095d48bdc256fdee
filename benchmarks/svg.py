"""Small static SVG line charts with bands, for plots embedded in Markdown docs.

Plotly pages need JavaScript; a Markdown page on a code host shows images only. The
numbers come from :func:`hypertrail.reporting.plots.anytime_bands`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from hypertrail.reporting.plots import Band

__all__ = ["bands_svg"]

_COLORS = (
    "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
_W, _H = 560, 320
_LEFT, _RIGHT, _TOP, _BOTTOM = 62, 150, 30, 40


def bands_svg(bands: Sequence[Band], title: str, y_label: str, floor: float = 1e-6) -> str:
    """Mean curves with their bands on a log y axis (values below ``floor`` clipped)."""
    values = [v for b in bands for v in (*b.low, *b.high, *b.mean) if math.isfinite(v)]
    low = max(min(values, default=floor), floor)
    high = max(max(values, default=1.0), low * 10)
    y0, y1 = math.floor(math.log10(low)), math.ceil(math.log10(high))
    steps = max(len(b.x) for b in bands) if bands else 1
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def px(step: float) -> float:
        return _LEFT + plot_w * (step - 1) / max(steps - 1, 1)

    def py(value: float) -> float:
        v = math.log10(max(value, floor)) if math.isfinite(value) else y1
        return _TOP + plot_h * (y1 - v) / max(y1 - y0, 1)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" font-family="sans-serif" font-size="11">',
        f'<rect width="{_W}" height="{_H}" fill="white"/>',
        f'<text x="{_LEFT}" y="18" font-size="13">{html.escape(title)}</text>',
    ]
    for e in range(y0, y1 + 1):
        y = py(10.0**e)
        out.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        out.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">1e{e}</text>')
    for tick in range(0, steps + 1, max(steps // 5, 1)):
        x = px(max(tick, 1))
        out.append(f'<text x="{x:.1f}" y="{_TOP + plot_h + 16}" text-anchor="middle">{tick}</text>')
    out.append(
        f'<text x="{_LEFT + plot_w / 2}" y="{_H - 6}" text-anchor="middle">evaluations</text>'
    )
    out.append(
        f'<text x="14" y="{_TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {_TOP + plot_h / 2})">{html.escape(y_label)}</text>'
    )
    for i, band in enumerate(bands):
        color = _COLORS[i % len(_COLORS)]
        upper = [f"{px(x):.1f},{py(v):.1f}" for x, v in zip(band.x, band.high, strict=True)]
        lower = [f"{px(x):.1f},{py(v):.1f}" for x, v in zip(band.x, band.low, strict=True)]
        out.append(
            f'<polygon points="{" ".join(upper + lower[::-1])}" fill="{color}" '
            'fill-opacity="0.12" stroke="none"/>'
        )
        line = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in zip(band.x, band.mean, strict=True))
        width = 2.4 if i == 0 else 1.4
        out.append(
            f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="{width}"/>'
        )
        ly = _TOP + 14 + 16 * i
        lx = _LEFT + plot_w + 12
        out.append(
            f'<line x1="{lx}" x2="{lx + 18}" y1="{ly - 4}" y2="{ly - 4}" stroke="{color}" '
            f'stroke-width="{width}"/>'
        )
        out.append(f'<text x="{lx + 24}" y="{ly}">{html.escape(band.label)}</text>')
    out.append(
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#999"/>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"
