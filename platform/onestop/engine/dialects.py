"""What of Camunda 7's execution extensions runs here, and plain words for what does not.

onestop runs Python: scripts in the sandbox, expressions in Python or in JUEL it translates
(engine.translate). Camunda models may carry code for its Java engine instead:

- a script task, an input/output mapping or a listener script in JavaScript, Groovy, JRuby or
  another language (`scriptFormat`), or loaded from a file (`camunda:resource`). A scriptFormat
  that names no known language (SpiffWorkflow ignores it) runs as Python if the script is Python,
  with a warning;
- a condition written as a script (`conditionExpression language="javascript"`);
- execution and task listeners (`camunda:executionListener`, `camunda:taskListener`) calling a
  Java class, an expression, a delegate expression or a script. SpiffWorkflow's Camunda parser
  ignores them; ignoring them here would run the model without what they do (set variables,
  notify, call systems), so a model with listeners is refused, naming each one;
- input/output mappings (`camunda:inputOutput`) outside service tasks are not applied: a warning
  says so (the element sees the dossier's data as they are).

A multi-instance `camunda:collection="${items}"` is read as the data name `items`; a collection
computed by an expression is refused.

`refusals(node)`, `rewrites(node)` and `warnings(node)` look at one XML element and return plain sentences naming
the element, the language or what is called, and what to write instead.
"""

from __future__ import annotations

import re

from lxml import etree

from .sandbox_worker import check_script

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
_C = f"{{{CAMUNDA_NS}}}"

PYTHON = {"python", "python3", "py", "text/x-python", "application/x-python", "text/python"}
_LANGUAGES = {
    "javascript": "JavaScript", "js": "JavaScript", "ecmascript": "JavaScript", "nashorn": "JavaScript",
    "graal.js": "JavaScript", "text/javascript": "JavaScript", "application/javascript": "JavaScript",
    "groovy": "Groovy", "jython": "Jython (Python 2 on Camunda's Java engine)", "juel": "JUEL", "feel": "FEEL",
    "jruby": "Ruby", "ruby": "Ruby", "kotlin": "Kotlin", "xslt": "XSLT", "velocity": "Velocity",
    "freemarker": "FreeMarker", "mvel": "MVEL", "beanshell": "BeanShell", "php": "PHP", "lua": "Lua",
    "scala": "Scala", "clojure": "Clojure", "perl": "Perl", "bash": "shell", "sh": "shell", "shell": "shell",
    "powershell": "PowerShell",
}
# A name or list shown in a message is cut to this length: models are untrusted text.
_SHOWN = 80
# Service tasks' mappings are the servicetasks area's: they become a call's parameters.
_MAPPED_ELSEWHERE = {"serviceTask", "sendTask"}


def is_python(language: str | None) -> bool:
    """Whether a scriptFormat or language attribute (absent: the dialect's default) means Python."""
    return not language or language.strip().lower() in PYTHON


def is_foreign(language: str | None) -> bool:
    """Whether a scriptFormat names a language known not to be Python (JavaScript, Groovy...)."""
    return bool(language) and language.strip().lower() in _LANGUAGES


def language_name(language: str) -> str:
    """A language as people name it (JavaScript for `javascript`), else as the model writes it."""
    return _LANGUAGES.get(language.strip().lower(), repr(_cut(language.strip())))


def _cut(text: str, limit: int = _SHOWN) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _owner(node):
    """The nearest ancestor (or self) with an id: the BPMN element a problem belongs to."""
    while node is not None and not node.get("id"):
        node = node.getparent()
    return node


def _describe(node) -> str:
    owner = _owner(node)
    return f"{_local(owner)} {owner.get('id')}" if owner is not None else "an element"


_REWRITE = ("rewrite it in Python: the dossier's data are the script's variables "
            "(fee = 10 instead of execution.setVariable('fee', 10))")


def refusals(node) -> list[str]:
    """Why this element cannot run here (plain sentences), or [] when nothing of it is refused."""
    if not isinstance(node.tag, str):
        return []
    namespace, tag = etree.QName(node).namespace, _local(node)
    if namespace == BPMN_NS and tag == "scriptTask":
        return _script_task(node)
    if namespace == BPMN_NS and tag == "script":
        language = (node.getparent().get("scriptFormat") if node.getparent() is not None else None) or ""
        if is_foreign(language):
            return [f"{_describe(node)}: its script is written in {language_name(language)}; only Python scripts "
                    f"run here; {_REWRITE}"]
        problem = None if is_python(language) else check_script(node.text or "")
        if problem:  # a format onestop does not know, and no Python either
            return [f"{_describe(node)}: its script is written in {language_name(language)}, not in Python; only "
                    f"Python scripts run here; {_REWRITE}"]
    if namespace == BPMN_NS and tag == "conditionExpression":
        return _condition(node)
    if namespace == CAMUNDA_NS and tag in ("executionListener", "taskListener"):
        return [_listener(node, tag)]
    if namespace == BPMN_NS and tag == "multiInstanceLoopCharacteristics" and node.get(f"{_C}collection"):
        collection = node.get(f"{_C}collection")
        if _collection_name(collection) is None:
            return [f"{_describe(node)}: its multi-instance collection {_cut(collection)} must name a list in the "
                    "dossier's data (applicants, or ${applicants}); an expression calling Camunda's beans does not "
                    "run here"]
    if namespace == CAMUNDA_NS and tag == "script" and _local(node.getparent()) in ("inputParameter",
                                                                                     "outputParameter"):
        return [_mapping_script(node)]
    return []


