"""Notifications to applicants: an outbox row is written in the same transaction as the event
(received, supplement requested, result ready, apology), and the worker sends it afterwards through
the configured senders (the log by default; SMTP; an HTTP SMS gateway). A message is claimed before
it is sent, so two workers never send it twice; a failed send is retried with growing pauses; one
cut short in the middle is not resent (a duplicate is worse than a gap) and is marked failed.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from .. import sql
from ..models import Notification, utcnow
from ..workdays import to_local
from . import runtime

log = logging.getLogger("onestop.notify")
MAX_ATTEMPTS = 8
STUCK = timedelta(minutes=10)

MESSAGES = {
    "received": ("Hồ sơ {code} đã được tiếp nhận",
                 "Hồ sơ {code} ({procedure}) đã được tiếp nhận lúc {received}.{due} Theo dõi hồ sơ tại Cổng dịch vụ "
                 "công với mã hồ sơ và mã tra cứu in trên giấy tiếp nhận."),
    "supplement_requested": ("Hồ sơ {code} cần bổ sung",
                             "Hồ sơ {code} cần bổ sung: {reason}. Thời hạn giải quyết tạm dừng cho đến khi nhận được "
                             "giấy tờ bổ sung."),
    "resolved": ("Hồ sơ {code} đã có kết quả", "Hồ sơ {code} ({procedure}) đã có kết quả. Mời ông/bà nhận kết quả."),
    "apology": ("Xin lỗi về việc chậm trả kết quả hồ sơ {code}",
                "Hồ sơ {code} sẽ trả kết quả chậm hơn hẹn. Lý do: {reason}. Ngày hẹn mới: {due_date}. "
                "Trung tâm thành thật xin lỗi ông/bà."),
    "handed_over": ("Hồ sơ {code} được chuyển đến {reason}",
                    "Do sáp nhập đơn vị hành chính, hồ sơ {code} ({procedure}) được chuyển đến {reason} tiếp tục "
                    "giải quyết. Mã hồ sơ, mã tra cứu và ngày hẹn trả kết quả không thay đổi."),
}
OFFICER_MESSAGES = {
    "decision_asked": ("Hồ sơ {code} chờ lãnh đạo quyết định ngay",
                       "Hồ sơ {code} ({procedure}) giải quyết ngay tại quầy chờ ông/bà: {reason}. Mở trang "
                       "«Chờ phê duyệt» để quyết định; người dân đang chờ tại quầy."),
}


def queue_officers(dossier, event: str, officers, procedure_name: str = "", reason: str = ""):
    """Write the outbox rows telling officers of an event (a leader asked for a decision on the
    spot); call inside the event's transaction. An officer is reached by email when their user name
    is an email address; the others see it on their pending-approvals page."""
    subject, body = OFFICER_MESSAGES[event]
    values = {"code": dossier.code, "procedure": procedure_name or "", "reason": reason}
    for officer in officers:
        if "@" in officer.username:
            Notification.create(centre=dossier.centre_id, dossier=dossier.id, event=event, channel="email",
                                recipient=officer.username[:255], subject=subject.format(**values)[:255],
                                body=body.format(**values))


def queue(dossier, event: str, procedure_name: str = "", reason: str = ""):
    """Write the outbox rows telling the applicant of an event; call inside the event's transaction."""
    applicant = dossier.applicant or {}
    subject, body = MESSAGES[event]
    due_local = to_local(dossier.due_at) if dossier.due_at else None
    values = {"code": dossier.code, "procedure": procedure_name or "", "reason": reason,
              "received": f"{to_local(dossier.received_at or dossier.created_at):%H:%M %d/%m/%Y}",
              "due": f" Ngày hẹn trả kết quả: {due_local:%H:%M %d/%m/%Y}." if due_local else "",
              "due_date": f"{due_local:%d/%m/%Y}" if due_local else ""}
    recipients = []
    if applicant.get("email"):
        recipients.append(("email", applicant["email"]))
    if applicant.get("phone"):
        recipients.append(("sms", applicant["phone"]))
    now = utcnow()
    # One statement that reads nothing back (the rows' ids are not needed): on PostgreSQL it goes in the
    # pipeline of a new dossier's last writes, while the agency's code counter is held (services.codes).
    sql.insert_rows("notification", _QUEUED, [
        (dossier.centre_id, dossier.id, event, channel, str(recipient)[:255], subject.format(**values)[:255],
         body.format(**values), Notification.status.default, Notification.attempts.default, now, now)
        for channel, recipient in recipients])


