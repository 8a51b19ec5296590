"""The external-task API's contract: the request bodies its handlers check, the shapes it answers
(Camunda 7's, so that an existing external-task client works by changing its base URL) and its
operations, merged into the OpenAPI document by web/openapi.py."""

from datetime import datetime

from .present import closed

_TEXT = {"type": "string"}
_TEXT_OR_NULL = {"type": ["string", "null"]}
_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
_MS = {"type": "integer", "minimum": 1, "maximum": 7 * 24 * 3600 * 1000}
_TEXTS_OR_NULL = {"type": ["array", "null"], "items": _TEXT}
_VARIABLES = {"type": ["object", "null"], "description": "typed variables: {\"name\": {\"value\": .., \"type\": "
              "\"String\" | \"Integer\" | \"Long\" | \"Double\" | \"Boolean\" | \"Json\" | \"Null\"}}",
              "additionalProperties": {"type": "object", "required": ["value"]}}
_WORKER = {"workerId": _NAME}

REQUEST_BODIES = {
    "fetch_and_lock": {"type": "object", "required": ["workerId", "topics"], "properties": _WORKER | {
        "maxTasks": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
        "usePriority": {"type": ["boolean", "null"]},
        "asyncResponseTimeout": {"type": ["integer", "null"], "minimum": 0,
                                 "description": "milliseconds to wait for a task when none is there (long "
                                                "polling), at most the server's bound"},
        "sorting": {"type": ["array", "null"]},
        "topics": {"type": "array", "maxItems": 50, "items": {
            "type": "object", "required": ["topicName", "lockDuration"], "properties": {
                "topicName": _NAME, "lockDuration": _MS, "variables": _TEXTS_OR_NULL,
                "localVariables": {"type": ["boolean", "null"]}, "businessKey": _TEXT_OR_NULL,
                "processDefinitionId": _TEXT_OR_NULL, "processDefinitionIdIn": _TEXTS_OR_NULL,
                "processDefinitionKey": _TEXT_OR_NULL, "processDefinitionKeyIn": _TEXTS_OR_NULL,
                "processDefinitionVersionTag": _TEXT_OR_NULL, "processVariables": {"type": ["object", "null"]},
                "tenantIdIn": _TEXTS_OR_NULL, "withoutTenantId": {"type": ["boolean", "null"]},
                "deserializeValues": {"type": ["boolean", "null"]},
                "includeExtensionProperties": {"type": ["boolean", "null"]}}}}}},
    "complete_external_task": {"type": "object", "required": ["workerId"], "properties": _WORKER | {
        "variables": _VARIABLES, "localVariables": _VARIABLES}},
    "external_task_failure": {"type": "object", "required": ["workerId"], "properties": _WORKER | {
        "errorMessage": {"type": ["string", "null"], "maxLength": 100000},
        "errorDetails": {"type": ["string", "null"], "maxLength": 1000000},
        "retries": {"type": ["integer", "null"], "minimum": 0, "maximum": 1000,
                    "description": "attempts left; 0: the dossier goes into error (an incident)"},
        "retryTimeout": {"type": ["integer", "null"], "minimum": 0, "maximum": 7 * 24 * 3600 * 1000}}},
    "extend_external_task_lock": {"type": "object", "required": ["workerId", "newDuration"], "properties": _WORKER | {
        "newDuration": _MS}},
}

_TYPED = {"type": "object", "required": ["value", "type", "valueInfo"],
          "properties": {"value": {}, "type": _TEXT, "valueInfo": {"type": "object"}}}
_TASK = {
    "id": _TEXT, "topicName": _TEXT, "workerId": _TEXT_OR_NULL, "lockExpirationTime": _TEXT_OR_NULL,
    "createTime": _TEXT, "activityId": _TEXT, "activityInstanceId": _TEXT, "executionId": _TEXT,
    "processInstanceId": _TEXT, "businessKey": _TEXT, "processDefinitionId": _TEXT, "processDefinitionKey": _TEXT,
    "processDefinitionVersionTag": {"type": "null"}, "tenantId": {"type": "null"},
    "retries": {"type": ["integer", "null"]}, "errorMessage": _TEXT_OR_NULL, "suspended": {"type": "boolean"},
    "priority": {"type": "integer"}}
