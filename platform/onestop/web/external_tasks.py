"""The external-task API under /api/v1/external-task, in Camunda 7's shapes (docs/external-tasks.md).

Workers authenticate with a worker token (Authorization: Bearer ...): a token of a centre that names
the topics it serves. Each handler parses, makes one service call and renders.
"""

from functools import wraps

from flask import Blueprint, current_app, jsonify, request

from ..services import external_tasks
from ..services.errors import Invalid, ServiceError
from ..services.users import user_for_token
from . import bodies
from .external_task_contract import REQUEST_BODIES, external_task, locked_external_task

bp = Blueprint("external_task", __name__)


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


def worker_required(view):
    """Resolve the bearer token to the worker it belongs to; passes `worker` first."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        worker = external_tasks.worker_for_token(token)
        if worker is None and user_for_token(token) is None:
            raise Unauthorized("a valid bearer token is required (Authorization: Bearer ...)")
        return view(external_tasks.require_worker(worker), *args, **kwargs)

    return wrapper


def _body():
    return bodies.read_object(REQUEST_BODIES.get(request.endpoint.rpartition(".")[2]))


def _wait_seconds(body) -> float:
    """How long a fetch may wait for a task: what the worker asks, within the server's bound."""
    asked = body.get("asyncResponseTimeout") or 0
    return min(asked / 1000, current_app.config["ONESTOP"].external_task_wait_seconds)


@bp.post("/external-task/fetchAndLock")
@worker_required
def fetch_and_lock(worker):
    body = _body()
    topics = [external_tasks.topic_request(t) for t in body["topics"]]
    max_tasks = body.get("maxTasks")
    locked = external_tasks.fetch_and_lock(worker, body["workerId"], 10 if max_tasks is None else max_tasks, topics,
                                           use_priority=bool(body.get("usePriority")), wait_seconds=_wait_seconds(body))
    return jsonify([locked_external_task(t, external_tasks.typed) for t in locked])


def _whole(name, default, lowest, highest) -> int:
    text = request.args.get(name, "")
    if not text:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 6) or not lowest <= int(text) <= highest:
        raise Invalid(f"{name} must be a whole number from {lowest} to {highest}")
    return int(text)


@bp.get("/external-task")
@worker_required
def list_external_tasks(worker):
    found = external_tasks.pending(worker, request.args.get("topicName") or None,
                                   _whole("firstResult", 0, 0, 999999), _whole("maxResults", 100, 1, 500))
    return jsonify([external_task(t) for t in found])


@bp.get("/external-task/<task_id>")
@worker_required
def get_external_task(worker, task_id):
    return jsonify(external_task(external_tasks.get(worker, task_id)))


@bp.post("/external-task/<task_id>/complete")
@worker_required
def complete_external_task(worker, task_id):
    body = _body()
    external_tasks.complete(worker, task_id, body["workerId"], body.get("variables"))
    return "", 204


@bp.post("/external-task/<task_id>/failure")
@worker_required
def external_task_failure(worker, task_id):
    body = _body()
    external_tasks.handle_failure(worker, task_id, body["workerId"], body.get("errorMessage"),
                                  body.get("errorDetails"), body.get("retries") or 0, body.get("retryTimeout") or 0)
    return "", 204


@bp.post("/external-task/<task_id>/extendLock")
@worker_required
def extend_external_task_lock(worker, task_id):
    body = _body()
    external_tasks.extend_lock(worker, task_id, body["workerId"], body["newDuration"])
    return "", 204


@bp.post("/external-task/<task_id>/unlock")
@worker_required
def unlock_external_task(worker, task_id):
    external_tasks.unlock(worker, task_id)
    return "", 204
