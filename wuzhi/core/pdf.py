"""Chinese PDFs with reportlab: the embedded font, paragraph styles and a vector QR code.

reportlab embeds TrueType (glyf) fonts only, and the Noto Sans CJK that Linux machines carry is
CFF inside a .ttc, so the project ships its own subset of it converted to TrueType
(static/fonts/NotoSansSC-wuzhi*.ttf, made by scripts/build_font.py; SIL OFL 1.1). It covers
GB 2312 levels 1 and 2 plus every character of the project's own text. A character outside the
subset does not fail: reportlab draws the font's .notdef box in its place.

Every PDF of the project (unit boards, reports) registers the fonts through `register_fonts()`
and uses the names `FONT` and `FONT_BOLD`; `<b>` in a Paragraph picks the bold face."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import qrcode
import qrcode.constants
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FONT_DIR = Path(__file__).resolve().parent.parent / "static" / "fonts"
FONT_FILES = {"WuzhiSans": "NotoSansSC-wuzhi.ttf", "WuzhiSans-Bold": "NotoSansSC-wuzhi-Bold.ttf"}
FONT = "WuzhiSans"
FONT_BOLD = "WuzhiSans-Bold"


@functools.cache
def register_fonts() -> None:
    """Register the fonts with reportlab once per process (parsing them takes a few tenths of a
    second; reportlab's registry is global, so doing it again would only waste that)."""
    from reportlab.lib.fonts import addMapping

    for name, filename in FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / filename)))
    # Paragraph markup <b> and <i> map through the family; there is no italic Chinese face, so
    # italics fall back to the upright one.
    addMapping(FONT, 0, 0, FONT)
    addMapping(FONT, 1, 0, FONT_BOLD)
    addMapping(FONT, 0, 1, FONT)
    addMapping(FONT, 1, 1, FONT_BOLD)


@functools.cache
def styles() -> dict[str, ParagraphStyle]:
    """Paragraph styles in the Chinese font. wordWrap="CJK" lets a line break between any two
    hanzi; without it reportlab breaks only at spaces and a Chinese sentence runs off the page."""
    register_fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=16, wordWrap="CJK")
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8.5, leading=12, textColor=colors.HexColor("#555555")),
        "title": ParagraphStyle("title", parent=body, fontName=FONT_BOLD, fontSize=20, leading=28, alignment=TA_CENTER,
                                spaceAfter=8),
        "heading": ParagraphStyle("heading", parent=body, fontName=FONT_BOLD, fontSize=13, leading=20, spaceBefore=8,
                                  spaceAfter=4),
        "cell": ParagraphStyle("cell", parent=body, fontSize=10, leading=14),
    }


def new_canvas(target: BytesIO | str, *, title: str, author: str = "五治社区治理", pagesize: tuple[float, float] = A4
               ) -> Canvas:
    """A canvas with the fonts registered and the document's metadata set (PDF readers show the
    title in their window; a printed file is recognisable by it)."""
    register_fonts()
    # The initial font is ours too: reportlab's default Helvetica would otherwise be referenced,
    # unembedded, on every page.
    canvas = Canvas(target, pagesize=pagesize, pageCompression=1, initialFontName=FONT, initialFontSize=10)
    canvas.setTitle(title)
    canvas.setAuthor(author)
    canvas.setCreator("wuzhi")
    return canvas


def fitted_size(text: str, font: str, size: float, max_width: float, min_size: float = 6) -> float:
    """The largest font size ≤ `size` at which `text` fits `max_width` (a long name shrinks
    instead of running over the border of its box)."""
    width = pdfmetrics.stringWidth(text, font, size)
    if width <= max_width:
        return size
    return max(min_size, size * max_width / width)


def qr_matrix(data: str, *, error_correction: int = qrcode.constants.ERROR_CORRECT_M) -> list[list[bool]]:
    """The QR code's modules without the quiet zone. Level M survives a scuffed corner of a
    board in a stairwell while keeping the code coarse enough for old phone cameras."""
    code = qrcode.QRCode(error_correction=error_correction, border=0)
    code.add_data(data)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def qr_runs(matrix: list[list[bool]]) -> Iterator[tuple[int, int, int]]:
    """Horizontal runs of dark modules as (row, first column, length): one rectangle per run
    instead of one per module keeps a PDF page and an SVG small."""
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                yield y, start, x - start
            else:
                x += 1


def draw_qr(canvas: Canvas, data: str, x: float, y: float, size: float, *, quiet: int = 2,
            color: Any = colors.black) -> None:
    """Draw a vector QR code with its lower left corner at (x, y), `size` points square, with a
    white quiet zone of `quiet` modules inside that square (scanners need a light border)."""
    matrix = qr_matrix(data)
    n = len(matrix) + 2 * quiet
    module = size / n
    canvas.saveState()
    canvas.setFillColor(colors.white)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColor(color)
    for row, col, length in qr_runs(matrix):
        # PDF y grows upwards, matrix rows go down; a hair of overlap avoids white seams
        # between adjacent rows in some viewers' anti-aliasing.
        top = y + size - (row + quiet) * module
        canvas.rect(x + (col + quiet) * module, top - module - 0.05, length * module, module + 0.05, stroke=0, fill=1)
    canvas.restoreState()
