"""Field errors and Status errors carry upstream's exact text, reasons and codes."""

from k8slab.api import errors as e
from k8slab.api.errors import FieldError, Printed


def test_field_error_values_print_like_go():
    assert e.invalid("spec.replicas", -1, "must be greater than or equal to 0").error() == \
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
    assert e.invalid("metadata.name", "Web", "bad").error() == 'metadata.name: Invalid value: "Web": bad'
    assert e.invalid("x", None, "d").error() == "x: Invalid value: null: d"
    assert e.invalid("x", True, "").error() == "x: Invalid value: true"
    assert e.invalid("x", Printed("25%"), "d").error() == "x: Invalid value: 25%: d"
    assert e.invalid("x", {"b": "2", "a": "1"}, "d").error() == \
        'x: Invalid value: map[string]string{"a":"1", "b":"2"}: d'


def test_field_error_types_that_hide_the_value():
    assert e.required("spec.containers", "").error() == "spec.containers: Required value"
    assert e.required("metadata.name", "name or generateName is required").error() == \
        "metadata.name: Required value: name or generateName is required"
    assert e.forbidden("spec", "nope").error() == "spec: Forbidden: nope"
    assert e.too_long("metadata.annotations", "x" * 10, 5).error() == \
        "metadata.annotations: Too long: must have at most 5 bytes"
    assert e.internal_error("f", "boom").error() == "f: Internal error: boom"


def test_not_supported_duplicate_too_many():
    err = e.not_supported("spec.restartPolicy", "Sometimes", ["Always", "OnFailure", "Never"])
    assert err.error() == ('spec.restartPolicy: Unsupported value: "Sometimes": '
                           'supported values: "Always", "OnFailure", "Never"')
    assert err.type == "FieldValueNotSupported"
    assert e.duplicate("spec.containers[1].name", "web").error() == \
        'spec.containers[1].name: Duplicate value: "web"'
    assert e.too_many("items", 5, 3).error() == "items: Too many: 5: must have at most 3 items"
    assert e.too_many("items", -1, -1).error() == "items: Too many: has too many items"


def test_aggregate_dedupes_and_brackets():
    a = e.required("a")
    b = e.required("b")
    assert e.aggregate_message([a]) == "a: Required value"
    assert e.aggregate_message([a, b, a]) == "[a: Required value, b: Required value]"


def test_not_found_messages_and_status_shape():
    err = e.new_not_found("pods", "web")
    assert str(err) == 'pods "web" not found'
    assert err.code == 404 and err.reason == "NotFound"
    assert err.status == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": 'pods "web" not found', "reason": "NotFound",
                          "details": {"name": "web", "kind": "pods"}, "code": 404}
    err = e.new_not_found("deployments.apps", "web")
    assert err.message == 'deployments.apps "web" not found'
    assert err.details == {"name": "web", "group": "apps", "kind": "deployments"}
    assert e.is_not_found(err) and not e.is_conflict(err)


def test_already_exists_and_conflict():
    err = e.new_already_exists("services", "web")
    assert (err.code, err.reason, err.message) == (409, "AlreadyExists", 'services "web" already exists')
    err = e.new_conflict("deployments.apps", "web")
    assert err.code == 409 and err.reason == "Conflict"
    assert err.message == ('Operation cannot be fulfilled on deployments.apps "web": the object has been '
                           'modified; please apply your changes to the latest version and try again')


def test_invalid_single_and_multiple():
    one = e.new_invalid("Deployment.apps", "web",
                        [e.invalid("spec.replicas", -1, "must be greater than or equal to 0")])
    assert one.message == ('Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: '
                           'must be greater than or equal to 0')
    assert one.code == 422 and one.reason == "Invalid"
    assert one.details == {"name": "web", "group": "apps", "kind": "Deployment", "causes": [
        {"reason": "FieldValueInvalid", "message": "Invalid value: -1: must be greater than or equal to 0",
         "field": "spec.replicas"}]}
    two = e.new_invalid("Pod", "p", [e.required("spec.containers"), e.required("metadata.namespace")])
    assert two.message == 'Pod "p" is invalid: [spec.containers: Required value, metadata.namespace: Required value]'
    assert [c["field"] for c in two.causes] == ["spec.containers", "metadata.namespace"]
    assert e.new_invalid("Pod", "p", []).message == 'Pod "p" is invalid'


def test_forbidden_with_rbac_reason():
    reason = e.forbidden_reason("bob", "create", "pods", "", "default")
    assert reason == 'User "bob" cannot create resource "pods" in API group "" in the namespace "default"'
    err = e.new_forbidden("pods", "x", reason)
    assert err.message == ('pods "x" is forbidden: User "bob" cannot create resource "pods" in API group "" '
                           'in the namespace "default"')
    assert (err.code, err.reason) == (403, "Forbidden")
    listing = e.new_forbidden("nodes", "", e.forbidden_reason("bob", "list", "nodes"))
    assert listing.message == ('nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" '
                               'at the cluster scope')
    sub = e.forbidden_reason("system:node:n1", "get", "pods", "", "kube-system", subresource="log")
    assert 'resource "pods/log"' in sub
    assert e.forbidden_reason("bob", "get", "", path="/healthz") == 'User "bob" cannot get path "/healthz"'
    assert e.new_forbidden("", "", "no").message == "forbidden: no"


def test_other_constructors_codes_and_reasons():
    cases = [
        (e.new_unauthorized(), 401, "Unauthorized", "not authorized"),
        (e.new_bad_request("bad"), 400, "BadRequest", "bad"),
        (e.new_method_not_supported("pods", "patch"), 405, "MethodNotAllowed",
         'patch is not supported on resources of kind "pods"'),
        (e.new_internal_error("disk on fire"), 500, "InternalError", "Internal error occurred: disk on fire"),
        (e.new_service_unavailable("etcd down"), 503, "ServiceUnavailable", "etcd down"),
        (e.new_timeout("request did not complete", 2), 504, "Timeout", "Timeout: request did not complete"),
        (e.new_gone("gone"), 410, "Gone", "gone"),
        (e.new_resource_expired(), 410, "Expired", "too old resource version"),
        (e.new_too_many_requests("slow down", 1), 429, "TooManyRequests", "slow down"),
    ]
    for err, code, reason, message in cases:
        assert (err.code, err.reason, err.message, str(err)) == (code, reason, message, message)
    assert e.new_internal_error("x").causes == [{"message": "x"}]
    assert e.new_timeout("t", 2).details == {"retryAfterSeconds": 2}
    assert e.is_resource_expired(e.new_resource_expired("too old resource version: 5 (12)"))


def test_status_error_is_an_exception():
    try:
        raise e.new_not_found("pods", "a")
    except e.StatusError as err:
        assert err.code == 404
    assert FieldError("FieldValueInvalid", "a", 1, "x") == e.invalid("a", 1, "x")
