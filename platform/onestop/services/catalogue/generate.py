"""A complete draft from one catalogue record: the template its pattern implies renamed into the
record's code and name, lanes named after the record's units, procedure.json written from the
record (documents, fees, level, legal basis, result, the time limit with allowances per step that
add up to it), the application form, and a test case per path of the pattern."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from lxml import etree

from ...engine import SourceFile, classify
from .. import deadlines, templates
from . import allowances, cases, pattern, startform

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
APPLICATION = ("application-schema.json", "application-uischema.json")
TODO = templates.PLACEHOLDER
ONLINE = (("toàn trình", "full"), ("một phần", "partial"), ("không có kênh trực tuyến", "none"),
          ("full", "full"), ("partial", "partial"), ("none", "none"))
KEPT = ("name_en", "processing_note", "fee_note", "published_by", "code_note", "level_note", "documents_note",
        "payment")  # the fee paid online (services.payments), when the record states its terms


@dataclass
class Generated:
    """What one record became: its files, the pattern chosen and what was assumed on the way."""

    record: object
    files: list  # SourceFile
    pattern: str
    notes: list


def calendar_days_counted() -> bool:
    """Whether this onestop's deadlines count calendar days (the day type the law's "ngày" is)."""
    try:
        deadlines.plan({"deadline": {"calendar_days": 1}})
    except ValueError:
        return False
    return True


@functools.cache
def levels_listed() -> bool:
    """Whether this onestop's procedure.json takes a list of levels ("level": ["province", "commune"])."""
    schema = json.loads(resources.files("onestop.services").joinpath("catalogue_schema.json").read_text("utf-8"))
    return "array" in json.dumps(schema["properties"].get("level", {}))


def generate(record, calendar_days: bool) -> Generated:
    """The draft's files for `record`; `calendar_days`: whether deadlines may be written in them."""
    notes = list(record.notes)
    chosen = pattern.choose(record, [t.name for t in templates.all_templates()])
    unit = record.unit
    if unit == "calendar_days" and not calendar_days:
        unit = "working_days"
        notes.append("the legal limit is in calendar days, which this onestop does not count yet: written as "
                     "working days")
    out, meta, bpmn = [], None, None
    for f in templates.renamed(templates.files(chosen), record.code, record.name):
        if f.name == "procedure.json":
            meta = json.loads(f.content)
        elif classify(f.name) == "bpmn":
            bpmn = f
        elif f.name not in APPLICATION:
            out.append(f)
    content, renames, task_lanes, start_event = _relane(bpmn.content, record)
    meta = procedure_json(record, meta, renames, chosen, unit, notes)
    schema, ui = startform.application(record.name, record.documents)
    tests = cases.test_file(chosen, start_event, startform.sample(record.documents), task_lanes)
    stem = bpmn.name.rsplit(".", 1)[0]
    out += [SourceFile(bpmn.name, content), _json("procedure.json", meta), _json(APPLICATION[0], schema),
            _json(APPLICATION[1], ui), _json(f"test_{stem}.json", tests)]
    return Generated(record, sorted(out, key=lambda f: f.name), chosen, notes)


def _json(name, value) -> SourceFile:
    return SourceFile(name, (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode())


def _relane(content: bytes, record) -> tuple:
    """The BPMN with its lanes renamed after the record's units: (bytes, {old name: new name},
    {task id: new lane name}, the start event's id)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(content, parser)  # the package's own template
    lanes = list(root.iter(f"{{{BPMN_NS}}}lane"))
    names = pattern.lane_names(record, {lane.get("id"): lane.get("name") for lane in lanes})
    renames, task_lanes = {}, {}
    for lane in lanes:
        renames[lane.get("name")] = names[lane.get("id")]
        lane.set("name", names[lane.get("id")])
        for ref in lane.iter(f"{{{BPMN_NS}}}flowNodeRef"):
            task_lanes[ref.text.strip()] = names[lane.get("id")]
    start = next(root.iter(f"{{{BPMN_NS}}}startEvent")).get("id")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8") + b"\n", renames, task_lanes, start


def procedure_json(record, meta: dict, renames: dict, chosen: str, unit: str, notes: list) -> dict:
    """The template's procedure.json with the record written in."""
    extra = record.extra
    meta.update({
        "level": record.level, "agency": record.agency or f"{TODO} cơ quan thực hiện",
        "processing_days": _number(record.days), "processing_unit": str(extra.get("processing_unit_text") or unit),
        "decided_on_the_spot": chosen == "on_the_spot",
        "documents": [_document(d) for d in record.documents] or [{"name": f"{TODO} thành phần hồ sơ (bản ghi không nêu)"}],
        "fee_vnd": extra["fee_vnd"] if extra.get("fee_vnd") is not None else f"{TODO} phí, lệ phí (bản ghi không nêu)",
        "result": str(extra.get("result") or f"{TODO} kết quả thực hiện")[:1000],
        "lanes": {renames.get(name, name): role for name, role in meta.get("lanes", {}).items()},
    })
    for key in ("field",):
        if extra.get(key):
            meta[key] = str(extra[key])[:200]
    for key in KEPT:
        if extra.get(key):
            meta[key] = str(extra[key])[: 500 if key == "name_en" else 4000]
    for key in ("legal_basis", "source"):
        if isinstance(extra.get(key), list) and extra[key]:
            meta[key] = [str(x)[:1000] for x in extra[key]]
    if len(record.levels) > 1:  # both levels perform it (liên thông)
        meta["level" if levels_listed() else "levels"] = record.levels
    _online(meta, extra.get("online_level"))
    meta["deadline"] = _deadline(meta.get("deadline") or {}, record.days, unit, renames)
    meta["catalogue"] = {"pattern": chosen, "notes": notes}
    return meta


def _number(value):
    return int(value) if float(value).is_integer() else value


def _document(document):
    if isinstance(document, dict):
        return {"name": document["name"]}
    return document


def _online(meta, text):
    meta.pop("online_level", None)
    if not text:
        return
    meta["online_note"] = str(text)[:1000]
    lowered = str(text).lower()
    level = next((value for words, value in ONLINE if words in lowered), None)
    if level and not ("không ghi nhãn" in lowered and level != "none"):
        meta["online_level"] = level


def _deadline(template: dict, days, unit: str, renames: dict) -> dict:
    steps = {renames.get(k, k): v for k, v in (template.get("steps") or {}).items()}
    out = {k: v for k, v in template.items() if k not in ("working_days", "working_hours", "calendar_days", "steps")}
    if days == 0:  # decided the same day: the template's own hours, within the day
        return {"working_days": 0, **out, "steps": steps}
    return {unit: _number(days), **out, "steps": allowances.allowances(steps, days, unit)}
