"""Tables as downloads: CSV (UTF-8 with a byte-order mark, so spreadsheet programs read Vietnamese)
and XLSX (one sheet per table)."""

import csv
import io

import xlsxwriter
from flask import Response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_response(headers, rows, filename) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})


def xlsx_response(sheets: dict, filename) -> Response:
    """sheets: {sheet name: (headers, rows)}."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    for name, (headers, rows) in sheets.items():
        sheet = book.add_worksheet(name[:31])
        sheet.write_row(0, 0, headers, bold)
        for i, row in enumerate(rows, 1):
            sheet.write_row(i, 0, ["" if v is None else v for v in row])
        sheet.set_column(0, max(len(headers) - 1, 0), 16)
    book.close()
    return Response(buffer.getvalue(), mimetype=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'})
