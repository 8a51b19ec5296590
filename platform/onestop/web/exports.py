"""Tables as downloads: CSV (UTF-8 with a byte-order mark, so spreadsheet programs read Vietnamese)
and XLSX (one sheet per table).

Every export goes through here, and no cell of text becomes a formula (OWASP's CSV injection): a
text starting with = + - @ a tab or a carriage return gets a leading apostrophe, in CSV and XLSX
alike, and XLSX cells are written as the type they are (text stays text). Numbers stay numbers,
negative ones included.
"""

import csv
import io

from flask import Response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def neutral(value):
    """The cell as exported: text that a spreadsheet would read as a formula is quoted; others unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def csv_response(headers, rows, filename) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutral(h) for h in headers])
    writer.writerows([neutral(v) for v in row] for row in rows)
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})


def xlsx_response(sheets: dict, filename) -> Response:
    """sheets: {sheet name: (headers, rows)}."""
    import xlsxwriter  # here, not at start: ~2 MB of every web worker, for a download few of them serve

    buffer = io.BytesIO()
    # Strings are never read as formulas, numbers or links: write() keeps each value's own type.
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
                                        "strings_to_urls": False})
    bold = book.add_format({"bold": True})
    for name, (headers, rows) in sheets.items():
        sheet = book.add_worksheet(name[:31])
        sheet.write_row(0, 0, [neutral(h) for h in headers], bold)
        for i, row in enumerate(rows, 1):
            sheet.write_row(i, 0, ["" if v is None else neutral(v) for v in row])
        sheet.set_column(0, max(len(headers) - 1, 0), 16)
    book.close()
    return Response(buffer.getvalue(), mimetype=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'})
