"""Mirrors: staging/src/k8s.io/apimachinery/pkg/util/validation/field/errors.go,
staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go,
staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go

Errors as the Kubernetes API reports them.

A *field error* names one problem with one field of an object, for example
``spec.replicas: Invalid value: -1: must be greater than or equal to 0``.
Validation returns a list of them; the API server folds the list into a
``Status`` object with reason ``Invalid`` and HTTP code 422.

A ``StatusError`` is what every failed API call raises: it carries the
``Status`` dict exactly as the real API server sends it back to kubectl
(``kind: Status``, ``reason``, ``message``, ``details``, ``code``).
"""

from __future__ import annotations

import json
from typing import Any, Iterable

# --- field errors -------------------------------------------------------------------------

NOT_FOUND = "FieldValueNotFound"
REQUIRED = "FieldValueRequired"
DUPLICATE = "FieldValueDuplicate"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
INTERNAL = "InternalError"
TYPE_INVALID = "FieldValueTypeInvalid"

ERROR_TYPE_TEXT = {
    NOT_FOUND: "Not found",
    REQUIRED: "Required value",
    DUPLICATE: "Duplicate value",
    INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    INTERNAL: "Internal error",
    TYPE_INVALID: "Invalid value",
}

# These types never print the bad value (ErrorBody in field/errors.go).
_VALUE_HIDDEN = {REQUIRED, FORBIDDEN, TOO_LONG, INTERNAL}


class _Omit:
    """Marker for a bad value that must not be printed (upstream ``omitValue``)."""

    def __repr__(self) -> str:
        return "OMIT"


OMIT = _Omit()


class Printed(str):
    """A bad value printed as-is, without quotes.

    Upstream prints values that implement ``fmt.Stringer`` (IntOrString, Quantity) bare,
    and structs with Go's ``%#v``. Wrap such text in ``Printed`` to get the same output.
    """


def go_quote(s: str) -> str:
    """Quote a string like Go's ``%q`` (strconv.Quote) for the common cases."""
    return json.dumps(s, ensure_ascii=False)


def go_float(f: float) -> str:
    """Format a float like Go's ``%v`` (shortest representation, exponent past 1e21)."""
    if f == int(f) and abs(f) < 1e21:
        return str(int(f))
    text = repr(f)
    if "e" in text:
        mant, exp = text.split("e")
        sign = "-" if exp.startswith("-") else "+"
        return f"{mant}e{sign}{abs(int(exp)):02d}"
    return text


def go_value(value: Any) -> str:
    """Render a value roughly as Go's ``%#v`` would for maps and slices of strings."""
    if isinstance(value, dict):
        if all(isinstance(v, str) for v in value.values()):
            inner = ", ".join(f"{go_quote(str(k))}:{go_quote(v)}" for k, v in sorted(value.items()))
            return "map[string]string{" + inner + "}"
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return "[]string{" + ", ".join(go_quote(v) for v in value) + "}"
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return "[]int32{" + ", ".join(str(v) for v in value) + "}"
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def format_bad_value(value: Any) -> str:
    """The text upstream prints for a bad value: ints bare, strings quoted, null for nil."""
    if value is None:
        return "null"
    if isinstance(value, Printed):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    return go_value(value)


class FieldError:
    """One field-level validation error (``field.Error`` upstream)."""

    __slots__ = ("type", "field", "bad_value", "detail")

    def __init__(self, type: str, field: str, bad_value: Any = "", detail: str = ""):
        self.type = type
        self.field = field
        self.bad_value = bad_value
        self.detail = detail

    def error_body(self) -> str:
        """The message without the field name (``ErrorBody``)."""
        text = ERROR_TYPE_TEXT[self.type]
        if self.type not in _VALUE_HIDDEN and self.bad_value is not OMIT:
            text = f"{text}: {format_bad_value(self.bad_value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def error(self) -> str:
        """The full message, e.g. ``spec.replicas: Invalid value: -1: must be ...``."""
        return f"{self.field}: {self.error_body()}"

    def __str__(self) -> str:
        return self.error()

    def __repr__(self) -> str:
        return f"FieldError({self.error()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldError) and (
            self.type, self.field, self.detail, repr(self.bad_value)
        ) == (other.type, other.field, other.detail, repr(other.bad_value))

    def __hash__(self) -> int:
        return hash((self.type, self.field, self.detail))


def required(field: str, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, field, "", detail)


def invalid(field: str, value: Any, detail: str = "") -> FieldError:
    return FieldError(INVALID, field, value, detail)


def not_supported(field: str, value: Any, valid_values: Iterable[str] = ()) -> FieldError:
    valid = list(valid_values)
    detail = "supported values: " + ", ".join(go_quote(v) for v in valid) if valid else ""
    return FieldError(NOT_SUPPORTED, field, value, detail)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError(DUPLICATE, field, value, "")


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError(FORBIDDEN, field, "", detail)


def not_found(field: str, value: Any) -> FieldError:
    return FieldError(NOT_FOUND, field, value, "")


