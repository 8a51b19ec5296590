"""Papers as PDF/A-2b, laid out on the server: the slips (receipt and appointment slip, the notices,
the process control sheet) and the results a template fills from a dossier's data.

fpdf2 writes them with `enforce_compliance="PDF/A-2B"`: the XMP metadata that says so, the sRGB
output intent (ICC profile) and every font embedded. The font is the vendored DejaVu Serif
(onestop/fonts/, its licence beside it), which has every Vietnamese glyph; no system font is used,
so a paper reads the same on every server.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources

import segno
from fpdf import FPDF

from ..workdays import to_local

FONT = "DejaVuSerif"
MOTTO = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")


def _font_file(name: str) -> str:
    return str(resources.files("onestop").joinpath("fonts", name))


def dmy(value) -> str:
    """A date or instant (UTC) as a Vietnamese paper writes it: 20/11/2026, local time."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = to_local(value)
    return f"{value:%d/%m/%Y}" if isinstance(value, date) else str(value)


def hm_dmy(value) -> str:
    """An instant (UTC) as "08 giờ 30 phút, ngày 20/11/2026", local time."""
    if not isinstance(value, datetime):
        return dmy(value)
    local = to_local(value)
    return f"{local:%H} giờ {local:%M} phút, ngày {local:%d/%m/%Y}"


class Paper(FPDF):
    """An A4 page in the house style, PDF/A-2b, with the vendored font."""

    def __init__(self, title: str, author: str):
        super().__init__(format="A4", enforce_compliance="PDF/A-2B")
        self.set_lang("vi")
        self.set_title(title)
        self.set_author(author)
        self.set_creator("onestop")
        self.add_font(FONT, "", _font_file("DejaVuSerif.ttf"))
        self.add_font(FONT, "B", _font_file("DejaVuSerif-Bold.ttf"))
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(True, margin=18)
        self.add_page()

    def line_of(self, text: str, size: float = 11, bold: bool = False, align: str = "L", height: float = 6):
        self.set_font(FONT, "B" if bold else "", size)
        self.multi_cell(0, height, text, align=align, new_x="LMARGIN", new_y="NEXT")

    def head(self, issuer: str, number: str, on: str):
        """The two columns every administrative paper opens with: the issuer, and the national motto."""
        top, half = self.get_y(), (self.w - self.l_margin - self.r_margin) / 2
        self.set_font(FONT, "B", 10)
        self.multi_cell(half - 4, 5, issuer.upper(), align="C", new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, "", 10)
        self.multi_cell(half - 4, 5, f"Số: {number}", align="C", new_x="LMARGIN", new_y="NEXT")
        left_end = self.get_y()
        self.set_xy(self.l_margin + half, top)
        self.set_font(FONT, "B", 8.5)  # the motto on one line, as the paper forms print it
        self.multi_cell(half, 5, MOTTO[0], align="C", new_x="LEFT", new_y="NEXT")
        self.set_font(FONT, "B", 10)
        self.multi_cell(half, 5, MOTTO[1], align="C", new_x="LEFT", new_y="NEXT")
        self.set_font(FONT, "", 10)
        self.multi_cell(half, 5, on, align="C", new_x="LMARGIN", new_y="NEXT")
        self.set_y(max(left_end, self.get_y()) + 6)

    def title_of(self, text: str, subtitle: str | None = None):
        self.line_of(text, 14, bold=True, align="C", height=7)
        if subtitle:
            self.line_of(subtitle, 11, bold=True, align="C")
        self.ln(4)

    def facts(self, rows):
        """Label and value pairs, one a line (values wrap under themselves)."""
        width = self.w - self.l_margin - self.r_margin
        for label, value in rows:
            self.set_font(FONT, "B", 11)
            self.multi_cell(width * 0.38, 6, f"{label}:", new_x="RIGHT", new_y="TOP")
            top = self.get_y()
            self.set_font(FONT, "", 11)
            self.multi_cell(width * 0.62, 6, str(value if value not in (None, "") else "—"), new_x="LMARGIN",
                            new_y="NEXT")
            self.set_y(max(self.get_y(), top + 6))

    def grid(self, headings, rows, widths):
        self.set_font(FONT, "", 9)
        with self.table(col_widths=widths, text_align="LEFT", line_height=5) as table:
            row = table.row()
            for heading in headings:
                row.cell(heading)
            for values in rows:
                row = table.row()
                for value in values:
                    row.cell(str(value if value not in (None, "") else "—"))

    def qr(self, url: str, caption: str, size: float = 32):
        """A QR code of `url` at the page's bottom right, with a caption beside it."""
        image = io.BytesIO()
        segno.make(url, error="m").save(image, kind="png", scale=6, border=2)
        image.seek(0)
        if self.get_y() + size > self.h - self.b_margin:
            self.add_page()
        top = self.get_y() + 2
        self.image(image, x=self.w - self.r_margin - size, y=top, w=size, h=size, alt_text=caption)
        self.set_xy(self.l_margin, top)
        self.set_font(FONT, "", 9)
        self.multi_cell(self.w - self.l_margin - self.r_margin - size - 4, 5, f"{caption}\n{url}",
                        new_x="LMARGIN", new_y="NEXT")
        self.set_y(top + size + 2)

    def signatures(self, left: str, right: str):
        self.ln(8)
        half = (self.w - self.l_margin - self.r_margin) / 2
        top = self.get_y()
        for i, who in enumerate((left, right)):
            self.set_xy(self.l_margin + i * half, top)
            self.set_font(FONT, "B", 10)
            self.multi_cell(half, 5, who.upper(), align="C", new_x="LEFT", new_y="NEXT")
            self.set_font(FONT, "", 9)
            self.multi_cell(half, 5, "(Ký và ghi rõ họ tên)", align="C", new_x="LMARGIN", new_y="NEXT")

    def bytes(self) -> bytes:
        return bytes(self.output())


