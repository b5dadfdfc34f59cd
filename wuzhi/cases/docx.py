"""The 人民调解协议书, generated as .docx (python-docx) from a concluded dispute's parties and
agreed terms, in the layout of the 司法部 template: title, number, parties, the dispute, the
agreement, performance, effect, signatures."""

from __future__ import annotations

import io

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from .models import Dispute, Outcome

COMMITTEE = "人民调解委员会"


def _chinese(run_or_style: object, font: str = "宋体") -> None:
    # Word picks the East Asian font from w:eastAsia; without it Chinese falls back to a
    # default that may not exist on a county office's PC.
    rpr = run_or_style.element.get_or_add_rPr()  # type: ignore[attr-defined]
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), font)


def agreement_docx(dispute: Dispute, committee: str = "") -> bytes:
    if dispute.outcome != Outcome.SUCCESS:
        raise ValueError("只有调解成功的纠纷才能生成人民调解协议书")
    case = dispute.case
    community = case.area.full_name.split("社区", 1)[0] + "社区" if "社区" in case.area.full_name else ""
    committee = committee or f"{community.split('镇')[-1] if community else ''}{COMMITTEE}"
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = "宋体", Pt(12)
    _chinese(normal)

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run("人民调解协议书")
    run.bold, run.font.size = True, Pt(22)
    _chinese(run, "黑体")
    number = doc.add_paragraph(f"编号:{case.number}")
    number.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    doc.add_paragraph("当事人:").runs[0].bold = True
    for party in dispute.parties.all():
        line = f"{party.get_role_display()}:{party.name}"
        if party.address:
            line += f",住址:{party.address}"
        doc.add_paragraph(line)

    doc.add_paragraph("纠纷主要事实、争议事项:").runs[0].bold = True
    doc.add_paragraph(dispute.situation)
    doc.add_paragraph(f"经{committee}调解,当事人自愿达成如下协议:").runs[0].bold = True
    for i, term in enumerate(dispute.term_lines, start=1):
        doc.add_paragraph(f"{i}. {term}")
    doc.add_paragraph("履行方式、时限:").runs[0].bold = True
    doc.add_paragraph(dispute.performance or "按上述协议约定履行。")
    doc.add_paragraph(
        "本协议书一式三份,当事人、人民调解委员会各持一份。本协议经双方当事人签名(盖章或按指印)、"
        "人民调解员签名并加盖人民调解委员会印章后生效。经人民调解委员会调解达成的调解协议,具有法律约束力,"
        "当事人应当按照约定履行。")

    doc.add_paragraph("")
    for party in dispute.parties.all():
        doc.add_paragraph(f"{party.get_role_display()}(签名):{party.name}  ________")
    mediators = "、".join(dict.fromkeys(s.mediator_name for s in dispute.sessions.all()))
    doc.add_paragraph(f"人民调解员(签名):{mediators}  ________")
    seal = doc.add_paragraph(f"{committee}(印章)")
    seal.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    day = dispute.concluded_at
    date = doc.add_paragraph(f"{day:%Y}年{day.month}月{day.day}日" if day else "    年  月  日")
    date.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