def warnings(node) -> list[str]:
    """What of this element is not applied although the model still runs (plain sentences)."""
    if not isinstance(node.tag, str):
        return []
    if node.tag == f"{_C}inputOutput":
        owner = _owner(node)
        if owner is not None and _local(owner) not in _MAPPED_ELSEWHERE:
            names = _cut(", ".join(p.get("name") or "" for p in node if isinstance(p.tag, str)))
            return [f"{_describe(node)}: its Camunda input/output mappings ({names}) are not applied here; "
                    "the element sees the dossier's data as they are"]
    if node.tag == f"{{{BPMN_NS}}}script" and node.getparent() is not None:
        language = node.getparent().get("scriptFormat") or ""
        if not is_python(language) and not is_foreign(language):
            return [f"{_describe(node)}: scriptFormat {language_name(language)} is no language onestop knows; the "
                    "script is Python, and runs as Python"]
    return []


_NAME = re.compile(r"^[A-Za-z_]\w*$")
_JUEL_NAME = re.compile(r"^\s*[$#]\{\s*([A-Za-z_]\w*)\s*\}\s*$")


def _collection_name(value: str) -> str | None:
    """The data name a camunda:collection reads (`items` or `${items}`), None if it is anything else."""
    if _NAME.match(value.strip()):
        return value.strip()
    found = _JUEL_NAME.match(value)
    return found.group(1) if found else None


def rewrites(node) -> list[str]:
    """Rewrite what of this element only needs another spelling here, in place; return what was
    read differently (warnings). A multi-instance `camunda:collection="${items}"` names `items`."""
    if isinstance(node.tag, str) and node.tag == f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics":
        collection = node.get(f"{_C}collection")
        name = _collection_name(collection) if collection else None
        if name and name != collection:
            node.set(f"{_C}collection", name)
            return [f"{_describe(node)}: multi-instance collection {_cut(collection)} read as {name}"]
    return []


def _script_task(node) -> list[str]:
    resource = node.get(f"{_C}resource")
    if not resource:
        return []
    language = node.get("scriptFormat") or ""
    written = f" (written in {language_name(language)})" if not is_python(language) else ""
    return [f"{_describe(node)}: its script{written} is loaded from {_cut(resource)}, which onestop cannot read; only "
            "Python scripts written in the model run here: paste the script into the task, in Python"]


def _condition(node) -> list[str]:
    language = node.get("language") or ""
    resource = node.get(f"{_C}resource")
    if resource:
        return [f"{_describe(node)}: its condition is loaded from {_cut(resource)}, which onestop cannot read; write the "
                "condition in the model, in Python (or Camunda's JUEL ${...})"]
    if language and language.strip().lower() not in PYTHON | {"juel", "${}"}:
        return [f"{_describe(node)}: its condition is written in {language_name(language)}; only Python expressions "
                "(or Camunda's JUEL ${...}) run here: write it in Python, such as fee < 10"]
    return []


def _listener(node, tag) -> str:
    kind = "execution listener" if tag == "executionListener" else "task listener"
    event = node.get("event") or ("start" if tag == "executionListener" else "create")
    script = node.find(f"{_C}script")
    if node.get("class"):
        what, advice = f"calls the Java class {node.get('class')}", _OUTSIDE
    elif node.get("expression"):
        what, advice = f"evaluates the expression {node.get('expression')}", _OUTSIDE
    elif node.get("delegateExpression"):
        what, advice = f"calls the delegate expression {node.get('delegateExpression')}", _OUTSIDE
    elif script is not None:
        language = script.get("scriptFormat") or ""
        if is_python(language):
            what, advice = "runs a Python script", ("move the script into a script task before or after it (a "
                                                     "SpiffArena model may keep it as a pre- or post-script)")
        else:
            what, advice = (f"runs a {language_name(language)} script",
                            "do that work in a script task in Python (the dossier's data are its variables)")
    else:
        what, advice = "calls nothing onestop can read", "remove it"
    return (f"{_describe(node)} has a Camunda {kind} on '{_cut(event)}' that {_cut(what, 3 * _SHOWN)}: listeners are not run "
            f"here; {advice}")


_OUTSIDE = ("do that work in a script task (Python) before or after it, or in a service task with an external "
            "topic that an outside worker serves")


def _mapping_script(node) -> str:
    parameter = node.getparent()
    direction = "input" if _local(parameter) == "inputParameter" else "output"
    name = _cut(parameter.get("name") or "")
    language = node.get("scriptFormat") or ""
    if is_python(language):
        return (f"{_describe(node)}: the {direction} mapping '{name}' is a script; mappings written as scripts are not "
                f"run here: set '{name}' in a Python script task instead")
    return (f"{_describe(node)}: the {direction} mapping '{name}' is a {language_name(language)} script; only Python "
            f"scripts run here: set '{name}' in a Python script task instead")
