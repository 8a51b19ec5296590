"""External tasks, Camunda 7's pattern: service tasks served by outside workers over REST.

A service task with `camunda:type="external"` and a `camunda:topic` waits in its dossier as a
pending call (services.service_calls). Workers of the dossier's centre fetch and lock calls of the
topics their token names (`fetch_and_lock`, long-polling up to a bound), then `complete` them with
variables (merged into the task's data; the dossier runs on), report a `failure` with the retries
left (none left: the dossier's workflow goes into error, an incident of the back office, whose
retry makes the call fetchable again), `extend_lock` or `unlock` them.

Workers authenticate with worker tokens (`issue_worker_token`): API tokens of a user of a centre
that name the topics they serve. Such a token sees its centre's calls of its topics and nothing
else — neither another centre's nor another topic's, nor the rest of the API. Every query here is
scoped by the worker's centre and topics.

Two workers fetching at once never lock the same call: each lock is a conditional UPDATE that only
succeeds while the call is unlocked (on PostgreSQL the second writer waits for the first to commit
and then finds the row taken; SQLite writes one at a time).
"""

import hashlib
import json
import math
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from .. import boundedjson
from ..db import run_write, write_transaction
from ..engine import TaskNotReady
from ..models import ApiToken, Dossier, Procedure, ProcedureVersion, ServiceCall, User, utcnow
from . import audit
from .errors import Conflict, Forbidden, Invalid, NotFound, ServiceError, shown
from .procedures import model_for
from .runtime import engine, on_behalf_of

MAX_TASKS = 100  # the most calls one fetch may lock
MAX_TOPICS = 50  # topics a token may name, and a fetch may ask for
MAX_LOCK_MS = 7 * 24 * 3600 * 1000  # a week: the longest lock, extension or retry timeout
MAX_RETRIES = 1000
MESSAGE_LIMIT = 2000  # a worker's error message as kept (its details: DETAILS_LIMIT)
DETAILS_LIMIT = 20000
POLL_SECONDS = 0.5  # how often a long-polling fetch looks again
STEP_ATTEMPTS = 3  # a completion that meets another step of its dossier is computed again this often
INT_RANGE = (-(2 ** 31), 2 ** 31 - 1)  # Camunda's Integer; wider whole numbers are Long


class NotLockedByWorker(ServiceError):
    """The call is not locked by the worker that acts on it (Camunda answers 400 too)."""

    status = 400
    code = "not_locked_by_worker"


@dataclass(frozen=True)
class Worker:
    """Who acts through a worker token: its user (and so its centre) and the topics it serves."""

    user: User
    topics: frozenset

    @property
    def centre_id(self):
        return self.user.centre_id


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _topics(topics) -> list:
    if isinstance(topics, str) or not isinstance(topics, list | tuple | set | frozenset) \
            or not all(isinstance(t, str) and t.strip() for t in topics):
        raise Invalid("topics must be a list of topic names")
    names = sorted({t.strip() for t in topics})
    if not names:
        raise Invalid("a worker token serves at least one topic")
    if len(names) > MAX_TOPICS or any(len(t) > 255 for t in names):
        raise Invalid(f"a worker token serves at most {MAX_TOPICS} topics of at most 255 characters each")
    return names


def issue_worker_token(user, topics, label="", actor=None) -> str:
    """A new worker token of `user` (the centre it serves) for `topics`; returned once, only its hash
    is kept. It can use the external-task API for those topics and nothing else."""
    names = _topics(topics)
    token = "osw_" + secrets.token_urlsafe(32)
    with write_transaction():
        ApiToken.create(user=user, token_hash=_token_hash(token), label=label[:150], topics=names)
        audit.record("token.issued", actor, centre=user.centre,
                     detail={"username": user.username, "label": label[:150], "topics": names})
    return token


def worker_for_token(token: str) -> "Worker | None":
    """The worker a bearer token belongs to (an active user's unrevoked worker token), or None."""
    if not token or len(token) > 200:
        return None
    found = (ApiToken.select(ApiToken.topics, User).join(User)
             .where((ApiToken.token_hash == _token_hash(token)) & ~ApiToken.revoked & User.active
                    & ApiToken.topics.is_null(False)).first())
    if found is None or not isinstance(found.topics, list):
        return None
    return Worker(found.user, frozenset(t for t in found.topics if isinstance(t, str)))


# ------------------------------------------------------------------------------ variables

