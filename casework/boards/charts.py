"""Small static SVG charts for the board dashboards: no JavaScript bundle to load, readable, accessible.

Each function returns an ``<svg class="cw-chart">`` string with a ``<title>`` and
``aria-label`` (screen readers) and German number formats. Missing values
(suppressed cells) leave gaps, never zeros.

Examples
--------
>>> svg = line_chart(["Jan", "Feb", "Mär"], [1.0, None, 2.5], title="Test")
>>> svg.startswith("<svg") and "Test" in svg
True
"""

from __future__ import annotations

import html
import math

from casework import fmt

__all__ = ["line_chart", "bar_chart", "forest_chart", "wrap"]

BLUE, ORANGE, GREY, VERMILION = "#0072B2", "#E69F00", "#6b6b6b", "#D55E00"
_FONT = "font-family:system-ui,sans-serif;font-size:12px"


def _esc(s) -> str:
    return html.escape(str(s), quote=True)


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo] if math.isfinite(lo) else [0.0]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    return [start + i * step for i in range(int(math.ceil((hi - start) / step)) + 1)]


def _decimals(ticks) -> int:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1
    return 0 if step >= 1 else min(3, int(-math.floor(math.log10(step))) + (1 if step * 10 % 1 else 0))


def _open(width, height, title, extra=""):
    """The chart's frame: drawn on a ``width`` × ``height`` canvas, shown at the width of the page up to
    ``width`` pixels (a tablet's 768 px show all of it, scaled) with the aspect ratio kept."""
    t = _esc(title)
    return (f"<svg class='cw-chart' role='img' aria-label='{t}' viewBox='0 0 {width} {height}' "
            f"preserveAspectRatio='xMinYMin meet' xmlns='http://www.w3.org/2000/svg' "
            f"style='{_FONT};width:100%;max-width:{width}px;height:auto;display:block' {extra}>"
            f"<title>{t}</title><text x='4' y='16' style='font-size:14px;font-weight:600'>{t}</text>")


def wrap(text, max_chars: int) -> list[str]:
    """Split a label into lines of at most ``max_chars`` characters at spaces (a longer word stays whole).

    Examples
    --------
    >>> wrap("geförderte Beschäftigung mit Coaching", 24)
    ['geförderte Beschäftigung', 'mit Coaching']
    """
    lines: list[str] = []
    for word in str(text).split():
        if lines and len(lines[-1]) + 1 + len(word) <= max_chars:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _label(x, y, text, max_chars: int, anchor: str = "end", line_height: int = 13) -> str:
    """A left-hand label, wrapped onto lines centred on ``y`` (never clipped at the chart's edge)."""
    lines = wrap(text, max_chars)
    first = y - (len(lines) - 1) * line_height / 2
    spans = "".join(f"<tspan x='{x}' y='{first + i * line_height:.1f}'>{_esc(line)}</tspan>"
                    for i, line in enumerate(lines))
    return f"<text text-anchor='{anchor}'>{spans}</text>"


