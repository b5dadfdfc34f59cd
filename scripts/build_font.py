"""Build the Chinese fonts that PDFs embed: wuzhi/static/fonts/NotoSansSC-wuzhi{,-Bold}.ttf.

    .venv/bin/python scripts/build_font.py [--source-dir /usr/share/fonts/opentype/noto]

Why this exists: reportlab embeds only TrueType (glyf) outlines, and the Noto Sans CJK that
Debian ships (fonts-noto-cjk) is an OpenType collection with CFF outlines, so reportlab cannot
use it. This script takes the "Noto Sans CJK SC" face out of the Regular and the Bold
collections (NotoSansCJK-{Regular,Bold}.ttc), keeps the
characters a Chinese community document needs (GB 2312 levels 1 and 2 with its symbol rows,
ASCII, Latin-1, CJK and general punctuation, full-width forms, every character of the project's
own source and templates, and a few common name characters outside GB 2312), converts the
cubic CFF outlines to quadratic TrueType ones and writes a small TTF. The result is committed:
CI machines and fresh laptops may have no Noto installed, and a rebuild is only needed to
widen the character set.

The font stays under the SIL Open Font License 1.1 (wuzhi/static/fonts/OFL.txt). Its reserved
font name is "Source", which the subset does not use. Needs fontTools (the `dev` extra)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = Path("/usr/share/fonts/opentype/noto")
FAMILY = "Noto Sans CJK SC"
OUT_DIR = ROOT / "wuzhi" / "static" / "fonts"
NEW_FAMILY = "Noto Sans SC wuzhi"
# weight → (source collection, output file, PostScript name)
WEIGHTS = {
    "Regular": ("NotoSansCJK-Regular.ttc", "NotoSansSC-wuzhi.ttf", "NotoSansSC-wuzhi"),
    "Bold": ("NotoSansCJK-Bold.ttc", "NotoSansSC-wuzhi-Bold.ttf", "NotoSansSC-wuzhi-Bold"),
}

# Given-name characters that are common in names registered since the 1990s but are not in
# GB 2312 (a person's name must never print as a box on a board of their building).
EXTRA_NAME_CHARS = "喆堃玥珺昇燊淼犇焱垚琇琪瑄璟赟頔钰镕铖祎禕婕婧嫣姝妍晗晔暐旻昀曦杺桤楠樾洺滢濛炜煜熠珏琬瑀璇彧懿淏湉睿翊翀昕玮"

# Tolerance of the cubic → quadratic conversion in font units (1000 per em): one unit is
# 0.01 mm at 10 pt, invisible in print, and coarser values save little.
MAX_ERR = 1.0


def gb2312_chars() -> set[str]:
    """Every character GB 2312 encodes: symbol rows 1–9 and hanzi rows 16–87 (levels 1 and 2)."""
    chars = set()
    for row in range(0xA1, 0xF8):
        for col in range(0xA1, 0xFF):
            try:
                chars.add(bytes([row, col]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def project_chars() -> set[str]:
    """Characters of the project's own text: demo names, templates, messages in the code."""
    chars: set[str] = set()
    for pattern in ("**/*.py", "**/*.html", "**/*.txt", "**/*.json"):
        for path in (ROOT / "wuzhi").glob(pattern):
            if "migrations" in path.parts:
                continue
            chars |= {c for c in path.read_text(encoding="utf-8", errors="ignore") if ord(c) > 0x7F}
    return chars


def wanted_codepoints() -> set[int]:
    chars = gb2312_chars() | project_chars() | set(EXTRA_NAME_CHARS)
    codepoints = {ord(c) for c in chars}
    codepoints |= set(range(0x20, 0x7F))        # ASCII
    codepoints |= set(range(0xA0, 0x100))       # Latin-1 (°, ×, ·, é …)
    codepoints |= set(range(0x2010, 0x2040))    # general punctuation: — ‘ ’ “ ” … ‰ ※
    codepoints |= set(range(0x2460, 0x2474))    # ① … ⑳
    codepoints |= set(range(0x3000, 0x3040))    # CJK symbols and punctuation
    codepoints |= set(range(0xFF00, 0xFFF0))    # full-width forms
    codepoints |= {0x2103, 0x2116, 0x2122, 0x2190, 0x2191, 0x2192, 0x2193, 0x25A0, 0x25A1, 0x25B2,
                   0x25CB, 0x25CF, 0x2605, 0x2606, 0x260E, 0x2713, 0x2714, 0x2715}
    return {cp for cp in codepoints if not 0xD800 <= cp <= 0xDFFF}


