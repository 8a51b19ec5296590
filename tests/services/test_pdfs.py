"""Slips and results laid out on the server as PDF/A-2b: identified as such in their XMP metadata,
with the sRGB output intent, every font embedded (the vendored DejaVu Serif), and their Vietnamese
text extractable as written."""

import hashlib
import io
import json
from datetime import datetime
from importlib import resources
from types import SimpleNamespace

import pikepdf
import pypdf

from onestop.services import pdfs, slips

APPLICANT = {"name": "Nguyễn Thị Hường", "citizen_id": "001203009999", "phone": "0912345678"}
AT = datetime(2026, 12, 4, 2, 30)  # UTC: 09:30 in Vietnam


def result_pdf():
    return pdfs.result(pdfs.ResultContent(
        "Trung tâm Phục vụ hành chính công tỉnh Hà Nam", "H22.99-261204-0001", "Chứng thực bản sao từ bản chính",
        APPLICANT, AT, [("Giấy tờ", "Bằng tốt nghiệp đại học"), ("Số bản", "2")],
        "https://motcua.example.vn/verify/ABCDEF0123", "Trung tâm Phục vụ hành chính công tỉnh Hà Nam"))


def text_of(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def assert_pdf_a_2b(content: bytes):
    with pikepdf.open(io.BytesIO(content)) as pdf:
        assert pdf.open_metadata().pdfa_status == "2B"
        [intent] = pdf.Root.OutputIntents
        assert intent.S == "/GTS_PDFA1" and intent.DestOutputProfile.N == 3
        fonts = [font for page in pdf.pages for font in page.Resources.Font.values()]
        assert fonts
        for font in fonts:  # composite TrueType fonts, each subset embedded in the file
            descriptor = font.DescendantFonts[0].FontDescriptor
            assert "/FontFile2" in descriptor and "DejaVuSerif" in str(descriptor.FontName)


def test_a_result_is_identified_as_pdf_a_2b_with_its_srgb_output_intent_and_every_font_embedded():
    content = result_pdf()
    assert content.startswith(b"%PDF-1.7")
    assert_pdf_a_2b(content)


def test_the_vietnamese_text_of_a_result_is_extracted_as_written_with_its_verification_address():
    text = text_of(result_pdf())
    for words in ("KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH", "Nguyễn Thị Hường", "Chứng thực bản sao từ bản chính",
                  "Bằng tốt nghiệp đại học", "Độc lập - Tự do - Hạnh phúc", "04/12/2026",
                  "https://motcua.example.vn/verify/ABCDEF0123", "Mã kiểm tra: ABCDEF0123"):
        assert words in text, words


def test_a_result_carries_its_qr_code_as_a_square_image_on_its_last_page():
    with pikepdf.open(io.BytesIO(result_pdf())) as pdf:
        images = list(pdf.pages[-1].get_images().values())
    assert images and images[0].Width == images[0].Height  # the QR code, square


def test_the_receipt_control_sheet_and_notices_are_pdf_a_in_vietnamese_too():
    receipt = slips.Receipt("UBND phường Hồng Hà", "H22.01", "H22.01-261204-0007", "Đăng ký khai sinh", "5 ngày",
                            APPLICANT, AT, datetime(2026, 12, 9, 10, 0), [SimpleNamespace(name="to-khai.pdf")],
                            "https://motcua.example.vn/track/H22.01-261204-0007?k=abc", "", "online", ["Tờ khai"])
    row = slips.HandOver("Thẩm định hồ sơ", "Bộ phận một cửa", "Phòng Tư pháp", AT, datetime(2026, 12, 5, 2, 0),
                         datetime(2026, 12, 6, 2, 0), "completed", "canbo1")
    sheet = slips.ControlSheet("UBND phường Hồng Hà", "H22.01-261204-0007", "Đăng ký khai sinh", APPLICANT, AT,
                               datetime(2026, 12, 9, 10, 0), [row], ["Phòng Tư pháp"])
    apology = slips.Notice("apology", slips.NOTICES["apology"][1], "UBND phường Hồng Hà", "H22.01-261204-0007",
                           "Đăng ký khai sinh", APPLICANT, AT, AT, "Chờ xác minh của cơ quan khác",
                           datetime(2026, 12, 9, 10, 0), datetime(2026, 12, 12, 10, 0))
    for content, words in ((pdfs.receipt(receipt), "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ"),
                           (pdfs.control_sheet(sheet), "Quá hạn"),
                           (pdfs.notice(apology), "Chờ xác minh của cơ quan khác")):
        assert_pdf_a_2b(content)
        text = text_of(content)
        assert words in text and "Nguyễn Thị Hường" in text


def test_the_vendored_font_is_the_one_recorded_with_its_licence():
    folder = resources.files("onestop").joinpath("fonts")
    record = json.loads(folder.joinpath("FONTS.json").read_text())["fonts"]["DejaVu Serif"]
    for name, digest in record["sha256"].items():
        assert hashlib.sha256(folder.joinpath(name).read_bytes()).hexdigest() == digest
    assert "Bitstream" in folder.joinpath("LICENSE").read_text() and record["licence"]