def _applicant_rows(applicant: dict) -> list:
    rows = [("Ông/Bà", applicant.get("name") or "—")]
    for key, label in (("citizen_id", "Số định danh cá nhân"), ("phone", "Số điện thoại"),
                       ("email", "Thư điện tử"), ("address", "Địa chỉ")):
        if applicant.get(key):
            rows.append((label, applicant[key]))
    return rows


def receipt(slip) -> bytes:
    """The receipt and appointment slip (slips.Receipt) as PDF/A, its QR code to the tracking page."""
    paper = Paper(f"Giấy tiếp nhận hồ sơ {slip.code}", slip.centre_name)
    paper.head(slip.centre_name, slip.code, f"ngày {dmy(slip.received_at)}")
    paper.title_of("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", f"Mã hồ sơ: {slip.code}")
    paper.line_of(f"Bộ phận tiếp nhận và trả kết quả {slip.centre_name} tiếp nhận hồ sơ của:")
    paper.facts(_applicant_rows(slip.applicant) + [("Nội dung yêu cầu giải quyết", slip.procedure_name)])
    paper.line_of("Thành phần hồ sơ nộp gồm:")
    items = list(slip.papers or []) + [("Bản chụp: " if slip.channel == "counter" else "") + f.name
                                       for f in slip.files]
    for i, item in enumerate(items or ["Hồ sơ nộp trực tuyến" if slip.channel != "counter"
                                       else "Hồ sơ giấy nộp tại Bộ phận tiếp nhận và trả kết quả"], 1):
        paper.line_of(f"{i}. {item}")
    paper.line_of("Số lượng hồ sơ: 01 bộ.")
    if slip.processing:
        paper.line_of(f"Thời gian giải quyết hồ sơ theo quy định là: {slip.processing}.")
    paper.line_of(f"Thời gian nhận hồ sơ: {hm_dmy(slip.received_at)}.")
    if slip.due_at:
        paper.line_of(f"Thời gian trả kết quả giải quyết hồ sơ: {hm_dmy(slip.due_at)}.", bold=True)
    paper.qr(slip.tracking_url, "Quét mã để theo dõi hồ sơ:")
    paper.signatures("Người nộp hồ sơ", "Người tiếp nhận hồ sơ")
    return paper.bytes()