def typed(value) -> dict:
    """A value as Camunda 7 types it in variables: {"value", "type", "valueInfo"}."""
    if value is None:
        return {"value": None, "type": "Null", "valueInfo": {}}
    if isinstance(value, bool):
        return {"value": value, "type": "Boolean", "valueInfo": {}}
    if isinstance(value, int):
        kind = "Integer" if INT_RANGE[0] <= value <= INT_RANGE[1] else "Long"
        return {"value": value, "type": kind, "valueInfo": {}}
    if isinstance(value, float):
        return {"value": value, "type": "Double", "valueInfo": {}}
    if isinstance(value, str):
        return {"value": value, "type": "String", "valueInfo": {}}
    return {"value": json.dumps(value, ensure_ascii=False), "type": "Json", "valueInfo": {}}


_NUMBER_TYPES = {"integer": int, "long": int, "short": int, "double": float}


def plain(variables, what="variables") -> dict:
    """Typed variables sent by a worker ({"name": {"value": .., "type": "String"}}) as plain values
    for the task's data; Invalid, naming the variable, for what onestop cannot keep."""
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise Invalid(f"{what} must be an object of variables")
    out = {}
    for name, entry in variables.items():
        if not name or len(name) > 200 or name.startswith("_"):
            raise Invalid(f"{what}: {shown(name)} cannot be a variable name (1-200 characters, not starting with _)")
        if not isinstance(entry, dict) or "value" not in entry:
            raise Invalid(f"{what}: variable {shown(name)} must be an object with a value")
        value, kind = entry.get("value"), str(entry.get("type") or "").lower()
        if kind in ("bytes", "file"):
            raise Invalid(f"{what}: variable {shown(name)} is a {entry.get('type')}; files are not taken from workers")
        if kind in ("json", "object") and isinstance(value, str):
            try:
                value = boundedjson.loads(value.encode())
            except boundedjson.Refused:  # its reason is the parser's wording: not repeated to the worker
                raise Invalid(f"{what}: variable {shown(name)} is typed {entry.get('type')} but its value is not "
                              "readable JSON") from None
        elif kind in _NUMBER_TYPES:
            if isinstance(value, bool) or not isinstance(value, int | float) or (
                    isinstance(value, float) and not math.isfinite(value)):
                raise Invalid(f"{what}: variable {shown(name)} is typed {entry.get('type')} but is not a number")
            value = _NUMBER_TYPES[kind](value) if kind == "double" or float(value).is_integer() else value
        elif kind == "boolean" and not isinstance(value, bool):
            raise Invalid(f"{what}: variable {shown(name)} is typed Boolean but is not true or false")
        elif kind == "string" and value is not None and not isinstance(value, str):
            raise Invalid(f"{what}: variable {shown(name)} is typed String but is not text")
        out[name] = value
    return out


# ------------------------------------------------------------------------------ fetch and lock

@dataclass(frozen=True)
class TopicRequest:
    """One topic of a fetch: its lock duration and what the worker wants of each call."""

    name: str
    lock_ms: int
    variables: tuple | None = None  # the variables to send (None: all)
    business_key: str | None = None  # only calls of this dossier (its code)
    procedures: frozenset | None = None  # only calls of these procedures (their codes)
    process_variables: tuple = ()  # ((name, value), ...): only calls whose variables hold these values


@dataclass
class Locked:
    """A call as a worker sees it, with its dossier's code and procedure."""

    call: ServiceCall
    dossier_code: str
    procedure_code: str
    version: int
    variables: dict


