"""Helpers for tests that drive the HTML pages through the real app: CSRF tokens, sign-in, uploads."""

import io
import re
import zipfile

from tests.conftest import MODELS

FORMS = MODELS / "forms"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
GOOD_APPLICATION = {
    "full_name": "Trần Thị Bình", "citizen_id": "001203004567", "business_name": "Phở Bình",
    "capital_vnd": "50000000", "start_date": "2026-12-01", "business_lines": "5610", "ownership": "family",
    "address-street": "12 Lê Lợi", "address-commune": "Phường Hồng Gai", "members-0-name": "Trần Văn An",
}


def csrf(page) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


def folder_zip(folder):
    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.writestr(f"{folder.name}/{path.name}", path.read_bytes())
    return (f"{folder.name}.zip", blob.getvalue())


def sign_in(client, username, password):
    page = client.get("/desk/login")
    return client.post("/desk/login", data={"csrf_token": csrf(page), "username": username, "password": password})


def submit_application(client, fields=None, files=None, code="household_business"):
    form = client.get(f"/procedures/{code}/submit")
    data = {"csrf_token": csrf(form), **(GOOD_APPLICATION if fields is None else fields)}
    data["documents"] = files if files is not None else (io.BytesIO(PDF), "giay-chung-nhan.pdf")
    return client.post(f"/procedures/{code}/submit", data=data, content_type="multipart/form-data")


def submitted_code_and_key(client, fields=None):
    """Submit the sample application online; (dossier code, lookup key) from the confirmation page."""
    confirmation = client.get(submit_application(client, fields).headers["Location"]).get_data(as_text=True)
    code = re.search(r'class="big-code">([^<]+)<', confirmation).group(1)
    key = re.search(r'id="lookup-key">([^<]+)<', confirmation).group(1)
    return code, key
