"""Procedure templates: the patterns Vietnamese procedures share, each a complete model (BPMN with
lanes and diagram, forms, procedure.json with lanes, documents, fee and a deadline with per-step
time allowances) that "new procedure" copies into a draft for the administrator to adjust.

They ship inside the package (onestop/procedure_templates/<name>/) and are never published by
themselves: the bundle loader reads process_models/ only, and a template becomes a procedure only
through a draft the administrator publishes. Their catalogue record is index.json beside them.
"""

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources

from lxml import etree

from ..engine import SourceFile, classify
from ..models import Procedure
from . import drafts
from .errors import Invalid, NotFound, shown

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_ROOT = "procedure_templates"
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_NAME = 1000
# How a template marks a value of procedure.json the administrator must still write.
PLACEHOLDER = "Điều chỉnh:"


@dataclass(frozen=True)
class Template:
    """One template as "new procedure" lists it."""

    name: str  # the folder's name, e.g. "appraise_sign_return"
    title: str  # Vietnamese, what the administrator picks
    summary: str  # Vietnamese, the pattern in a sentence or two
    steps: tuple  # Vietnamese step names, in order, for the listing
    days: float  # the legal time the template starts from (0: decided the same day)


def _folder():
    return resources.files("onestop").joinpath(_ROOT)


def all_templates() -> list[Template]:
    """The templates, in the order "new procedure" offers them."""
    index = json.loads(_folder().joinpath("index.json").read_text(encoding="utf-8"))
    return [Template(t["name"], t["title"], t["summary"], tuple(t["steps"]), t["days"]) for t in index]


def get(name) -> Template:
    template = next((t for t in all_templates() if t.name == name), None)
    if template is None:
        raise NotFound(f"no template named {shown(name)}")
    return template


def files(name) -> list[SourceFile]:
    """The files of one template, as a draft keeps them (sorted by name)."""
    get(name)
    folder = _folder().joinpath(name)
    return sorted((SourceFile(entry.name, entry.read_bytes()) for entry in folder.iterdir()
                   if entry.is_file() and classify(entry.name) != "other"), key=lambda f: f.name)


def placeholders(metadata) -> list[str]:
    """The keys of procedure.json (`key`, `key[i]`, `key[i].name`) whose value is still a template's
    placeholder ("Điều chỉnh: ..."): what the compliance lint warns about before publishing."""
    out = []

    def visit(where, value):
        if isinstance(value, str) and value.strip().startswith(PLACEHOLDER):
            out.append(where)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                visit(f"{where}[{i}]", item)
        elif isinstance(value, dict) and where:  # a document's name and note; not the lanes' or steps' maps
            for key in ("name", "note"):
                visit(f"{where}.{key}", value.get(key))

    for key, value in (metadata or {}).items():
        if key not in ("lanes", "deadline", "applicant"):
            visit(key, value)
    return out


@functools.cache
def diagram(name) -> dict | None:
    """A template's diagram as data (engine.diagram), compiled once per process: the files ship
    with the package and never change while it runs."""
    from .procedures import checked_model

    return checked_model(files(name)).diagram


def check_code(code) -> str:
    """A procedure code as the catalogue takes it (the national code, e.g. 1.001193), stripped;
    Invalid otherwise."""
    code = (code or "").strip() if isinstance(code, str) else ""
    if not code:
        raise Invalid("give the procedure's code")
    if not _CODE.match(code):
        raise Invalid(f"procedure code {shown(code)} may only hold letters, digits and . _ - (at most 128)")
    return code


def check_name(name) -> str:
    name = " ".join(name.split()) if isinstance(name, str) else ""
    if not name:
        raise Invalid("give the procedure's name")
    if len(name) > MAX_NAME:
        raise Invalid(f"the procedure's name is longer than {MAX_NAME} characters")
    return name


def process_id_for(code) -> str:
    """A BPMN process id (an XML NCName) derived from a procedure code: Process_1_001193."""
    return "Process_" + re.sub(r"[^A-Za-z0-9_]", "_", code)


def renamed(template_files, code, name) -> list[SourceFile]:
    """The template's files with the procedure's code and name written in: procedure.json's code
    and name, the BPMN process's id and name (and the participant that refers to it), so that the
    draft compiles to the new code and the modeller shows the procedure's name."""
    code, name = check_code(code), check_name(name)
    out = []
    for f in template_files:
        content = f.content
        if f.name == "procedure.json":
            meta = json.loads(content)
            meta["code"], meta["name"] = code, name
            content = (json.dumps(meta, ensure_ascii=False, indent=2) + "\n").encode()
        elif classify(f.name) == "bpmn":
            content = _renamed_bpmn(content, process_id_for(code), name)
        out.append(SourceFile(f.name, content))
    return out


def _renamed_bpmn(content: bytes, process_id: str, name: str) -> bytes:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=False)
    root = etree.fromstring(content, parser)  # the package's own file, not an upload
    processes = root.findall(f"{{{BPMN_NS}}}process")
    if len(processes) != 1:
        raise ValueError("a template holds exactly one process")
    process = processes[0]
    old_id = process.get("id")
    process.set("id", process_id)
    process.set("name", name)
    for participant in root.iter(f"{{{BPMN_NS}}}participant"):
        if participant.get("processRef") == old_id:
            participant.set("processRef", process_id)
            participant.set("name", name)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8") + b"\n"


def create_draft(actor, name, code, procedure_name) -> int:
    """A new draft of the actor's centre from the template `name`, renamed to `code` and
    `procedure_name`. Refused (Invalid) when the centre already has a procedure with that code:
    changing it starts from its version in force, not from a template."""
    template = get(name)
    code = check_code(code)
    if Procedure.get_or_none((Procedure.centre == actor.centre_id) & (Procedure.code == code)) is not None:
        raise Invalid(f"procedure {shown(code)} already exists at this centre: open its version in force to change it")
    return drafts.create(actor, renamed(files(template.name), code, procedure_name), f"template {template.name}", code=code)