def too_long(field: str, value: Any, max_length: int) -> FieldError:
    return FieldError(TOO_LONG, field, value, f"must have at most {max_length} bytes")


def too_many(field: str, actual: int, maximum: int) -> FieldError:
    detail = f"must have at most {maximum} items" if maximum >= 0 else "has too many items"
    return FieldError(TOO_MANY, field, actual if actual >= 0 else OMIT, detail)


def internal_error(field: str, err: Any) -> FieldError:
    return FieldError(INTERNAL, field, None, str(err))


def aggregate_message(errors: Iterable[Any]) -> str:
    """Join error messages like ``utilerrors.NewAggregate(...).Error()``.

    Duplicates are dropped; one message stands alone, several become ``[a, b]``.
    """
    seen: list[str] = []
    for err in errors:
        msg = err.error() if isinstance(err, FieldError) else str(err)
        if msg not in seen:
            seen.append(msg)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]" if seen else ""


# --- Status errors -----------------------------------------------------------------------

# metav1.StatusReason values
REASON_UNKNOWN = ""
REASON_UNAUTHORIZED = "Unauthorized"
REASON_FORBIDDEN = "Forbidden"
REASON_NOT_FOUND = "NotFound"
REASON_ALREADY_EXISTS = "AlreadyExists"
REASON_CONFLICT = "Conflict"
REASON_GONE = "Gone"
REASON_INVALID = "Invalid"
REASON_SERVER_TIMEOUT = "ServerTimeout"
REASON_TIMEOUT = "Timeout"
REASON_TOO_MANY_REQUESTS = "TooManyRequests"
REASON_BAD_REQUEST = "BadRequest"
REASON_METHOD_NOT_ALLOWED = "MethodNotAllowed"
REASON_INTERNAL_ERROR = "InternalError"
REASON_EXPIRED = "Expired"
REASON_SERVICE_UNAVAILABLE = "ServiceUnavailable"

# The message storage returns when a resourceVersion precondition fails
# (staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go OptimisticLockErrorMsg).
OPTIMISTIC_LOCK_ERROR_MSG = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


class StatusError(Exception):
    """An API error carrying the ``Status`` object the API server returns."""

    def __init__(self, status: dict):
        super().__init__(status.get("message", ""))
        self.status = status

    @property
    def code(self) -> int:
        return self.status.get("code", 0)

    @property
    def reason(self) -> str:
        return self.status.get("reason", "")

    @property
    def message(self) -> str:
        return self.status.get("message", "")

    @property
    def details(self) -> dict:
        return self.status.get("details", {})

    @property
    def causes(self) -> list:
        return self.details.get("causes", [])

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"StatusError({self.code} {self.reason}: {self.message!r})"


def _split_group_resource(gr: Any) -> tuple[str, str]:
    """Accept 'deployments.apps', ('apps', 'deployments') or an object with group/resource."""
    if hasattr(gr, "group") and hasattr(gr, "resource"):
        return gr.group, gr.resource
    if isinstance(gr, tuple):
        return gr[0], gr[1]
    resource, _, group = str(gr).partition(".")
    return group, resource


def _split_group_kind(gk: Any) -> tuple[str, str]:
    if hasattr(gk, "group") and hasattr(gk, "kind"):
        return gk.group, gk.kind
    if isinstance(gk, tuple):
        return gk[0], gk[1]
    kind, _, group = str(gk).partition(".")
    return group, kind


def _qualified(group: str, name: str) -> str:
    return f"{name}.{group}" if group else name


def _status(code: int, reason: str, message: str, details: dict | None = None) -> StatusError:
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details:
        clean = {k: v for k, v in details.items() if v not in ("", None, [], 0)}
        if clean:
            status["details"] = clean
    status["code"] = code
    return StatusError(status)


def new_not_found(group_resource: Any, name: str) -> StatusError:
    group, resource = _split_group_resource(group_resource)
    return _status(404, REASON_NOT_FOUND, f"{_qualified(group, resource)} {go_quote(name)} not found",
                   {"name": name, "group": group, "kind": resource})


def new_already_exists(group_resource: Any, name: str) -> StatusError:
    group, resource = _split_group_resource(group_resource)
    return _status(409, REASON_ALREADY_EXISTS,
                   f"{_qualified(group, resource)} {go_quote(name)} already exists",
                   {"name": name, "group": group, "kind": resource})


def new_conflict(group_resource: Any, name: str, err: Any = OPTIMISTIC_LOCK_ERROR_MSG) -> StatusError:
    group, resource = _split_group_resource(group_resource)
    return _status(409, REASON_CONFLICT,
                   f"Operation cannot be fulfilled on {_qualified(group, resource)} {go_quote(name)}: {err}",
                   {"name": name, "group": group, "kind": resource})


