"""The application form of a generated procedure: the shared applicant block from `forms/`
(formdefs.blocks "identity") and one upload per document the record lists, required when the
document is (a document whose head says "nếu ..." / "trường hợp ...", one only shown at the counter
("Xuất trình"), or one labelled with the case it is for ("Trẻ em bị bỏ rơi: ...") is optional)."""

from __future__ import annotations

import functools
import re

from ...formdefs.blocks import blocks

FILE_FORMAT = "data-url"
MAX_TITLE = 200
CONDITIONAL = ("nếu", "trường hợp", "xuất trình", "if ", "where ")


@functools.cache
def _identity():
    return blocks()["identity"]


def required(document) -> bool:
    """Whether a document of the record must be uploaded to apply."""
    if isinstance(document, dict):
        return document.get("required", True) if isinstance(document.get("required"), bool) else True
    head = re.split(r"—|;| - ", document, maxsplit=1)[0].strip().lower()
    labelled = re.match(r"^[^:]{1,120}:\s", head) is not None
    return not (labelled or any(w in head for w in CONDITIONAL))


def _title(document) -> str:
    name = document["name"] if isinstance(document, dict) else document
    head = re.split(r"—| - ", name, maxsplit=1)[0].strip()
    return head if len(head) <= MAX_TITLE else head[: MAX_TITLE - 1].rstrip() + "…"


def field_name(number: int) -> str:
    return f"document_{number:02d}_file"


def application(title: str, documents) -> tuple[dict, dict]:
    """(JSON Schema, UI schema) of the application form."""
    identity = _identity()
    properties = dict(identity.schema["properties"])
    needed = list(identity.schema.get("required", []))
    order = list(identity.ui.get("ui:order", properties))
    ui = {k: v for k, v in identity.ui.items() if k != "ui:order"}
    for number, document in enumerate(documents, 1):
        name = field_name(number)
        full = document["name"] if isinstance(document, dict) else document
        properties[name] = {"type": "string", "title": _title(document), "format": FILE_FORMAT}
        if full != properties[name]["title"]:
            properties[name]["description"] = full
        if required(document):
            needed.append(name)
        order.append(name)
        ui[name] = {"ui:help": "Tệp PDF hoặc ảnh chụp; bản giấy xuất trình khi nhận kết quả"}
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title[:MAX_TITLE],
              "description": identity.schema.get("description", ""), "type": "object",
              "required": needed, "properties": properties}
    return schema, {"ui:order": order, **ui}


def sample(documents) -> dict:
    """What an applicant submits in the generated tests: the identity block filled in and a small
    PDF for every document."""
    pdf = "data:application/pdf;name=giay-to.pdf;base64,JVBERi0xLjQKJeLjz9MKdHJhaWxlcgo8PD4+CiUlRU9GCg=="
    data = {"applicant_full_name": "Trần Thị Mai", "applicant_date_of_birth": "1990-04-12",
            "applicant_citizen_id": "001190023456", "applicant_phone": "0912345678"}
    return data | {field_name(n): pdf for n in range(1, len(documents) + 1)}
