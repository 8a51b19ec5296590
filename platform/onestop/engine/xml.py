"""The one hardened XML parser every model byte goes through before SpiffWorkflow sees it.

No DTD (a DOCTYPE is refused outright), no entity expansion, no network, no huge trees, and a
size cap. SpiffWorkflow only ever receives the lxml tree built here (`add_bpmn_xml`).
"""

import re

from lxml import etree

from .problems import ModelError, Problem

DEFAULT_MAX_BYTES = 5 * 1024 * 1024

_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_DTD_MARKERS = (b"<!doctype", b"<!entity")


def _parser():
    # A fresh parser per call: lxml parsers are not safe to share between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        collect_ids=False,
    )


def parse_xml(content: bytes, filename: str, max_bytes: int = DEFAULT_MAX_BYTES):
    """Parse untrusted XML bytes into an lxml element, or raise ModelError in plain words."""
    if len(content) > max_bytes:
        raise ModelError([Problem(None, f"{filename} is larger than {max_bytes // 1024} KiB", filename)])
    # A DTD can only stand before the root element; look there first so that a hostile
    # file is refused before any parser touches it.
    first = _FIRST_ELEMENT.search(content)
    prolog = (content[: first.start()] if first else content[:65536]).lower()
    if any(marker in prolog for marker in _DTD_MARKERS):
        raise ModelError([Problem(None, f"{filename} contains a DOCTYPE declaration; DTDs and entities are not allowed", filename)])
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as exc:
        line = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        message = exc.msg if hasattr(exc, "msg") and exc.msg else str(exc)
        raise ModelError([Problem(None, f"{filename} is not well-formed XML{line}: {message}", filename)]) from None
    except ValueError as exc:
        raise ModelError([Problem(None, f"{filename} could not be read as XML: {exc}", filename)]) from None
    if root.getroottree().docinfo.doctype:
        raise ModelError([Problem(None, f"{filename} contains a DOCTYPE declaration; DTDs and entities are not allowed", filename)])
    return root