def new_invalid(group_kind: Any, name: str, field_errors: list[FieldError]) -> StatusError:
    group, kind = _split_group_kind(group_kind)
    causes = []
    for err in field_errors:
        cause = {"reason": err.type, "message": err.error_body(), "field": err.field}
        causes.append({k: v for k, v in cause.items() if v})
    qualified = _qualified(group, kind)
    if field_errors:
        message = f"{qualified} {go_quote(name)} is invalid: {aggregate_message(field_errors)}"
    else:
        message = f"{qualified} {go_quote(name)} is invalid"
    return _status(422, REASON_INVALID, message,
                   {"name": name, "group": group, "kind": kind, "causes": causes})


def new_forbidden(group_resource: Any, name: str, reason: Any) -> StatusError:
    group, resource = _split_group_resource(group_resource)
    if not resource:
        message = f"forbidden: {reason}"
    elif not name:
        message = f"{_qualified(group, resource)} is forbidden: {reason}"
    else:
        message = f"{_qualified(group, resource)} {go_quote(name)} is forbidden: {reason}"
    return _status(403, REASON_FORBIDDEN, message, {"name": name, "group": group, "kind": resource})


def forbidden_reason(user: str, verb: str, resource: str, group: str = "", namespace: str = "",
                     name: str | None = None, subresource: str | None = None,
                     path: str | None = None) -> str:
    """The authorizer denial text (``forbiddenMessage`` in responsewriters/errors.go).

    ``name`` is not part of the text (it goes into ``new_forbidden``); pass ``path`` for a
    non-resource request such as ``/healthz``.
    """
    if path is not None:
        return f"User {go_quote(user)} cannot {verb} path {go_quote(path)}"
    if subresource:
        resource = f"{resource}/{subresource}"
    if namespace:
        return (f"User {go_quote(user)} cannot {verb} resource {go_quote(resource)} "
                f"in API group {go_quote(group)} in the namespace {go_quote(namespace)}")
    return (f"User {go_quote(user)} cannot {verb} resource {go_quote(resource)} "
            f"in API group {go_quote(group)} at the cluster scope")


def new_unauthorized(reason: str = "") -> StatusError:
    return _status(401, REASON_UNAUTHORIZED, reason or "not authorized")


def new_bad_request(reason: str) -> StatusError:
    return _status(400, REASON_BAD_REQUEST, reason)


def new_method_not_supported(group_resource: Any, action: str) -> StatusError:
    group, resource = _split_group_resource(group_resource)
    return _status(405, REASON_METHOD_NOT_ALLOWED,
                   f"{action} is not supported on resources of kind {go_quote(_qualified(group, resource))}",
                   {"group": group, "kind": resource})


def new_internal_error(err: Any) -> StatusError:
    return _status(500, REASON_INTERNAL_ERROR, f"Internal error occurred: {err}",
                   {"causes": [{"message": str(err)}]})


def new_service_unavailable(reason: str) -> StatusError:
    return _status(503, REASON_SERVICE_UNAVAILABLE, reason)


def new_timeout(message: str, retry_after_seconds: int = 0) -> StatusError:
    return _status(504, REASON_TIMEOUT, f"Timeout: {message}",
                   {"retryAfterSeconds": retry_after_seconds})


def new_server_timeout(group_resource: Any, operation: str, retry_after_seconds: int = 0) -> StatusError:
    group, resource = _split_group_resource(group_resource)
    return _status(500, REASON_SERVER_TIMEOUT,
                   f"The {operation} operation against {_qualified(group, resource)} could not be "
                   "completed at this time, please try again.",
                   {"name": operation, "group": group, "kind": resource,
                    "retryAfterSeconds": retry_after_seconds})


def new_too_many_requests(message: str, retry_after_seconds: int = 0) -> StatusError:
    return _status(429, REASON_TOO_MANY_REQUESTS, message, {"retryAfterSeconds": retry_after_seconds})


def new_gone(message: str) -> StatusError:
    """410 Gone (deprecated upstream in favour of ``new_resource_expired``)."""
    return _status(410, REASON_GONE, message)


def new_resource_expired(message: str = "too old resource version") -> StatusError:
    """410 Expired: a watch or list asked for a compacted resourceVersion.

    The watch cache says e.g. ``too old resource version: 5 (12)``.
    """
    return _status(410, REASON_EXPIRED, message)


def _reason_is(err: Any, reason: str) -> bool:
    return isinstance(err, StatusError) and err.reason == reason


def is_not_found(err: Any) -> bool:
    return _reason_is(err, REASON_NOT_FOUND)


def is_already_exists(err: Any) -> bool:
    return _reason_is(err, REASON_ALREADY_EXISTS)


def is_conflict(err: Any) -> bool:
    return _reason_is(err, REASON_CONFLICT)


def is_invalid(err: Any) -> bool:
    return _reason_is(err, REASON_INVALID)


def is_forbidden(err: Any) -> bool:
    return _reason_is(err, REASON_FORBIDDEN)


def is_bad_request(err: Any) -> bool:
    return _reason_is(err, REASON_BAD_REQUEST)


def is_resource_expired(err: Any) -> bool:
    return _reason_is(err, REASON_EXPIRED) or _reason_is(err, REASON_GONE)