def load_face(source: Path, family: str) -> TTFont:
    """The face of the collection whose family name is `family` (saved alone to a fresh TTFont
    so the subsetter sees an ordinary OpenType font)."""
    collection = TTCollection(str(source))
    for font in collection.fonts:
        if font["name"].getDebugName(1) == family:
            # Keep the source's head.modified so a rebuild of the same input is byte-identical.
            font.recalcTimestamp = False
            return font
    names = [f["name"].getDebugName(1) for f in collection.fonts]
    raise SystemExit(f"{source}: no face named {family!r} (faces: {names})")


def subset_font(font: TTFont, codepoints: set[int]) -> None:
    options = subset.Options()
    # reportlab does no shaping and browsers need none for Chinese, so layout tables go.
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx", "DSIG"]
    options.hinting = False          # CFF hints mean nothing once the outlines are TrueType
    options.desubroutinize = True
    options.notdef_outline = True    # a missing character prints as a visible box
    options.glyph_names = False
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]
    options.name_languages = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)


def cff_to_glyf(font: TTFont, max_err: float = MAX_ERR) -> None:
    """Replace the CFF table by quadratic glyf outlines (the otf2ttf recipe of fontTools'
    snippets: Cu2QuPen into a TTGlyphPen for every glyph, then rebuild maxp and post)."""
    glyph_order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in glyph_order:
        tt_pen = TTGlyphPen(glyph_set)
        # CFF contours run counter-clockwise, TrueType ones clockwise: reverse them.
        glyph_set[name].draw(Cu2QuPen(tt_pen, max_err, reverse_direction=True))
        glyphs[name] = tt_pen.glyph()

    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = glyph_order
    glyf.glyphs = glyphs
    del font["CFF "]
    glyf.compile(font)

    # Left side bearings must equal each glyph's xMin in a TrueType font.
    hmtx = font["hmtx"]
    for name, glyph in glyphs.items():
        width = hmtx[name][0]
        hmtx[name] = (width, getattr(glyph, "xMin", 0))

    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.maxZones = 1
    maxp.maxTwilightPoints = 0
    maxp.maxStorage = 0
    maxp.maxFunctionDefs = 0
    maxp.maxInstructionDefs = 0
    maxp.maxStackElements = 0
    maxp.maxSizeOfInstructions = 0
    maxp.maxComponentElements = 0
    maxp.compile(font)

    post = font["post"]
    post.formatType = 3.0  # no glyph names: CID names ("cid12345") carry nothing worth bytes
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = glyph_order
    font.sfntVersion = "\x00\x01\x00\x00"


def rename(font: TTFont, weight: str, ps_name: str) -> None:
    """A Modified Version under the OFL gets its own name; the copyright and licence stay."""
    name = font["name"]
    version = name.getDebugName(5) or ""
    for record in list(name.names):
        if record.nameID in (1, 16):
            record.string = NEW_FAMILY
        elif record.nameID == 4:
            record.string = f"{NEW_FAMILY} {weight}"
        elif record.nameID == 6:
            record.string = ps_name
        elif record.nameID == 3:
            record.string = f"{ps_name};{version}"
        elif record.nameID == 17:
            record.string = weight
    name.setName(f"{version}; subset of {FAMILY} for wuzhi (GB 2312 + project text), TrueType outlines",
                 5, 3, 1, 0x409)


def build(source: Path, family: str, weight: str, out: Path, ps_name: str, max_err: float) -> None:
    font = load_face(source, family)
    version = font["name"].getDebugName(5)
    codepoints = wanted_codepoints()
    subset_font(font, codepoints)
    cff_to_glyf(font, max_err)
    rename(font, weight, ps_name)
    out.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(out))

    check = TTFont(str(out))
    mapped = set(check.getBestCmap())
    missing = sorted(cp for cp in codepoints if cp not in mapped and 0x4E00 <= cp <= 0x9FFF)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB, {len(check.getGlyphOrder())} glyphs, "
          f"{len(mapped)} characters, from {family} {weight} {version}")
    if missing:
        print(f"  hanzi not in the source font: {''.join(chr(c) for c in missing)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--source-dir", type=Path, default=SOURCE_DIR,
                        help=f"where NotoSansCJK-Regular.ttc and -Bold.ttc are (default {SOURCE_DIR})")
    parser.add_argument("--family", default=FAMILY)
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--max-err", type=float, default=MAX_ERR)
    args = parser.parse_args()
    for weight, (collection, filename, ps_name) in WEIGHTS.items():
        source = args.source_dir / collection
        if not source.exists():
            print(f"{source} 不存在:请先 apt-get install fonts-noto-cjk", file=sys.stderr)
            return 2
        build(source, args.family, weight, args.out_dir / filename, ps_name, args.max_err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
