"""Upload each model of the field corpus to a running onestop through /api/v1 and say what happened.

One model's outcome is one of:

- ``runs``: the upload answered 201/200 and a dossier started (201) and is active or completed, and
  each of its first ready tasks (at most five) is shown with its form (GET /tasks/{id}, 200);
- ``stops in error: <reason class>``: the dossier started but went straight into its error state
  (an incident an administrator sees), with a reason free of exception text;
- ``refused: <reason class>``: the upload (or the start of the dossier) answered 4xx with a message
  that names the element (an element id or name of the model) or the file at fault;
- ``defect: <what>``: what must never happen: a 5xx, no answer within the time limit, exception text
  (a Python exception's name, "Traceback", "object has no attribute" ...) in a response, a refusal
  that names nothing of the model, a dossier that starts in error without a reason, or a ready task
  that cannot be shown.

The reason class is a short name for the kind of refusal (``service task``, ``script language``,
``not executable`` ...) found from the message by the ordered rules of REASONS below, so the
manifest's expected outcomes stay stable when only the wording of a message changes.
"""

import json
import mimetypes
import re
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "MANIFEST.json"
TIMEOUT = 60  # seconds a single request may take before the model counts as hanging the server

# Text that only an exception leaking out of the code would put in a response.
EXCEPTION_TEXT = re.compile(
    r"Traceback|\b(?:[A-Z][A-Za-z]*Error|[A-Z][A-Za-z]*Exception|KeyError|StopIteration)\b(?=:|\(|\s*$)"
    r"|object has no attribute|is not JSON serializable|object is not (?:subscriptable|callable|iterable)"
    r"|unsupported operand type|takes \d+ positional argument|got an unexpected keyword argument"
    r"|NoneType|<class '|File \"/|<[^<>]* at 0x[0-9a-f]+>")  # the last: a Python object's repr

# (reason class, pattern over the lower-cased message), first match wins; "other" when none does.
REASONS = [
    ("no process", r"no process to run"),
    ("not executable", r"no executable process|is not executable"),
    ("xml not readable or not allowed", r"not well-formed|doctype|not a readable|cannot be read|not xml"),
    ("listener", r"\blistener"),
    ("script language", r"only python scripts|written in (?:javascript|groovy|juel|ruby|python ?2|[a-z]+script)"
                        r"|script ?format|not python"),
    ("service task", r"service ?task"),
    ("data store", r"data ?store"),
    ("timer", r"\btimer\b|time specification|\bcron\b"),
    ("form", r"\bform\b|formdata|form ?field|\bui key\b|ui:|uischema"),
    ("script sandbox", r"is not allowed in scripts"),
    ("script syntax", r"syntax error"),
    ("script language", r"language"),
    ("undefined name in a script or expression", r"name '[^']*' is not defined"),
    ("expression", r"expression"),
    ("decision (dmn)", r"\bdmn\b|decision|businessruletask|business rule"),
    ("called process missing", r"was not found\. did you mean|calledelement|call ?activit"),
    ("duplicate process id", r"duplicate process id"),
    ("process to start not found", r"no process or collaboration with id"),
    ("message", r"message|correlation"),
    ("multi-instance or loop", r"multi-?instance|\bloop|cardinality"),
    ("event structure", r"start event|end event|subworkflow|cancel events|catch event|boundary"),
    ("gateway or sequence flow", r"sequence ?flow|gateway|has no target|has no source"),
    ("data object", r"data(input|output)association|data ?object"),
    ("script", r"\bscript"),
    ("procedure code", r"procedure code"),
    ("size limit", r"larger than|too many"),
]

# An error of the model's own Python script (shown to whoever runs the model, with its line, as
# SpiffArena shows it) names a Python exception on purpose: "TypeError: ... (line 2)". Only that form,
# and only in a dossier's error or a BPMN unit test's reason, is the model's text and not a leak.
SCRIPT_DIAGNOSTIC = re.compile(r"^(?:the model failed at [^:]+: )?[A-Z][A-Za-z]*(?:Error|Exception): .*\(line \d+\)$")


@dataclass
class Result:
    """What one model did: its outcome (see the module's docstring) and the message behind it."""

    outcome: str
    detail: str = ""
    problems: list = field(default_factory=list)  # defects found (why the outcome is a defect)

    def __post_init__(self):
        # The same run twice must give the same text: no memory address, no dossier code.
        self.detail = re.sub(r" at 0x[0-9a-f]+", " at 0x...", self.detail)
        self.detail = re.sub(r"\b\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}-\d{6}-\d{4}\b", "<dossier>", self.detail)[:500]

    @property
    def defect(self) -> bool:
        return self.outcome.startswith("defect")