_QUEUED = ("centre_id", "dossier_id", "event", "channel", "recipient", "subject", "body", "status", "attempts",
           "next_attempt_at", "created_at")


class LogSender:
    """Writes the message to the log: the embedded default, and what a test machine uses."""

    def send(self, notification):
        log.info("notify %s %s: %s", notification.channel, notification.recipient, notification.subject)


class SmtpSender:
    """Email through an SMTP server: smtp://user:password@host:587 (STARTTLS) or smtps://...:465."""

    def __init__(self, url: str, sender: str):
        self.url, self.sender = urlsplit(url), sender

    def send(self, notification):
        u = self.url
        client = smtplib.SMTP_SSL if u.scheme == "smtps" else smtplib.SMTP
        with client(u.hostname, u.port or (465 if u.scheme == "smtps" else 587), timeout=20) as smtp:
            if u.scheme == "smtp":
                smtp.starttls()
            if u.username:
                smtp.login(unquote(u.username), unquote(u.password or ""))
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = self.sender, notification.recipient, notification.subject
            message.set_content(notification.body)
            smtp.send_message(message)


class HttpSmsSender:
    """SMS through an HTTP gateway: POST {"to", "text"} as JSON with a bearer token."""

    def __init__(self, url: str, token: str = ""):
        self.url, self.token = url, token

    def send(self, notification):
        request = urllib.request.Request(self.url, data=json.dumps({"to": notification.recipient,
                                                                    "text": notification.body}).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {self.token}"}, method="POST")
        with urllib.request.urlopen(request, timeout=20) as reply:  # noqa: S310 (the administrator's gateway)
            if reply.status >= 300:
                raise OSError(f"the SMS gateway answered {reply.status}")


_LOG = LogSender()


def senders(email=None, sms=None) -> dict:
    """The senders of a runtime (assemble.build_runtime, from the settings); the log where none is given."""
    return {"email": email or _LOG, "sms": sms or _LOG}


def send_due(limit=100, now=None) -> int:
    """Send the messages that are due; returns how many were sent."""
    now = now or utcnow()
    Notification.update(status="failed", last_error="interrupted while sending; not resent to avoid a duplicate").where(
        (Notification.status == "sending") & (Notification.next_attempt_at < now - STUCK)).execute()
    channels = runtime.current().senders
    due = list(Notification.select().where((Notification.status == "pending") & (Notification.next_attempt_at <= now))
               .order_by(Notification.next_attempt_at).limit(limit))
    sent = 0
    for row in due:
        claimed = (Notification.update(status="sending", next_attempt_at=now, attempts=Notification.attempts + 1)
                   .where((Notification.id == row.id) & (Notification.status == "pending")).execute())
        if not claimed:
            continue  # another worker has it
        try:
            channels.get(row.channel, _LOG).send(row)
        except Exception as exc:  # any sender failure: retried later, never raised into the worker
            attempts = row.attempts + 1
            failed = attempts >= MAX_ATTEMPTS
            Notification.update(status="failed" if failed else "pending", last_error=str(exc)[:2000],
                                next_attempt_at=now + timedelta(minutes=2 ** min(attempts, 10))).where(
                Notification.id == row.id).execute()
            log.warning("notification %s to %s failed (attempt %d): %s", row.id, row.channel, attempts, exc)
            continue
        Notification.update(status="sent", sent_at=utcnow(), last_error=None).where(Notification.id == row.id).execute()
        sent += 1
    return sent
