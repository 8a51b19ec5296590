"""The hall screen: the last calls of a centre today (number -> counter), newest first. A screen
polls its centre's board version (one indexed read) and fetches the calls only when it moved."""

from ...models import QueueBoard, QueueTicket, ServiceCounter, local_today
from ...workdays import to_local
from .. import runtime
from .setup import public_centre

LAST_CALLS = 8
# A centre's code never changes (services.centres): a screen's poll finds its centre without a query.
_centre_ids = runtime.SharedCache("queue_centres", seconds=300.0)


def board_version(centre_id) -> int:
    """The centre's board version: it moves with every call, recall and skip."""
    return QueueBoard.select(QueueBoard.version).where(QueueBoard.centre == centre_id).scalar() or 0


def version_of(centre_code) -> int:
    """The board version of the centre with that public code: a hall screen's or a phone's poll."""
    return board_version(_centre_ids.get(str(centre_code)[:64], lambda: public_centre(centre_code).id))


def screen(centre_code) -> dict:
    """{centre, version, calls: [{id, label, counter, calls, at}]}: the last LAST_CALLS calls of today."""
    centre = public_centre(centre_code)
    version, today = board_version(centre.id), local_today()
    rows = (QueueTicket.select(QueueTicket.id, QueueTicket.label, QueueTicket.calls, QueueTicket.called_at,
                               ServiceCounter.number)
            .join(ServiceCounter, on=(QueueTicket.counter == ServiceCounter.id))
            .where((QueueTicket.centre == centre.id) & (QueueTicket.day == today)
                   & QueueTicket.called_at.is_null(False) & QueueTicket.state.in_(("called", "serving", "done")))
            .order_by(QueueTicket.called_at.desc()).limit(LAST_CALLS).tuples())
    calls = [{"id": i, "label": label, "counter": number, "calls": n, "at": to_local(at).strftime("%H:%M")}
             for i, label, n, at, number in rows]
    return {"centre": {"code": centre.code, "name": centre.name}, "version": version, "calls": calls}
