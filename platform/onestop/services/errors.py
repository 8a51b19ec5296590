"""Errors the services raise; the web layer turns each into a JSON answer with its status."""


def shown(value, limit=80) -> str:
    """A caller-supplied value quoted for a message, cut short so nobody echoes megabytes back."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message, details=None, field_errors=None):
        super().__init__(message)
        self.message = message
        self.field_errors = list(field_errors or [])  # formdefs.FieldError: forms put each next to its field
        self.details = details if details is not None or not self.field_errors else [
            e.as_dict() for e in self.field_errors]


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class Invalid(ServiceError):
    status = 422
    code = "invalid"


class TooLarge(ServiceError):
    status = 413
    code = "too_large"
