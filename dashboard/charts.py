"""Chart builders (Altair, which Streamlit ships): every chart has axis titles with units
and a y-range that shows its signal (never forced to start at zero)."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from dashboard.data import y_domain


def line(frame: pd.DataFrame, *, x: str, y: str, x_title: str, y_title: str,
         color: str | None = None, color_title: str | None = None, zero: bool = False) -> alt.Chart:
    """A line chart of ``y`` over ``x``; one line per ``color`` value if given."""
    scale = alt.Scale(zero=True) if zero else alt.Scale(domain=list(y_domain(frame[y])), zero=False)
    encoding: dict[str, Any] = {
        "x": alt.X(f"{x}:Q", title=x_title),
        "y": alt.Y(f"{y}:Q", title=y_title, scale=scale),
    }
    tooltip = [x, y]
    if color is not None:
        encoding["color"] = alt.Color(f"{color}:N", title=color_title or color)
        tooltip.append(color)
    return alt.Chart(frame).mark_line(clip=True).encode(**encoding, tooltip=tooltip).interactive()


def wide_lines(frame: pd.DataFrame, *, x_title: str, y_title: str, series_title: str) -> alt.Chart:
    """A line per column of a wide frame (index on the x axis)."""
    long = frame.reset_index(names="x").melt(id_vars="x", var_name="series", value_name="value")
    return line(long, x="x", y="value", x_title=x_title, y_title=y_title, color="series",
                color_title=series_title)


def bars(frame: pd.DataFrame, *, x: str, y: str, x_title: str, y_title: str,
         x_type: str = "O") -> alt.Chart:
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X(f"{x}:{x_type}", title=x_title), y=alt.Y(f"{y}:Q", title=y_title), tooltip=[x, y])


def histogram_vs_law(frame: pd.DataFrame, *, x: str, observed: str, expected: str,
                     x_title: str, y_title: str, law_title: str) -> alt.LayerChart:
    """Observed counts as bars, a law's expected counts as a line over them."""
    base = alt.Chart(frame)
    bar = base.mark_bar(opacity=0.6).encode(
        x=alt.X(f"{x}:Q", title=x_title, bin=False), y=alt.Y(f"{observed}:Q", title=y_title),
        tooltip=[x, observed, expected])
    law = base.mark_line(color="black").encode(x=f"{x}:Q", y=f"{expected}:Q")
    return alt.layer(bar, law).properties(title=f"bars: observed; line: {law_title}")


def intervals(frame: pd.DataFrame, *, label: str, value: str, low: str, high: str,
              value_title: str, label_title: str) -> alt.LayerChart:
    """A point per row with its interval as a horizontal rule."""
    base = alt.Chart(frame)
    domain = list(y_domain(pd.concat([frame[low], frame[high], frame[value]])))
    x = alt.X(f"{value}:Q", title=value_title, scale=alt.Scale(domain=domain, zero=False))
    rule = base.mark_rule().encode(x=alt.X(f"{low}:Q", scale=alt.Scale(domain=domain, zero=False)),
                                   x2=f"{high}:Q", y=alt.Y(f"{label}:N", title=label_title, sort=None))
    point = base.mark_point(filled=True, size=60).encode(
        x=x, y=alt.Y(f"{label}:N", sort=None), tooltip=[label, value, low, high])
    return alt.layer(rule, point)


def band_line(frame: pd.DataFrame, *, x: str, y: str, low: str, high: str, x_title: str,
              y_title: str, zero: bool = True) -> alt.LayerChart:
    """A line with a shaded interval band (e.g. a ROC curve with its bootstrap band)."""
    base = alt.Chart(frame)
    scale = alt.Scale(zero=zero)
    band = base.mark_area(opacity=0.25).encode(
        x=alt.X(f"{x}:Q", title=x_title), y=alt.Y(f"{low}:Q", title=y_title, scale=scale), y2=f"{high}:Q")
    curve = base.mark_line().encode(x=f"{x}:Q", y=alt.Y(f"{y}:Q", scale=scale), tooltip=[x, y, low, high])
    return alt.layer(band, curve)


def heatmap(frame: pd.DataFrame, *, x: str, y: str, value: str, x_title: str, y_title: str,
            value_title: str) -> alt.Chart:
    return alt.Chart(frame).mark_rect().encode(
        x=alt.X(f"{x}:O", title=x_title), y=alt.Y(f"{y}:O", title=y_title),
        color=alt.Color(f"{value}:Q", title=value_title), tooltip=[x, y, value])
