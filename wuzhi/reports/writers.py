"""The work report as Word (python-docx) and PDF (reportlab, with the embedded Chinese font of
wuzhi.core.pdf). Both render the same `document.Report`, charts included as PNG images."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _

from .charts import render as render_chart
from .document import Report, blocks
from .series import Chart

# Official-document conventions: 方正小标宋/黑体 titles, 仿宋 body. Word falls back to what the
# PC has; the eastAsia font name must be set for Chinese text to use it at all.
TITLE_FONT, HEADING_FONT, BODY_FONT = "黑体", "黑体", "仿宋"


def _east_asian(target: object, font: str) -> None:
    from docx.oxml.ns import qn

    rpr = target.element.get_or_add_rPr()  # type: ignore[attr-defined]
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), font)


def to_docx(report: Report) -> bytes:
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2.6)
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = BODY_FONT, Pt(16)  # 三号仿宋
    _east_asian(normal, BODY_FONT)
    for level in (1, 2):
        style = doc.styles[f"Heading {level}"]
        style.font.name, style.font.size, style.font.bold = HEADING_FONT, Pt(16), level == 1
        style.font.color.rgb = None
        _east_asian(style, HEADING_FONT)

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(f"{report.area_name}{report.title}")
    run.bold, run.font.size = True, Pt(22)  # 二号
    _east_asian(run, TITLE_FONT)
    sub = doc.add_paragraph()
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = sub.add_run(f"({report.subtitle})")
    run.font.size = Pt(14)

    for sec in report.sections:
        doc.add_heading(sec.heading, level=1)
        for text in sec.paragraphs:
            p = doc.add_paragraph(text)
            p.paragraph_format.first_line_indent = Pt(32)  # 首行缩进两字
            p.paragraph_format.line_spacing = Pt(28)
        for item in blocks(sec):
            if isinstance(item, Chart):
                doc.add_picture(io.BytesIO(render_chart(item)), width=Cm(15.8))
                doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
                continue
            table = item
            if table.title:
                cap = doc.add_paragraph()
                cap.alignment = WD_ALIGN_PARAGRAPH.CENTER
                r = cap.add_run(table.title)
                r.bold, r.font.size = True, Pt(12)
            t = doc.add_table(rows=1, cols=len(table.headers))
            t.style = "Table Grid"
            t.alignment = WD_TABLE_ALIGNMENT.CENTER
            for cell, text in zip(t.rows[0].cells, table.headers, strict=True):
                cell.text = text
                for r in cell.paragraphs[0].runs:
                    r.bold, r.font.size = True, Pt(11)
            for values in table.rows:
                cells = t.add_row().cells
                for cell, text in zip(cells, values, strict=True):
                    cell.text = text
                    for r in cell.paragraphs[0].runs:
                        r.font.size = Pt(11)
            doc.add_paragraph()

    end = doc.add_paragraph()
    end.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    day = report.generated_at
    end.add_run(f"{report.area_name}\n{day.year}年{day.month}月{day.day}日")
    note = doc.add_paragraph()
    r = note.add_run(_("(本稿由系统根据台账数据自动生成,数字截至生成之时,请核对修改后定稿。)"))
    r.font.size = Pt(10)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def to_pdf(report: Report) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import cm
    from reportlab.platypus import (
        Image,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    from wuzhi.core.pdf import FONT, FONT_BOLD, register_fonts, styles

    register_fonts()
    st = styles()
    body = st["body"].clone("report_body", fontSize=11.5, leading=20, firstLineIndent=23)
    buf = io.BytesIO()
    title = f"{report.area_name}{report.title}"

    def footer(canvas, doc):  # type: ignore[no-untyped-def]
        canvas.saveState()
        canvas.setFont(FONT, 8.5)
        canvas.setFillColor(colors.HexColor("#777777"))
        canvas.drawCentredString(A4[0] / 2, 1.2 * cm, " · ".join([title, _("第%(n)s页") % {"n": doc.page},
                                                                  _("初稿,请核对修改")]))
        canvas.restoreState()

    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=2.4 * cm, rightMargin=2.4 * cm, topMargin=2.2 * cm,
                            bottomMargin=2.2 * cm, title=title, author="五治社区治理", creator="wuzhi")
    width = A4[0] - 4.8 * cm
    story: list = [Paragraph(escape(title), st["title"]),
                   Paragraph(f"({report.subtitle})", st["small"].clone("sub", alignment=1)), Spacer(1, 10)]
    for sec in report.sections:
        story.append(Paragraph(escape(sec.heading), st["heading"]))
        for text in sec.paragraphs:
            story.append(Paragraph(escape(text), body))
        for item in blocks(sec):
            if isinstance(item, Chart):
                png = io.BytesIO(render_chart(item))
                story += [Spacer(1, 4), Image(png, width=width, height=width * 760 / 1600), Spacer(1, 4)]
                continue
            table = item
            caption = []
            if table.title:
                # keepWithNext: a caption never stays behind at the foot of a page without its table.
                caption = [Paragraph(f"<b>{escape(table.title)}</b>",
                                     st["cell"].clone("cap", alignment=1, spaceBefore=6, keepWithNext=1))]
            data = [[Paragraph(f"<b>{escape(h)}</b>", st["cell"]) for h in table.headers]]
            data += [[Paragraph(escape(v), st["cell"]) for v in row] for row in table.rows]
            first = width * 0.5 if len(table.headers) <= 3 else width * 0.32
            rest = (width - first) / max(1, len(table.headers) - 1)
            t = Table(data, colWidths=[first] + [rest] * (len(table.headers) - 1), repeatRows=1)
            t.setStyle(TableStyle([
                ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#999999")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f1e4e4")),
                ("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]))
            story += [*caption, t, Spacer(1, 8)]
    day = report.generated_at
    story += [Spacer(1, 12), Paragraph(f"{escape(report.area_name)}<br/>{day.year}年{day.month}月{day.day}日",
                                       body.clone("sign", alignment=2, firstLineIndent=0))]
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