def line_chart(labels, values, title: str, y_label: str = "", width: int = 900, height: int = 280,
               marker_at: int | None = None, marker_label: str = "") -> str:
    """A line over categories (e.g. months); ``None``/NaN values leave gaps."""
    vals = [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values]
    finite = [v for v in vals if v is not None]
    left, right, top, bottom = 56, 12, 30, 40
    w, h = width - left - right, height - top - bottom
    out = [_open(width, height, title)]
    if not finite:
        out.append(f"<text x='{left}' y='{top + h / 2}'>keine darstellbaren Werte (zu kleine Fallzahlen)</text></svg>")
        return "".join(out)
    lo, hi = min(0.0, min(finite)), max(finite) * 1.1 or 1.0
    ticks = _nice_ticks(lo, hi)
    lo, hi = ticks[0], ticks[-1]
    dec = _decimals(ticks)

    def y(v):
        return top + h - (v - lo) / (hi - lo) * h

    def x(i):
        return left + (i / max(len(vals) - 1, 1)) * w

    for t in ticks:
        out.append(f"<line x1='{left}' x2='{left + w}' y1='{y(t):.1f}' y2='{y(t):.1f}' stroke='#e3e3e3'/>"
                   f"<text x='{left - 6}' y='{y(t) + 4:.1f}' text-anchor='end'>{fmt.number(t, dec)}</text>")
    step = max(1, len(labels) // 8)
    for i in range(0, len(labels), step):
        out.append(f"<text x='{x(i):.1f}' y='{top + h + 18}' text-anchor='middle'>{_esc(labels[i])}</text>")
    segment: list[str] = []
    for i, v in enumerate(vals + [None]):
        if v is not None:
            segment.append(f"{x(i):.1f},{y(v):.1f}")
        elif len(segment) == 1:  # a value between hidden months: a point, since a one-point line is invisible
            cx, cy = segment[0].split(",")
            out.append(f"<circle cx='{cx}' cy='{cy}' r='3.5' fill='{BLUE}'/>")
            segment = []
        elif segment:
            out.append(f"<polyline fill='none' stroke='{BLUE}' stroke-width='2.5' points='{' '.join(segment)}'/>")
            segment = []
    if marker_at is not None and 0 <= marker_at < len(vals):
        out.append(f"<line x1='{x(marker_at):.1f}' x2='{x(marker_at):.1f}' y1='{top}' y2='{top + h}' "
                   f"stroke='{VERMILION}' stroke-dasharray='5,4'/><text x='{x(marker_at) + 4:.1f}' y='{top + 12}' "
                   f"fill='{VERMILION}'>{_esc(marker_label)}</text>")
    if y_label:
        out.append(f"<text x='12' y='{top + h / 2}' transform='rotate(-90 12 {top + h / 2})' "
                   f"text-anchor='middle'>{_esc(y_label)}</text>")
    out.append("</svg>")
    return "".join(out)


def bar_chart(labels, series: dict, title: str, width: int = 900, bar_height: int = 14) -> str:
    """Horizontal grouped bars: ``series`` maps a legend name to values (None = hidden cell)."""
    colours = [GREY, BLUE, ORANGE, VERMILION]
    names = list(series)
    left, right, top = 200, 60, 46
    group = bar_height * len(names) + 10
    height = top + group * len(labels) + 10
    w = width - left - right
    finite = [v for vs in series.values() for v in vs if v is not None and not (isinstance(v, float) and math.isnan(v))]
    hi = max(finite) if finite else 1.0
    out = [_open(width, height, title)]
    for j, name in enumerate(names):
        out.append(f"<rect x='{left + j * 140}' y='22' width='12' height='12' fill='{colours[j % 4]}'/>"
                   f"<text x='{left + j * 140 + 16}' y='32'>{_esc(name)}</text>")
    for i, lab in enumerate(labels):
        y0 = top + i * group
        out.append(_label(left - 8, y0 + group / 2, lab, max_chars=30))
        for j, name in enumerate(names):
            v = series[name][i]
            yb = y0 + j * bar_height
            if v is None or (isinstance(v, float) and math.isnan(v)):
                out.append(f"<text x='{left + 4}' y='{yb + bar_height - 3}' fill='{GREY}'>verdeckt</text>")
                continue
            bw = v / hi * w if hi else 0
            out.append(f"<rect x='{left}' y='{yb}' width='{bw:.1f}' height='{bar_height - 2}' "
                       f"fill='{colours[j % 4]}'><title>{_esc(name)}: {fmt.number(v)}</title></rect>"
                       f"<text x='{left + bw + 4:.1f}' y='{yb + bar_height - 3}'>{fmt.number(v)}</text>")
    out.append("</svg>")
    return "".join(out)


def forest_chart(labels, estimates, lows, highs, title: str, unit: str = "Prozentpunkte", scale: float = 100,
                 width: int = 900, row: int = 34) -> str:
    """Point estimates with 95 % intervals (in percentage points by default) and a line at zero."""
    left, right, top, bottom = 230, 30, 34, 36
    height = top + row * len(labels) + bottom
    w = width - left - right
    vals = [v * scale for v in (*lows, *highs, 0.0)]
    ticks = _nice_ticks(min(vals), max(vals))
    lo, hi = ticks[0], ticks[-1]
    dec = _decimals(ticks)

    def x(v):
        return left + (v - lo) / (hi - lo) * w

    out = [_open(width, height, title)]
    for t in ticks:
        out.append(f"<line x1='{x(t):.1f}' x2='{x(t):.1f}' y1='{top}' y2='{top + row * len(labels)}' "
                   f"stroke='#e3e3e3'/><text x='{x(t):.1f}' y='{top + row * len(labels) + 16}' "
                   f"text-anchor='middle'>{fmt.number(t, dec)}</text>")
    out.append(f"<line x1='{x(0):.1f}' x2='{x(0):.1f}' y1='{top}' y2='{top + row * len(labels)}' stroke='{GREY}'/>")
    for i, (lab, e, a, b) in enumerate(zip(labels, estimates, lows, highs)):
        yc = top + row * i + row / 2
        out.append(_label(left - 8, yc + 4, lab, max_chars=34) +
                   f"<line x1='{x(a * scale):.1f}' x2='{x(b * scale):.1f}' y1='{yc}' y2='{yc}' stroke='{BLUE}' "
                   f"stroke-width='2'/><circle cx='{x(e * scale):.1f}' cy='{yc}' r='5' fill='{BLUE}'>"
                   f"<title>{_esc(lab)}: {fmt.number(e * scale, 1)} {unit} ({fmt.number(a * scale, 1)} bis "
                   f"{fmt.number(b * scale, 1)})</title></circle>")
    out.append(f"<text x='{left + w / 2}' y='{height - 4}' text-anchor='middle'>{_esc(unit)}</text></svg>")
    return "".join(out)
