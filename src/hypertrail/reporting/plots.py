"""Plot data first, then plotly figures (plotly is imported only when drawing).

:func:`anytime_bands` computes the numbers of an anytime plot (mean best-so-far
with a 95 % bootstrap band of the mean, per trial); :func:`anytime_figure` draws
them. Tests check the numbers without a browser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hypertrail.analysis.statistics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED

__all__ = ["PALETTE", "Band", "anytime_bands", "anytime_figure", "figures_html", "finals_figure"]

PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


@dataclass(frozen=True)
class Band:
    """Mean of several curves, with the 95 % bootstrap interval of that mean."""

    label: str
    x: list[float]
    mean: list[float]
    low: list[float]
    high: list[float]


def anytime_bands(
    curves: Mapping[str, np.ndarray], steps: Sequence[float] | None = None
) -> list[Band]:
    """One :class:`Band` per label from a (seed x step) matrix of best-so-far values.

    Steps are numbered from 1 unless ``steps`` gives them (fidelity units spent, say).
    NaN entries (no value yet) are left out of the mean.
    """
    out = []
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    for label, matrix in curves.items():
        data = np.asarray(matrix, dtype=float)
        if data.ndim != 2 or data.size == 0:
            continue
        n_seeds, n_steps = data.shape
        idx = rng.integers(0, n_seeds, size=(BOOTSTRAP_RESAMPLES, n_seeds))
        with np.errstate(all="ignore"):
            means = np.nanmean(data[idx], axis=1)  # resamples x steps
            mean = np.nanmean(data, axis=0)
            low, high = np.nanpercentile(means, [2.5, 97.5], axis=0)
        out.append(
            Band(
                label,
                [float(x) for x in steps]
                if steps is not None
                else [float(i) for i in range(1, n_steps + 1)],
                mean.tolist(),
                low.tolist(),
                high.tolist(),
            )
        )
    return out


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def anytime_figure(
    bands: Sequence[Band], title: str, y_label: str, log_y: bool = False, x_label: str = "trials"
) -> Any:
    """Mean best-so-far per label with its band, one colour per label."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, band in enumerate(bands):
        color = PALETTE[i % len(PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=band.x + band.x[::-1],
                y=band.high + band.low[::-1],
                fill="toself",
                fillcolor=_rgba(color, 0.15),
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=band.label,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=band.x,
                y=band.mean,
                name=band.label,
                line={"color": color, "width": 2},
                legendgroup=band.label,
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title=x_label,
        yaxis_title=y_label,
        yaxis_type="log" if log_y else "linear",
        template="plotly_white",
        height=420,
    )
    return fig


def finals_figure(finals: Mapping[str, Sequence[float]], title: str, y_label: str) -> Any:
    """Final values per label across seeds: a box with every seed shown."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, (label, values) in enumerate(finals.items()):
        fig.add_trace(
            go.Box(
                y=list(values),
                name=label,
                boxpoints="all",
                jitter=0.4,
                marker_color=PALETTE[i % len(PALETTE)],
            )
        )
    fig.update_layout(title=title, yaxis_title=y_label, template="plotly_white", height=420)
    return fig


def figures_html(figures: Sequence[Any]) -> list[str]:
    """HTML fragments of ``figures``; plotly.js is inlined once, in the first, so a
    page made of them opens offline."""
    return [
        fig.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False)
        for i, fig in enumerate(figures)
    ]