def _milliseconds(value, what, minimum=0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_LOCK_MS:
        raise Invalid(f"{what} must be a whole number of milliseconds from {minimum} to {MAX_LOCK_MS}")
    return value


def topic_request(entry) -> TopicRequest:
    """A fetch's topic (the JSON object Camunda 7's fetchAndLock takes) as a TopicRequest."""
    name = entry.get("topicName")
    if not isinstance(name, str) or not name or len(name) > 255:
        raise Invalid("each topic needs a topicName of 1-255 characters")
    names = entry.get("variables")
    procedures = entry.get("processDefinitionKeyIn") or None
    if entry.get("processDefinitionKey"):
        procedures = [*(procedures or []), entry["processDefinitionKey"]]
    wanted = entry.get("processVariables") or {}
    return TopicRequest(name, _milliseconds(entry.get("lockDuration"), "lockDuration", 1),
                        tuple(names) if isinstance(names, list) else None, entry.get("businessKey") or None,
                        frozenset(procedures) if procedures else None, tuple(sorted(wanted.items(), key=str)))


_DOSSIER_NAMES = (Dossier.code.alias("dossier_code"), Procedure.code.alias("procedure_code"),
                  ProcedureVersion.version.alias("version_number"))


def _calls(worker, topics):
    """The external calls of the worker's centre and of these topics (each with its dossier's code,
    procedure and version): the scope of every read here."""
    return (ServiceCall.select(ServiceCall, *_DOSSIER_NAMES)
            .join(Dossier).join(Procedure, on=(Dossier.procedure == Procedure.id))
            .switch(Dossier).join(ProcedureVersion, on=(Dossier.version == ProcedureVersion.id))
            .where((ServiceCall.centre == worker.centre_id) & (ServiceCall.kind == "external")
                   & ServiceCall.topic.in_(list(topics))))


def _open_calls(worker, topics, limit, use_priority, now):
    """Calls of the worker's centre and of these topics that nobody holds, of running dossiers, oldest
    (or most urgent) first."""
    query = _calls(worker, [t.name for t in topics]).where(
        (Dossier.state == "active") & (ServiceCall.lock_expires_at.is_null() | (ServiceCall.lock_expires_at <= now)))
    keys = {t.business_key for t in topics}
    if None not in keys:
        query = query.where(Dossier.code.in_(list(keys)))
    order = [ServiceCall.priority.desc()] if use_priority else []
    return list(query.order_by(*order, ServiceCall.created_at, ServiceCall.id).limit(limit).objects())


def _wanted(call, request: TopicRequest) -> bool:
    if request.business_key is not None and call.dossier_code != request.business_key:
        return False
    if request.procedures is not None and call.procedure_code not in request.procedures:
        return False
    return all(call.variables.get(name) == value for name, value in request.process_variables)


def _locked(call, request: TopicRequest | None) -> Locked:
    variables = call.variables or {}
    if request is not None and request.variables is not None:
        variables = {name: variables[name] for name in request.variables if name in variables}
    return Locked(call, call.dossier_code, call.procedure_code, call.version_number, variables)


def fetch_and_lock(worker, worker_id, max_tasks, topics, use_priority=False, wait_seconds=0.0) -> list:
    """Lock up to max_tasks calls of the requested topics that the worker serves, for `worker_id`,
    each for its topic's lock duration; wait up to `wait_seconds` for one to come when none is there.
    A topic the worker's token does not name gets nothing."""
    if not isinstance(worker_id, str) or not worker_id or len(worker_id) > 255:
        raise Invalid("workerId (1-255 characters) is required")
    if isinstance(max_tasks, bool) or not isinstance(max_tasks, int) or not 0 <= max_tasks <= MAX_TASKS:
        raise Invalid(f"maxTasks must be a whole number from 0 to {MAX_TASKS}")
    if len(topics) > MAX_TOPICS:
        raise Invalid(f"ask for at most {MAX_TOPICS} topics at once")
    served = [t for t in topics if t.name in worker.topics]
    if not served or max_tasks == 0:
        return []
    deadline = time.monotonic() + max(0.0, wait_seconds)
    while True:
        found = _try_lock(worker, worker_id, max_tasks, served, use_priority)
        left = deadline - time.monotonic()
        if found or left <= 0:
            return found
        time.sleep(min(POLL_SECONDS, left))


def _try_lock(worker, worker_id, max_tasks, topics, use_priority) -> list:
    by_name = {t.name: t for t in topics}
    # A look without a write first: a long poll must not take the write lock every half second.
    candidates = [c for c in _open_calls(worker, topics, max_tasks * 4 + 10, use_priority, utcnow())
                  if _wanted(c, by_name[c.topic])]
    if not candidates:
        return []

    def lock():
        now, taken = utcnow(), []
        for call in candidates:
            if len(taken) == max_tasks:
                break
            until = now + timedelta(milliseconds=by_name[call.topic].lock_ms)
            got = (ServiceCall.update(worker_id=worker_id, lock_expires_at=until)
                   .where((ServiceCall.id == call.id)
                          & (ServiceCall.lock_expires_at.is_null() | (ServiceCall.lock_expires_at <= now)))
                   .execute())
            if got:
                call.worker_id, call.lock_expires_at = worker_id, until
                taken.append(call)
        return taken

    return [_locked(c, by_name[c.topic]) for c in run_write(lock)]


# ------------------------------------------------------------------------------ one call

def _call(worker, call_id) -> ServiceCall:
    """A pending external call of the worker's centre and topics, with its dossier's code, procedure
    and version (NotFound for any other)."""
    call = None
    if isinstance(call_id, str) and 0 < len(call_id) <= 36:
        call = _calls(worker, worker.topics).where(ServiceCall.id == call_id).objects().first()
    if call is None:
        raise NotFound(f"no external task {shown(call_id)}")
    return call


def _held_by(call, worker_id, live=False):
    if not isinstance(worker_id, str) or not worker_id:
        raise Invalid("workerId is required")
    if call.worker_id != worker_id or call.lock_expires_at is None or (live and call.lock_expires_at <= utcnow()):
        raise NotLockedByWorker(f"external task {call.id} is not locked by worker {shown(worker_id)}")


def get(worker, call_id) -> Locked:
    """A pending external call of the worker's centre and topics, with its dossier."""
    return _locked(_call(worker, call_id), None)


def _dossier(dossier_id) -> Dossier:
    from .. import sql

    return (Dossier.select(*sql.DOSSIER_HEAD, Procedure, ProcedureVersion)
            .join(Procedure).switch(Dossier).join(ProcedureVersion).where(Dossier.id == dossier_id).first())


def _step(worker, call_id, worker_id, run, action, detail):
    """Compute a step of the call's dossier with `run(model, state, task_id)` and store it; computed
    again if another step of the dossier was stored meanwhile."""
    from .dossiers import stored_state
    from .steps import save_step

    for attempt in range(STEP_ATTEMPTS):
        call = _call(worker, call_id)
        _held_by(call, worker_id)
        dossier = _dossier(call.dossier_id)
        if dossier.state != "active":
            raise Conflict(f"the dossier of external task {call.id} is {dossier.state}; it takes no answer now")
        try:
            with on_behalf_of(dossier.centre_id):
                step = run(model_for(dossier.version), stored_state(dossier), call.task_id)
        except TaskNotReady:
            raise NotFound(f"no external task {shown(call_id)}") from None
        try:
            return save_step(dossier, step, worker.user, action, call.element_id,
                             {"topic": call.topic, "worker": worker_id} | detail)
        except Conflict:
            if attempt == STEP_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def complete(worker, call_id, worker_id, variables=None) -> Dossier:
    """The worker's answer: `variables` (typed, as Camunda's) go into the task's data and the dossier
    runs on. The call must be locked by that worker."""
    values = plain(variables)
    return _step(worker, call_id, worker_id,
                 lambda model, state, task_id: engine().complete_service(model, state, task_id, values),
                 "service_call.completed", {"variables": sorted(values)[:50]})


def handle_failure(worker, call_id, worker_id, message, details=None, retries=0, retry_timeout_ms=0):
    """A failed attempt. With retries left the call waits `retry_timeout_ms`, then is fetchable again;
    with none left the dossier's workflow goes into error (an incident of the back office) with the
    worker's message. Returns the dossier when it went into error, else None."""
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise Invalid(f"retries must be a whole number from 0 to {MAX_RETRIES}")
    retry_timeout_ms = _milliseconds(retry_timeout_ms or 0, "retryTimeout")
    message = (message if isinstance(message, str) else "").strip()[:MESSAGE_LIMIT]
    details = details[:DETAILS_LIMIT] if isinstance(details, str) else None
    if retries == 0:
        call = _call(worker, call_id)
        reason = f"external task {call.topic!r} failed: {message or 'the worker gave no reason'}"
        return _step(worker, call_id, worker_id,
                     lambda model, state, task_id: engine().fail_service(model, state, task_id, reason),
                     "service_call.failed", {"retries": 0, "message": message})

    def write():
        call = _call(worker, call_id)
        _held_by(call, worker_id)
        until = utcnow() + timedelta(milliseconds=retry_timeout_ms)
        # The worker keeps it until the retry timeout has passed (as Camunda 7 does): then it is fetchable.
        ServiceCall.update(retries=retries, error_message=message or None, error_details=details,
                           lock_expires_at=until).where(ServiceCall.id == call.id).execute()
        audit.record("service_call.attempt_failed", worker.user, dossier=Dossier(id=call.dossier_id, centre=call.centre_id),
                     element_id=call.element_id,
                     detail={"call": call.id, "topic": call.topic, "worker": worker_id, "retries": retries,
                             "message": message})

    run_write(write)
    return None


def extend_lock(worker, call_id, worker_id, new_duration_ms) -> None:
    """Keep a call the worker holds for `new_duration_ms` more from now."""
    duration = _milliseconds(new_duration_ms, "newDuration", 1)

    def write():
        call = _call(worker, call_id)
        _held_by(call, worker_id, live=True)
        ServiceCall.update(lock_expires_at=utcnow() + timedelta(milliseconds=duration)).where(
            ServiceCall.id == call.id).execute()

    run_write(write)


def unlock(worker, call_id) -> None:
    """Release a call: any worker of its topic may fetch it at once."""

    def write():
        call = _call(worker, call_id)
        ServiceCall.update(worker_id=None, lock_expires_at=None).where(ServiceCall.id == call.id).execute()

    run_write(write)


def require_worker(worker) -> "Worker":
    """The worker, or Forbidden for a token that serves no topic (an ordinary API token)."""
    if worker is None:
        raise Forbidden("this token serves no external-task topic: issue a worker token for its topics")
    return worker


def pending(worker, topic=None, first=0, limit=100) -> list:
    """The pending external calls of the worker's centre and topics (or one of them), oldest first."""
    topics = [t for t in worker.topics if topic is None or t == topic]
    if not topics:
        return []
    query = _calls(worker, topics).order_by(ServiceCall.created_at, ServiceCall.id).offset(first).limit(limit)
    return [_locked(c, None) for c in query.objects()]