# "scriptTask Activity_1: ..." — the element a detail is about, before what is wrong with it.
ELEMENT_PREFIX = re.compile(r"(^|\| )[a-z][A-Za-z]*(?:Task|Event|Gateway|Activity|Process|process|Flow) [^:|]+: ")


def reason_class(text: str) -> str:
    """The kind of refusal: that of the first problem listed whose kind is known (problems come in
    the model's order), from what it says is wrong, else from the element it is about."""
    for part in [*text.split(" | "), text]:
        for candidate in (ELEMENT_PREFIX.sub(r"\1", part), part):
            lower = candidate.lower()
            for name, pattern in REASONS:
                if re.search(pattern.lower(), lower):
                    return name
    return "other"


def model_files(entry) -> list:
    return [(Path(f["file"]).name, (HERE / f["file"]).read_bytes()) for f in entry["files"]]


def names_in(files) -> set:
    """Every element id and name, every form field, and every file name of the model: what a
    refusal may name to say where the problem is."""
    found = {name for name, _ in files}
    for name, blob in files:
        lower = name.lower()
        if lower.endswith(".json"):
            try:
                found |= _keys(json.loads(blob))
            except ValueError:
                pass
            continue
        if not lower.endswith((".bpmn", ".bpmn20.xml", ".bpmn2", ".dmn")):
            continue
        try:
            root = etree.fromstring(blob, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))
        except etree.XMLSyntaxError:
            continue
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            for attribute in ("id", "name"):
                value = (element.get(attribute) or "").strip()
                if len(value) >= 2:
                    found.add(value)
    return found


def _keys(value) -> set:
    if isinstance(value, dict):
        return {k for k in value if isinstance(k, str) and len(k) >= 2}.union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value))
    return set()


def call(base, token, method, path, body=None, files=None, timeout=TIMEOUT):
    """(status, parsed JSON or {"raw": text}); status 0 when the server did not answer in time."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "Accept-Language": "en"}
    data = None
    if files is not None:
        boundary = uuid.uuid4().hex
        parts = []
        for name, blob in files:
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                         f"Content-Type: {kind}\r\n\r\n".encode() + blob + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        data = b"".join(parts)
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + "/api/v1" + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        return 0, {"raw": f"no answer: {exc}"}
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, {"raw": raw[:500].decode("utf-8", "replace")}


def messages(body, where=True) -> str:
    """The refusal's message and every detail's message (with its element, field and file unless
    `where` is false), as one line."""
    if not isinstance(body, dict):
        return str(body)
    parts = [str(body.get("message") or body.get("raw") or "")]
    for detail in body.get("details") or []:
        if isinstance(detail, dict):
            at = " ".join(str(detail[k]) for k in ("element_id", "field", "file") if detail.get(k))
            parts.append(f"{detail.get('message', '')}" + (f" [{at}]" if at and where else ""))
        else:
            parts.append(str(detail))
    return " | ".join(p for p in parts if p)


def names_something(body, known) -> bool:
    """Whether the refusal names an element id or name, a form field, or a file, of the model."""
    for detail in (body.get("details") if isinstance(body, dict) else None) or []:
        if isinstance(detail, dict) and any(detail.get(k) in known for k in ("element_id", "field", "file")):
            return True
    text = messages(body, where=False)
    return any(name in text for name in known)


def _leak(step, status, body) -> str | None:
    """The defect's text if the response holds exception text (script diagnostics aside)."""
    text = json.dumps(_without_script_diagnostics(body), ensure_ascii=False)
    found = EXCEPTION_TEXT.search(text)
    if found:
        around = text[max(0, found.start() - 150):found.end() + 150]
        return f"defect: exception text at {step} ({status}): {found.group(0)!r} in ...{around}..."
    return None


def _without_script_diagnostics(body):
    if not isinstance(body, dict):
        return body
    body = dict(body)
    error = body.get("error")
    if isinstance(error, dict) and SCRIPT_DIAGNOSTIC.match(str(error.get("message", ""))):
        body["error"] = dict(error, message="(the script's own error)")
    tests = body.get("tests")
    if isinstance(tests, dict) and isinstance(tests.get("cases"), list):
        cases = [dict(c, reason="(the script's own error)") if isinstance(c, dict)
                 and SCRIPT_DIAGNOSTIC.match(str(c.get("reason", ""))) else c for c in tests["cases"]]
        body["tests"] = dict(tests, cases=cases)
    return body


