"""The report's charts as PNG images, drawn server-side with Pillow in the project's embedded
Chinese font (no browser, a few tens of milliseconds per chart). They draw the same `Chart`
data the dashboard gives ECharts."""

from __future__ import annotations

import functools
import io
import math

from PIL import Image, ImageDraw, ImageFont

from wuzhi.core.pdf import FONT_DIR, FONT_FILES

from .series import Chart

W, H = 1600, 760
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 130, 130, 110, 120
PALETTE = ["#b22222", "#2f6db5", "#e6a23c", "#3a9d5d", "#8e44ad", "#16a2b8", "#7f8c8d"]
LINE = "#333333"
GRID = "#e3e3e3"
TEXT = "#333333"


@functools.cache
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "WuzhiSans-Bold" if bold else "WuzhiSans"
    return ImageFont.truetype(str(FONT_DIR / FONT_FILES[name]), size)


def _nice_max(value: float) -> float:
    """A round axis maximum ≥ value (1, 2, 2.5, 5 × 10^n)."""
    if value <= 0:
        return 1
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * exp >= value:
            return step * exp
    return 10 * exp


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def _text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int = 26, anchor: str = "la",
          fill: str = TEXT, bold: bool = False) -> None:
    draw.text(xy, text, font=_font(size, bold), fill=fill, anchor=anchor)


def _legend(draw: ImageDraw.ImageDraw, names: list[tuple[str, str]]) -> None:
    x = MARGIN_L
    y = H - 45
    for name, color in names:
        draw.rectangle([x, y - 12, x + 26, y + 12], fill=color)
        _text(draw, (x + 36, y), name, 26, "lm")
        x += 60 + int(draw.textlength(name, font=_font(26)))


def _frame(chart: Chart) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(img)
    _text(draw, (W / 2, 40), chart.title, 36, "mm", bold=True)
    return img, draw


def bar_line(chart: Chart) -> Image.Image:
    """Bars (stacked when they share a `stack`) on the left axis; series with axis 1 as lines on
    the right axis."""
    img, draw = _frame(chart)
    n = max(1, len(chart.categories))
    bars = [s for s in chart.series if not s.get("axis")]
    lines = [s for s in chart.series if s.get("axis")]
    stacked = bool(bars) and all(s.get("stack") for s in bars)
    totals = [sum((s["data"][i] or 0) for s in bars) if stacked else max([(s["data"][i] or 0) for s in bars] or [0])
              for i in range(n)]
    left_max = _nice_max(max(totals or [0]))
    right_max = _nice_max(max([v or 0 for s in lines for v in s["data"]] or [0]))
    x0, x1, y0, y1 = MARGIN_L, W - MARGIN_R, MARGIN_T, H - MARGIN_B
    for t in range(6):
        y = y1 - (y1 - y0) * t / 5
        draw.line([x0, y, x1, y], fill=GRID, width=2)
        _text(draw, (x0 - 12, y), _num(left_max * t / 5), 22, "rm")
        if lines:
            _text(draw, (x1 + 12, y), _num(right_max * t / 5), 22, "lm")
    if bars:
        _text(draw, (x0 - 12, y0 - 30), bars[0].get("unit", ""), 22, "rm")
    if lines:
        _text(draw, (x1 + 12, y0 - 30), lines[0].get("unit", ""), 22, "lm")
    slot = (x1 - x0) / n
    group_w = slot * 0.64
    colors = {}
    for i in range(n):
        cx = x0 + slot * (i + 0.5)
        base: float = y1
        for j, s in enumerate(bars):
            color = PALETTE[j % len(PALETTE)]
            colors[s["name"]] = color
            v = s["data"][i] or 0
            h = (y1 - y0) * v / left_max
            if stacked:
                draw.rectangle([cx - group_w / 2, base - h, cx + group_w / 2, base], fill=color)
                base -= h
            else:
                w = group_w / len(bars)
                left = cx - group_w / 2 + j * w
                draw.rectangle([left + 2, y1 - h, left + w - 2, y1], fill=color)
        if n <= 16 or i % 2 == 0:
            _text(draw, (cx, y1 + 14), chart.categories[i], 22, "ma")
    for k, s in enumerate(lines):
        color = PALETTE[(len(bars) + k) % len(PALETTE)]
        colors[s["name"]] = color
        points = [(x0 + slot * (i + 0.5), y1 - (y1 - y0) * v / right_max)
                  for i, v in enumerate(s["data"]) if v is not None]
        if len(points) > 1:
            draw.line(points, fill=color, width=5, joint="curve")
        for px, py in points:
            draw.ellipse([px - 7, py - 7, px + 7, py + 7], fill="white", outline=color, width=4)
    draw.line([x0, y1, x1, y1], fill=LINE, width=2)
    _legend(draw, list(colors.items()))
    return img


def pyramid(chart: Chart) -> Image.Image:
    """Men to the left, women to the right of a central axis, youngest band at the bottom."""
    img, draw = _frame(chart)
    male, female = chart.series[0]["data"], chart.series[1]["data"]
    top = _nice_max(max(male + female + [0]))
    label_w = 150
    cx = W / 2
    x_left, x_right = MARGIN_L - 40, W - MARGIN_R + 40
    y0, y1 = MARGIN_T, H - MARGIN_B
    n = len(chart.categories)
    row = (y1 - y0) / n
    half = (x_right - x_left - label_w) / 2
    for i, label in enumerate(chart.categories):
        y_mid = y1 - row * (i + 0.5)
        hm = half * male[i] / top
        hf = half * female[i] / top
        draw.rectangle([cx - label_w / 2 - hm, y_mid - row * 0.38, cx - label_w / 2, y_mid + row * 0.38],
                       fill=PALETTE[1])
        draw.rectangle([cx + label_w / 2, y_mid - row * 0.38, cx + label_w / 2 + hf, y_mid + row * 0.38],
                       fill=PALETTE[0])
        _text(draw, (cx, y_mid), label, 24, "mm")
        _text(draw, (cx - label_w / 2 - hm - 10, y_mid), str(male[i]), 22, "rm")
        _text(draw, (cx + label_w / 2 + hf + 10, y_mid), str(female[i]), 22, "lm")
    _legend(draw, [(chart.series[0]["name"], PALETTE[1]), (chart.series[1]["name"], PALETTE[0])])
    return img


def render(chart: Chart) -> bytes:
    """PNG bytes of `chart`."""
    img = pyramid(chart) if chart.kind == "pyramid" else bar_line(chart)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False)
    return buf.getvalue()
