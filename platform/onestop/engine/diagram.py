"""A model's diagram as plain data, read from its BPMN DI: each drawn element's kind, name and
bounds, each flow's waypoints. The web layer draws it as SVG; nothing here renders or fetches."""

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
WAYPOINT_NS = "http://www.omg.org/spec/DD/20100524/DI"
MAX_SHAPES = 2000


def _kind(tag: str) -> str:
    if tag.endswith("Task") or tag in ("task", "callActivity"):
        return "task"
    if tag.endswith("Event"):
        return "event"
    if tag.endswith("Gateway"):
        return "gateway"
    if tag in ("subProcess", "transaction", "adHocSubProcess"):
        return "subprocess"
    if tag == "lane":
        return "lane"
    if tag == "participant":
        return "pool"
    return "other"


def _number(value) -> float:
    try:
        return round(float(value), 1)
    except (TypeError, ValueError):
        return 0.0


def extract(roots) -> dict | None:
    """{"shapes": [...], "edges": [...], "width", "height"} from the BPMN roots' first diagram, or None."""
    elements = {}
    for root in roots:
        for node in root.iter():
            if isinstance(node.tag, str) and node.get("id") and etree.QName(node).namespace == BPMN_NS:
                elements[node.get("id")] = node
    for root in roots:
        plane = root.find(f".//{{{DI_NS}}}BPMNPlane")
        if plane is None:
            continue
        shapes, edges = [], []
        for shape in plane.iter(f"{{{DI_NS}}}BPMNShape"):
            element = elements.get(shape.get("bpmnElement"))
            bounds = shape.find(f"{{{DC_NS}}}Bounds")
            if element is None or bounds is None or len(shapes) >= MAX_SHAPES:
                continue
            tag = etree.QName(element).localname
            shapes.append({"id": element.get("id"), "kind": _kind(tag), "tag": tag, "name": element.get("name") or "",
                           "x": _number(bounds.get("x")), "y": _number(bounds.get("y")),
                           "w": _number(bounds.get("width")), "h": _number(bounds.get("height"))})
        for edge in plane.iter(f"{{{DI_NS}}}BPMNEdge"):
            points = [[_number(p.get("x")), _number(p.get("y"))] for p in edge.iter(f"{{{WAYPOINT_NS}}}waypoint")]
            if len(points) >= 2 and len(edges) < MAX_SHAPES:
                edges.append({"id": edge.get("bpmnElement") or "", "points": points})
        if not shapes:
            continue
        xs = [s["x"] + s["w"] for s in shapes] + [p[0] for e in edges for p in e["points"]]
        ys = [s["y"] + s["h"] for s in shapes] + [p[1] for e in edges for p in e["points"]]
        left = min([s["x"] for s in shapes] + [p[0] for e in edges for p in e["points"]])
        top = min([s["y"] for s in shapes] + [p[1] for e in edges for p in e["points"]])
        return {"shapes": shapes, "edges": edges, "left": left, "top": top, "width": max(xs) - left,
                "height": max(ys) - top}
    return None