def _refusal(step, status, body, known) -> Result:
    if status == 0:
        return Result(f"defect: no answer at {step}", messages(body), ["no answer"])
    if status >= 500:
        return Result(f"defect: {status} at {step}", messages(body)[:500], [f"{status}"])
    leak = _leak(step, status, body)
    if leak:
        return Result(leak.split(" (")[0], messages(body)[:500], [leak])
    text = messages(body)
    if not names_something(body, known):
        return Result(f"defect: refusal at {step} names nothing of the model", text[:500], ["names nothing"])
    where = "" if step == "upload" else " at start"
    return Result(f"refused{where}: {reason_class(messages(body, where=False))}", text[:500])


def run_model(base, token, entry) -> Result:
    """Upload the model, start a dossier of it, and classify what happened."""
    files = model_files(entry)
    known = names_in(files)
    status, body = call(base, token, "POST", "/procedures", files=files)
    if status not in (200, 201):
        return _refusal("upload", status, body, known)
    leak = _leak("upload", status, body)
    if leak:
        return Result(leak.split(" (")[0], leak.split(" in ...", 1)[0] + ": " + _case_reasons(body), [leak])
    status, dossier = call(base, token, "POST", "/dossiers", body={"procedure": body["code"], "data": {}})
    if status != 201:
        return _refusal("start", status, dossier, known)
    leak = _leak("start", status, dossier)
    if leak:
        return Result(leak.split(" (")[0], _error_text(dossier) or leak, [leak])
    if dossier.get("state") == "error":
        status, full = call(base, token, "GET", f"/dossiers/{dossier['code']}")
        reason = ""
        if status == 200 and isinstance(full, dict):
            leak = _leak("dossier", status, full)
            if leak:
                return Result(leak.split(" (")[0], _error_text(full) or leak, [leak])
            error = full.get("error") or {}
            reason = str(error.get("message") if isinstance(error, dict) else error)
        if not reason.strip():
            return Result("defect: dossier in error without a reason", json.dumps(full)[:500], ["no reason"])
        kind = "script run-time error" if SCRIPT_DIAGNOSTIC.match(reason) else reason_class(reason)
        return Result(f"stops in error: {kind}", reason[:500])
    for task in (dossier.get("tasks") or [])[:5]:  # what an officer opens next: each ready task and its form
        status, shown = call(base, token, "GET", f"/tasks/{task.get('id')}")
        if status == 0 or status >= 500:
            return Result(f"defect: {status or 'no answer'} at task", f"{task.get('element_id')}: {messages(shown)}",
                          [f"{status}"])
        leak = _leak("task", status, shown)
        if leak:
            return Result(leak.split(" (")[0], leak.split(" in ...", 1)[0], [leak])
        if status != 200:
            return Result(f"defect: task not shown ({status})", f"{task.get('element_id')}: {messages(shown)}",
                          [f"{status}"])
    return Result("runs", f"dossier {dossier.get('state')}")


def _error_text(dossier) -> str:
    error = dossier.get("error") if isinstance(dossier, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return f"{error['message']} [{error.get('element_id')}]"
    return ""


def _case_reasons(body) -> str:
    cases = (body.get("tests") or {}).get("cases") or [] if isinstance(body, dict) else []
    return " | ".join(str(c.get("reason")) for c in cases if isinstance(c, dict) and c.get("reason"))


def load_manifest() -> dict:
    return json.loads(MANIFEST.read_text())


def _rank(outcome) -> int:
    """Defects rank lowest; a dossier stopping in error (a surprise at run time) next; a refusal in
    plain words (at upload or at the start) above it; a model that runs highest."""
    if not outcome or outcome.startswith("defect"):
        return 0
    if outcome.startswith("stops in error"):
        return 1
    return 3 if outcome == "runs" else 2


def verdict(entry, result: Result, known_defects: dict) -> str | None:
    """Why today's result breaks the manifest, or None when it holds: the recorded outcome, or a
    better one (a known defect now refused in plain words, a run-time error now refused at upload,
    a refusal that now runs), is fine and
    `tally --update` records it; a defect not listed in `known_defects`, a worse outcome, or another
    refusal reason than the recorded one is not."""
    recorded = entry.get("outcome")
    if result.defect and entry["id"] not in known_defects:
        return f"a defect that is not a known one: {result.outcome}: {result.detail}"
    if result.outcome == recorded:
        return None
    if _rank(result.outcome) > _rank(recorded):
        return None
    return f"recorded {recorded!r}, now {result.outcome!r}: {result.detail}"