SCHEMAS = {
    "ExternalTask": closed(_TASK),
    "LockedExternalTask": closed(_TASK | {"errorDetails": _TEXT_OR_NULL,
                                          "variables": {"type": "object", "additionalProperties": _TYPED},
                                          "extensionProperties": {"type": "object"}}),
}


def camunda_time(value: datetime | None) -> str | None:
    """A stored UTC time as Camunda 7 writes dates: 2026-12-05T04:10:00.000+0000."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000" if value else None


def external_task(locked) -> dict:
    """A pending call as Camunda 7's ExternalTaskDto (services.external_tasks.Locked)."""
    call = locked.call
    return {
        "id": call.id, "topicName": call.topic, "workerId": call.worker_id,
        "lockExpirationTime": camunda_time(call.lock_expires_at), "createTime": camunda_time(call.created_at),
        "activityId": call.element_id, "activityInstanceId": f"{call.element_id}:{call.task_id}",
        "executionId": call.task_id, "processInstanceId": locked.dossier_code, "businessKey": locked.dossier_code,
        "processDefinitionId": f"{locked.procedure_code}:{locked.version}",
        "processDefinitionKey": locked.procedure_code, "processDefinitionVersionTag": None, "tenantId": None,
        "retries": call.retries, "errorMessage": call.error_message, "suspended": False, "priority": call.priority,
    }


def locked_external_task(locked, typed) -> dict:
    """A call just locked, as Camunda 7's LockedExternalTaskDto: with its variables, each typed by `typed`."""
    return external_task(locked) | {
        "errorDetails": locked.call.error_details,
        "variables": {name: typed(value) for name, value in locked.variables.items()},
        "extensionProperties": {}}


def _json(schema):
    return {"content": {"application/json": {"schema": schema}}}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def paths(body, errors) -> dict:
    """The operations under /external-task, given openapi's helpers for a request body and error answers."""
    task = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    done = {"204": {"description": "Done"}}
    return {
        "/external-task/fetchAndLock": {"post": {
            "summary": "Lock pending external tasks of the token's topics (Camunda 7's fetchAndLock)",
            "description": "Needs a worker token: its centre's tasks of the topics it names, nothing else. Waits "
                           "up to asyncResponseTimeout (bounded by the server) for a task when none is there.",
            "requestBody": body("fetch_and_lock"),
            "responses": {"200": {"description": "The tasks locked for the worker"} | _json(
                {"type": "array", "items": _ref("LockedExternalTask")}), **errors(401, 403, 422)}}},
        "/external-task": {"get": {
            "summary": "The pending external tasks of the token's topics",
            "parameters": [{"name": "topicName", "in": "query", "schema": {"type": "string"}},
                           {"name": "firstResult", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                           {"name": "maxResults", "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500}}],
            "responses": {"200": {"description": "The tasks, oldest first"} | _json(
                {"type": "array", "items": _ref("ExternalTask")}), **errors(401, 403, 422)}}},
        "/external-task/{id}": {"get": {
            "summary": "A pending external task", "parameters": task,
            "responses": {"200": {"description": "The task"} | _json(_ref("ExternalTask")),
                          **errors(401, 403, 404)}}},
        "/external-task/{id}/complete": {"post": {
            "summary": "Complete a task the worker locked: its variables go into the dossier's data, which runs on",
            "parameters": task, "requestBody": body("complete_external_task"),
            "responses": done | errors(401, 403, 404, 409, 422)}},
        "/external-task/{id}/failure": {"post": {
            "summary": "Report a failed attempt: with retries left the task is fetchable again after "
                       "retryTimeout; with none the dossier goes into error, an incident of the back office",
            "parameters": task, "requestBody": body("external_task_failure"),
            "responses": done | errors(401, 403, 404, 409, 422)}},
        "/external-task/{id}/extendLock": {"post": {
            "summary": "Keep a locked task newDuration milliseconds more from now", "parameters": task,
            "requestBody": body("extend_external_task_lock"),
            "responses": done | errors(401, 403, 404, 422)}},
        "/external-task/{id}/unlock": {"post": {
            "summary": "Release a locked task: any worker of its topic may fetch it", "parameters": task,
            "responses": done | errors(401, 403, 404)}},
    }
