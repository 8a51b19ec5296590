"""A dossier's national status as a state machine: the statuses, the moves allowed between them,
and the one function every service calls to move a dossier (`transition`).

Each status carries its code and name in the national catalogue of dossier statuses (trạng thái
hồ sơ, 1-10: the list the provincial one-stop systems exchange with the national public service
portal), the label officers read (desk, back office) and, where the status itself is what a citizen
waits on, the label the portal shows (otherwise the portal follows the work: "being processed").
Labels are English message ids marked for extraction here and translated where they are shown
(`web.i18n`); the Vietnamese of each is in translations/vi/LC_MESSAGES/messages.po.

Adding a status is this module plus its translation: a member of `Status` (code, national name,
labels), its row in `TRANSITIONS` and the other rows that lead to it, and the Vietnamese of its
labels. The services, the statistics, the pages, the API schema and the tests read the rest from
here; tests/test_status.py fails if a status lacks a national code, a label or its Vietnamese.

This module is pure (no Flask, no peewee) so that every layer may import it.
"""

from enum import StrEnum


def N_(message: str) -> str:
    """Mark a message for extraction (Babel's default keyword); it is translated where it is shown."""
    return message


class Status(StrEnum):
    """The national status of a dossier; its value is what the database and the API hold."""

    def __new__(cls, value, national_code, national_name, label, citizen_label=None, tone=""):
        member = str.__new__(cls, value)
        member._value_ = value
        member.national_code = national_code  # the code in the national catalogue
        member.national_name = national_name  # its name there (Vietnamese, as the catalogue spells it)
        member.label = label  # what officers read (an English message id)
        member.citizen_label = citizen_label  # what the portal says, if the status is what the citizen waits on
        member.tone = tone  # how the portal marks it: "", "warn" or "bad"
        return member

    NEW = "new", 1, "Mới đăng ký", N_("new")  # submitted online, not yet received at the desk
    RECEIVED = "received", 2, "Được tiếp nhận", N_("received")
    NOT_ACCEPTED = ("not_accepted", 3, "Không được tiếp nhận", N_("not accepted"),
                    N_("Not accepted"), "bad")  # refused at reception, with the reason
    PROCESSING = "processing", 4, "Đang xử lý", N_("processing")
    SUPPLEMENT_REQUESTED = ("supplement_requested", 5, "Yêu cầu bổ sung giấy tờ", N_("supplement requested"),
                            N_("Waiting for your documents"), "warn")  # the clock stops
    AWAITING_FINANCIAL_OBLIGATION = ("awaiting_financial_obligation", 6, "Yêu cầu thực hiện nghĩa vụ tài chính",
                                     N_("awaiting payment"), N_("Waiting for you to pay the taxes and fees"),
                                     "warn")  # taxes and fees the tax office set; the clock stops
    WITHDRAWN = ("withdrawn", 7, "Công dân yêu cầu rút hồ sơ", N_("withdrawn"),
                 N_("Withdrawn"))  # the applicant took the dossier back
    STOPPED = ("stopped", 8, "Dừng xử lý", N_("stopped"),
               N_("Stopped"), "bad")  # the authority stopped processing it, with the reason
    RESOLVED = "resolved", 9, "Đã xử lý xong", N_("resolved")  # the result is ready to hand over
    RETURNED = "returned", 10, "Đã trả kết quả", N_("returned")  # the result has been handed over


ENDED = (Status.NOT_ACCEPTED, Status.WITHDRAWN, Status.STOPPED)  # ended without a result: no way out
WITH_RESULT = (Status.RESOLVED, Status.RETURNED)  # the result is ready (and may be rated)
INITIAL = (Status.NEW, Status.RECEIVED)  # a dossier submitted online starts new, any other received

# Where a dossier may go from each status (staying where it is is always allowed). The work moves
# it: the first step done (processing), the return step offered (resolved) or done, or the process
# ended (returned or resolved); a payment step offered or done (awaiting / processing). The
# officers move it: a supplement asked for and received, a refusal at reception, a stop; the
# applicant withdraws. A model may offer its return step again after the result was handed over
# (a corrected result), hence returned -> resolved.
_ENDINGS = {Status.WITHDRAWN, Status.STOPPED}
_RESULT = {Status.RESOLVED, Status.RETURNED}
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.RECEIVED, Status.PROCESSING, Status.SUPPLEMENT_REQUESTED,
                           Status.AWAITING_FINANCIAL_OBLIGATION, Status.NOT_ACCEPTED} | _RESULT | _ENDINGS),
    Status.RECEIVED: frozenset({Status.PROCESSING, Status.SUPPLEMENT_REQUESTED, Status.AWAITING_FINANCIAL_OBLIGATION,
                                Status.NOT_ACCEPTED} | _RESULT | _ENDINGS),
    Status.PROCESSING: frozenset({Status.SUPPLEMENT_REQUESTED, Status.AWAITING_FINANCIAL_OBLIGATION}
                                 | _RESULT | _ENDINGS),
    Status.SUPPLEMENT_REQUESTED: frozenset({Status.PROCESSING, Status.NOT_ACCEPTED} | _RESULT | _ENDINGS),
    # Back to new or received once a fee asked at submission is paid (services.payments).
    Status.AWAITING_FINANCIAL_OBLIGATION: frozenset({Status.NEW, Status.RECEIVED, Status.PROCESSING, Status.NOT_ACCEPTED}
                                                    | _RESULT | _ENDINGS),
    Status.RESOLVED: frozenset({Status.RETURNED, Status.SUPPLEMENT_REQUESTED, Status.AWAITING_FINANCIAL_OBLIGATION}
                               | _ENDINGS),
    Status.RETURNED: frozenset({Status.RESOLVED, Status.SUPPLEMENT_REQUESTED, Status.AWAITING_FINANCIAL_OBLIGATION}
                               | _ENDINGS),
    Status.NOT_ACCEPTED: frozenset(),
    Status.WITHDRAWN: frozenset(),
    Status.STOPPED: frozenset(),
}


# What to do instead, said with the refusal of a move to these statuses.
_INSTEAD = {Status.NOT_ACCEPTED: "a dossier is refused at reception only: stop it instead"}


class IllegalTransition(ValueError):
    """A move the state machine does not allow; the services answer it as a conflict (409)."""

    def __init__(self, current: Status, target: Status):
        self.current, self.target = current, target
        if current in ENDED:
            message = f"it is {current.label}: it has ended and cannot become {target.label}"
        else:
            message = f"it is {current.label} and cannot become {target.label}"
            if target in _INSTEAD:
                message += f"; {_INSTEAD[target]}"
        super().__init__(message)


def transition(current, target) -> Status:
    """The status `target` if a dossier may go there from `current` (or stays where it is); else
    IllegalTransition. Every change of a dossier's status goes through here. Unknown values are a
    ValueError: they are a programming error, not a user's."""
    current, target = Status(current), Status(target)
    if target != current and target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)
    return target