def control_sheet(sheet) -> bytes:
    """The process control sheet (slips.ControlSheet) as PDF/A: every hand-over, its deadline, kept or not."""
    paper = Paper(f"Phiếu kiểm soát quá trình giải quyết hồ sơ {sheet.code}", sheet.centre_name)
    paper.head(sheet.centre_name, sheet.code, f"ngày {dmy(sheet.received_at)}")
    paper.title_of("PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ", f"Mã hồ sơ: {sheet.code}")
    paper.facts(_applicant_rows(sheet.applicant) + [
        ("Thủ tục", sheet.procedure_name), ("Ngày nhận", hm_dmy(sheet.received_at)),
        ("Hẹn trả kết quả", hm_dmy(sheet.due_at) if sheet.due_at else "—")])
    paper.ln(3)
    kept = {True: "Đúng hạn", False: "Quá hạn", None: "—"}
    paper.grid(("Bước", "Bên giao", "Bên nhận", "Nhận lúc", "Hạn", "Xong lúc", "Kết quả"),
                [(r.step, r.from_unit, r.to_unit, hm_dmy(r.received) if r.received else "—",
                  hm_dmy(r.due) if r.due else "—", hm_dmy(r.done) if r.done else "—", kept[r.on_time])
                 for r in sheet.rows], (26, 22, 22, 24, 24, 24, 18))
    if sheet.late_units:
        paper.ln(2)
        paper.line_of("Đơn vị quá hạn: " + ", ".join(sheet.late_units), bold=True)
    return paper.bytes()


def notice(found) -> bytes:
    """A notice (slips.Notice: supplement request, refusal, stop, apology) as PDF/A."""
    paper = Paper(f"{found.title} {found.code}", found.centre_name)
    paper.head(found.centre_name, found.code, f"ngày {dmy(found.at)}")
    paper.title_of(found.title, f"Mã hồ sơ: {found.code}")
    paper.facts(_applicant_rows(found.applicant) + [
        ("Thủ tục", found.procedure_name), ("Ngày nhận hồ sơ", hm_dmy(found.received_at))])
    paper.ln(2)
    paper.line_of("Lý do:", bold=True)
    paper.line_of(found.reason or "—")
    if found.kind == "apology" and found.new_due:
        paper.line_of(f"Hẹn trả kết quả trước đây: {hm_dmy(found.old_due)}.")
        paper.line_of(f"Nay hẹn lại: {hm_dmy(found.new_due)}.", bold=True)
    paper.signatures("", "Người ký")
    return paper.bytes()


@dataclass
class ResultContent:
    """What a result (certificate, permit) says: filled from the dossier's data by `result`."""

    centre_name: str
    code: str  # the dossier's code
    procedure_name: str
    applicant: dict
    issued_at: datetime
    facts: list = field(default_factory=list)  # (label, value) of the dossier's data
    verify_url: str = ""
    signer: str = ""  # the certificate's holder, as the paper names it


def result(content: ResultContent) -> bytes:
    """A result as PDF/A: the decision filled from the dossier's data, with the QR code of its
    public verification page (the signature itself is added by services.signing)."""
    paper = Paper(f"Kết quả giải quyết hồ sơ {content.code}", content.centre_name)
    paper.head(content.centre_name, content.code, f"ngày {dmy(content.issued_at)}")
    paper.title_of("KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH", content.procedure_name)
    paper.line_of(f"{content.centre_name} xác nhận kết quả giải quyết hồ sơ {content.code} của:")
    paper.facts(_applicant_rows(content.applicant))
    if content.facts:
        paper.ln(2)
        paper.line_of("Nội dung:", bold=True)
        paper.facts(content.facts)
    paper.ln(4)
    paper.line_of(f"Văn bản điện tử được ký số bởi {content.signer or content.centre_name} "
                  f"ngày {dmy(content.issued_at)}.", size=10)
    paper.qr(content.verify_url, _check_caption(content.verify_url))
    return paper.bytes()


def _check_caption(verify_url: str) -> str:
    code = verify_url.rstrip("/").rsplit("/", 1)[-1]
    return f"Mã kiểm tra: {code}. Quét mã để kiểm tra chữ ký số và tính toàn vẹn của văn bản:"


def verification_page(centre_name: str, code: str, verify_url: str) -> bytes:
    """One PDF/A page to append to a result the officer uploaded: the QR code of its verification page."""
    paper = Paper(f"Mã kiểm tra văn bản {code}", centre_name)
    paper.title_of("THÔNG TIN KIỂM TRA VĂN BẢN ĐIỆN TỬ", f"Hồ sơ: {code}")
    paper.line_of(f"Văn bản trước trang này là kết quả giải quyết hồ sơ {code}, được {centre_name} ký số.")
    paper.qr(verify_url, _check_caption(verify_url))
    return paper.bytes()
