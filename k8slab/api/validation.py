"""Mirrors: pkg/apis/core/validation/validation.go, pkg/apis/apps/validation/validation.go,
pkg/apis/batch/validation/validation.go, staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go,
staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go,
staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go,
pkg/registry/apps/deployment/strategy.go (selector immutability), github.com/robfig/cron/v3 parser.go

Validation: after defaulting, the API server checks an object and rejects it with
``422 Invalid`` and a list of field errors if anything is wrong. ``validate(obj)`` returns
that list for a create; ``validate(new, old)`` also applies the update rules (immutable
fields, what a pod update may change). Kinds it does not know return ``[]``.

Messages and field paths are upstream's, e.g.
``spec.template.spec.containers[0].image: Required value``.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Any, Callable

from . import errors as fe
from .errors import FieldError, Printed, go_quote
from .objects import label_selector_as_selector, to_json
from .quantity import format_quantity, parse_quantity_with_format

Errs = list

# --- apimachinery/pkg/util/validation -------------------------------------------------------------

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_ERR_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                         "and must start and end with an alphanumeric character")
DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1123_SUBDOMAIN_ERR_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                             "'-' or '.', and must start and end with an alphanumeric character")
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
DNS1035_LABEL_ERR_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                         "start with an alphabetic character, and end with an alphanumeric character")
DNS1035_LABEL_MAX_LENGTH = 63
LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_KEY_ERR_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', "
                     "and must start and end with an alphanumeric character")
LABEL_VALUE_FMT = "(" + LABEL_KEY_FMT + ")?"
LABEL_VALUE_ERR_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, "
                       "'-', '_' or '.', and must start and end with an alphanumeric character")
CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"
CONFIG_MAP_KEY_ERR_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
PERCENT_FMT = "[0-9]+%"
PERCENT_ERR_MSG = "a valid percent string must be a numeric string followed by an ending '%'"

IS_NEGATIVE_ERROR_MSG = "must be greater than or equal to 0"
FIELD_IMMUTABLE_ERROR_MSG = "field is immutable"

_dns1123_label_re = re.compile("^" + DNS1123_LABEL_FMT + "$")
_dns1123_subdomain_re = re.compile("^" + DNS1123_SUBDOMAIN_FMT + "$")
_dns1035_label_re = re.compile("^" + DNS1035_LABEL_FMT + "$")
_label_key_re = re.compile("^" + LABEL_KEY_FMT + "$")
_label_value_re = re.compile("^" + LABEL_VALUE_FMT + "$")
_config_map_key_re = re.compile("^" + CONFIG_MAP_KEY_FMT + "$")
_percent_re = re.compile("^" + PERCENT_FMT + "$")
_port_name_charset_re = re.compile("^[-a-z0-9]+$")
_port_name_one_letter_re = re.compile("[a-z]")


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """``RegexError``: the message, examples and the regex (note upstream's double space)."""
    if not examples:
        return msg + " (regex used for validation is '" + fmt + "')"
    msg += " (e.g. "
    for i, ex in enumerate(examples):
        if i > 0:
            msg += " or "
        msg += "'" + ex + "', "
    return msg + "regex used for validation is '" + fmt + "')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _dns1123_label_re.match(value):
        if _dns1123_subdomain_re.match(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(DNS1123_LABEL_ERR_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _dns1123_subdomain_re.match(value):
        errs.append(regex_error(DNS1123_SUBDOMAIN_ERR_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1035_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1035_LABEL_MAX_LENGTH))
    if not _dns1035_label_re.match(value):
        errs.append(regex_error(DNS1035_LABEL_ERR_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """Label keys and other qualified names: ``[prefix/]name`` (``IsLabelKey``)."""
    errs = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return ["a valid label key " + regex_error(LABEL_KEY_ERR_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _label_key_re.match(name):
        errs.append("name part " + regex_error(LABEL_KEY_ERR_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _label_value_re.match(value):
        errs.append(regex_error(LABEL_VALUE_ERR_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_config_map_key(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _config_map_key_re.match(value):
        errs.append(regex_error(CONFIG_MAP_KEY_ERR_MSG, CONFIG_MAP_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_valid_port_num(port: Any) -> list[str]:
    if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
        return []
    return [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    """IANA_SVC_NAME: at most 15 characters, ``[-a-z0-9]``, at least one letter."""
    errs = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not _port_name_charset_re.match(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _port_name_one_letter_re.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_percent(value: str) -> list[str]:
    if not _percent_re.match(value):
        return [regex_error(PERCENT_ERR_MSG, PERCENT_FMT, "1%", "93%")]
    return []


def is_valid_ip(path: str, value: str) -> Errs:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return [fe.invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def _mask_trailing_dash(name: str) -> str:
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


def name_is_dns_subdomain(name: str, prefix: bool = False) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool = False) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool = False) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def validate_path_segment_name(name: str, prefix: bool = False) -> list[str]:
    """``path.ValidatePathSegmentName`` (RBAC object names)."""
    errs = []
    if not prefix and name in (".", ".."):
        errs.append(f"may not be '{name}'")
    if "/" in name:
        errs.append("may not contain '/'")
    if "%" in name:
        errs.append("may not contain '%'")
    return errs


# --- small field helpers ----------------------------------------------------------------------------

def validate_nonnegative_field(value: Any, path: str) -> Errs:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return [fe.invalid(path, value, IS_NEGATIVE_ERROR_MSG)]
    return []


def validate_immutable_field(new: Any, old: Any, path: str, shown: Any = None) -> Errs:
    if new != old:
        return [fe.invalid(path, new if shown is None else shown, FIELD_IMMUTABLE_ERROR_MSG)]
    return []


# label sets already found valid (validation of a label set is a pure function of its text): most writes carry
# the labels of a few templates, and an update re-validates the labels it did not change
_VALID_LABEL_SETS: set = set()


def validate_labels(labels: dict | None, path: str) -> Errs:
    if not labels:
        return []
    try:
        memo_key = tuple(labels.items())
        if memo_key in _VALID_LABEL_SETS:
            return []
    except TypeError:  # an unhashable value: validated below (and refused)
        memo_key = None
    errs = _validate_labels(labels, path)
    if not errs and memo_key is not None and all(type(v) is str and type(k) is str for k, v in memo_key):
        if len(_VALID_LABEL_SETS) > 50_000:
            _VALID_LABEL_SETS.clear()
        _VALID_LABEL_SETS.add(memo_key)
    return errs


def _validate_labels(labels: dict, path: str) -> Errs:
    errs: Errs = []
    for k, v in labels.items():
        errs += [fe.invalid(path, k, m) for m in is_qualified_name(str(k))]
        if not isinstance(v, str):
            errs.append(fe.invalid(path, v, "must be a string"))
            continue
        errs += [fe.invalid(path, v, m) for m in is_valid_label_value(v)]
    return errs


def validate_annotations(annotations: dict | None, path: str) -> Errs:
    errs: Errs = []
    total = 0
    for k, v in (annotations or {}).items():
        errs += [fe.invalid(path, k, m) for m in is_qualified_name(str(k).lower())]
        total += len(str(k)) + len(str(v))
    if total > 256 * 1024:
        errs.append(fe.too_long(path, "", 256 * 1024))
    return errs


def validate_dns1123_label(value: str, path: str) -> Errs:
    return [fe.invalid(path, value, m) for m in is_dns1123_label(value)]


def validate_dns1123_subdomain(value: str, path: str) -> Errs:
    return [fe.invalid(path, value, m) for m in is_dns1123_subdomain(value)]


def go_label_selector(sel: dict | None) -> Printed:
    """A LabelSelector printed as Go's ``%#v`` prints ``v1.LabelSelector``."""
    if sel is None:
        return Printed("null")
    ml = sel.get("matchLabels")
    ml_text = ("map[string]string{" + ", ".join(f"{go_quote(k)}:{go_quote(v)}" for k, v in sorted(ml.items()))
               + "}") if ml else "map[string]string(nil)"
    exprs = sel.get("matchExpressions")
    if exprs:
        items = []
        for e in exprs:
            vals = e.get("values")
            vals_text = ("[]string{" + ", ".join(go_quote(v) for v in vals) + "}") if vals else "[]string(nil)"
            items.append(f"v1.LabelSelectorRequirement{{Key:{go_quote(e.get('key', ''))}, "
                         f"Operator:{go_quote(e.get('operator', ''))}, Values:{vals_text}}}")
        ex_text = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    else:
        ex_text = "[]v1.LabelSelectorRequirement(nil)"
    return Printed(f"v1.LabelSelector{{MatchLabels:{ml_text}, MatchExpressions:{ex_text}}}")


def validate_label_selector(sel: dict | None, path: str) -> Errs:
    """``ValidateLabelSelector`` (strict: label values in expressions must be valid)."""
    if sel is None:
        return []
    errs: Errs = []
    for i, e in enumerate(sel.get("matchExpressions") or []):
        ep = f"{path}.matchExpressions[{i}]"
        op, values = e.get("operator"), e.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                errs.append(fe.required(f"{ep}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(fe.forbidden(f"{ep}.values",
                                         "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(fe.invalid(f"{ep}.operator", op, "not a valid selector operator"))
        errs += [fe.invalid(f"{ep}.key", e.get("key", ""), m) for m in is_qualified_name(e.get("key", ""))]
        for j, v in enumerate(values):
            errs += [fe.invalid(f"{ep}.values[{j}]", v, m) for m in is_valid_label_value(v)]
    errs += validate_labels(sel.get("matchLabels"), f"{path}.matchLabels")
    return errs


# --- object metadata ------------------------------------------------------------------------------------

NameFn = Callable[[str, bool], list]


def validate_object_meta(meta: dict | None, namespaced: bool, name_fn: NameFn, path: str = "metadata") -> Errs:
    meta = meta or {}
    errs: Errs = []
    name = meta.get("name") or ""
    if not name:
        errs.append(fe.required(f"{path}.name", "name or generateName is required"))
    else:
        errs += [fe.invalid(f"{path}.name", name, m) for m in name_fn(name, False)]
    ns = meta.get("namespace") or ""
    if namespaced:
        if not ns:
            errs.append(fe.required(f"{path}.namespace"))
        else:
            errs += [fe.invalid(f"{path}.namespace", ns, m) for m in name_is_dns_label(ns)]
    elif ns:
        errs.append(fe.forbidden(f"{path}.namespace", "not allowed on this type"))
    errs += validate_nonnegative_field(meta.get("generation", 0), f"{path}.generation")
    errs += validate_labels(meta.get("labels"), f"{path}.labels")
    errs += validate_annotations(meta.get("annotations"), f"{path}.annotations")
    errs += _validate_owner_references(meta.get("ownerReferences"), f"{path}.ownerReferences")
    for f in meta.get("finalizers") or []:
        errs += [fe.invalid(f"{path}.finalizers", f, m) for m in is_qualified_name(f)]
    return errs


def _validate_owner_references(refs: list | None, path: str) -> Errs:
    errs: Errs = []
    first = ""
    for ref in refs or []:
        api_version = ref.get("apiVersion", "")
        if not api_version.rpartition("/")[2]:
            errs.append(fe.invalid(f"{path}.apiVersion", api_version, "version must not be empty"))
        if not ref.get("kind"):
            errs.append(fe.invalid(f"{path}.kind", ref.get("kind", ""), "must not be empty"))
        if not ref.get("name"):
            errs.append(fe.invalid(f"{path}.name", ref.get("name", ""), "must not be empty"))
        if not ref.get("uid"):
            errs.append(fe.invalid(f"{path}.uid", ref.get("uid", ""), "must not be empty"))
        if ref.get("controller"):
            current = f"{ref.get('kind')}/{ref.get('name')}"
            if first:
                errs.append(fe.invalid(path, Printed("[]v1.OwnerReference{...}"),
                                       'Only one reference can have Controller set to true. '
                                       f'Found "true" in references for {first} and {current}'))
            else:
                first = current
    return errs


def validate_object_meta_update(new: dict | None, old: dict | None, path: str = "metadata") -> Errs:
    """``ValidateObjectMetaAccessorUpdate``.

    uid and creationTimestamp are only compared when the new object carries them: the
    registry copies them over from the stored object before validating (rest.BeforeUpdate).
    """
    new, old = new or {}, old or {}
    errs: Errs = []
    if old.get("deletionTimestamp"):
        extra = sorted(set(new.get("finalizers") or []) - set(old.get("finalizers") or []))
        if extra:
            errs.append(fe.forbidden(f"{path}.finalizers",
                                     "no new finalizers can be added if the object is being deleted, "
                                     f"found new finalizers {fe.go_value(extra)}"))
    if not new.get("resourceVersion"):
        errs.append(fe.invalid(f"{path}.resourceVersion", new.get("resourceVersion", ""),
                               "must be specified for an update"))
    if (new.get("generation") or 0) < (old.get("generation") or 0):
        errs.append(fe.invalid(f"{path}.generation", new.get("generation", 0), "must not be decremented"))
    errs += validate_immutable_field(new.get("name", ""), old.get("name", ""), f"{path}.name")
    errs += validate_immutable_field(new.get("namespace", ""), old.get("namespace", ""), f"{path}.namespace")
    for f in ("uid", "creationTimestamp"):
        if new.get(f):
            errs += validate_immutable_field(new.get(f), old.get(f), f"{path}.{f}")
    errs += validate_labels(new.get("labels"), f"{path}.labels")
    errs += validate_annotations(new.get("annotations"), f"{path}.annotations")
    errs += _validate_owner_references(new.get("ownerReferences"), f"{path}.ownerReferences")
    return errs


# --- quantities and resources -------------------------------------------------------------------------

STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}


def _quantity(value: Any):
    try:
        return parse_quantity_with_format(value)
    except ValueError:
        return None


def quantity_errors(obj: dict, unchanged: frozenset = frozenset()) -> list[tuple[str, str]]:
    """Quantities in an object that do not parse: ``[(path, message)]``.

    The real API server fails these while decoding the request body (400 BadRequest),
    before validation; see ``decode_error``.
    """
    out: list[tuple[str, str]] = []

    def check(res: dict | None, path: str) -> None:
        for name, q in (res or {}).items():
            try:
                parse_quantity_with_format(q)
            except ValueError as e:
                out.append((f"{path}[{name}]", str(e)))

    def pod_spec(spec: dict | None, path: str) -> None:
        spec = spec or {}
        for kind in ("initContainers", "containers"):
            for i, c in enumerate(spec.get(kind) or []):
                r = c.get("resources") or {}
                check(r.get("limits"), f"{path}.{kind}[{i}].resources.limits")
                check(r.get("requests"), f"{path}.{kind}[{i}].resources.requests")
        check(spec.get("overhead"), f"{path}.overhead")

    kind = obj.get("kind")
    spec = obj.get("spec") or {} if "spec" not in unchanged else {}
    if kind == "Pod":
        pod_spec(spec, "spec")
    elif kind in ("Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job", "ReplicationController"):
        pod_spec((spec.get("template") or {}).get("spec"), "spec.template.spec")
    elif kind == "CronJob":
        pod_spec(((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec"),
                 "spec.jobTemplate.spec.template.spec")
    elif kind == "Node":
        status = obj.get("status") or {} if "status" not in unchanged else {}
        check(status.get("capacity"), "status.capacity")
        check(status.get("allocatable"), "status.allocatable")
    elif kind == "PersistentVolumeClaim":
        check((spec.get("resources") or {}).get("requests"), "spec.resources.requests")
    return out


def decode_error(obj: dict, unchanged: frozenset = frozenset()) -> fe.StatusError | None:
    """The BadRequest the API server answers when the body does not decode: a field of the wrong JSON type, or a
    malformed quantity. Top-level fields named in ``unchanged`` are known to decode and are not looked at."""
    from .schema import type_error

    kind = obj.get("kind", "")
    version = (obj.get("apiVersion") or "").rpartition("/")[2]
    msg = type_error(obj, unchanged)
    if msg is None:
        bad = quantity_errors(obj, unchanged)
        if not bad:
            return None
        msg = bad[0][1]
    return fe.new_bad_request(f"{kind} in version {go_quote(version)} cannot be handled as a {kind}: {msg}")


def _validate_resource_name(name: str, path: str) -> Errs:
    errs = [fe.invalid(path, name, m) for m in is_qualified_name(name)]
    if errs:
        return errs
    if "/" not in name and name not in STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
        return [fe.invalid(path, name, "must be a standard resource for containers")]
    return []


def _is_overcommit_allowed(name: str) -> bool:
    # native resources (no domain, or *.kubernetes.io) except hugepages can be overcommitted
    native = "/" not in name or name.split("/")[0].endswith("kubernetes.io")
    return native and not name.startswith("hugepages-")


def _remember_valid(fn: Callable[[Any, str], Errs]) -> Callable[[Any, str], Errs]:
    """For a validator whose verdict depends only on its JSON value (the field path appears only in the messages):
    the values (as JSON text, so ``1``, ``1.0`` and ``true`` stay apart) that gave no error are remembered and
    answered ``[]`` at once, at any path. The pods of one template repeat the same resources and tolerations, and a
    pod's containers often share theirs. Inputs with errors are checked again each time (their
    FieldErrors are new objects every time, as callers may change them)."""
    valid: set = set()

    @functools.wraps(fn)
    def check(value, path: str) -> Errs:
        try:
            key = to_json(value)
        except (TypeError, ValueError):  # not JSON data
            return fn(value, path)
        if key in valid:
            return []
        errs = fn(value, path)
        if not errs:
            if len(valid) >= 4096:
                valid.clear()
            valid.add(key)
        return errs

    return check


@_remember_valid
def validate_resource_requirements(res: dict | None, path: str) -> Errs:
    """``ValidateContainerResourceRequirements`` for cpu, memory and extended resources."""
    res = res or {}
    errs: Errs = []
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    parsed_limits = {}
    for name, q in limits.items():
        p = f"{path}.limits[{name}]"
        errs += _validate_resource_name(name, p)
        got = _quantity(q)
        if got is None:
            continue
        parsed_limits[name] = got
        if got[0] < 0:
            errs.append(fe.invalid(p, format_quantity(*got), IS_NEGATIVE_ERROR_MSG))
        elif not _is_overcommit_allowed(name) and "/" in name and got[0].denominator != 1:
            errs.append(fe.invalid(p, format_quantity(*got), "must be an integer"))
    for name, q in requests.items():
        p = f"{path}.requests[{name}]"
        errs += _validate_resource_name(name, p)
        got = _quantity(q)
        if got is None:
            continue
        if got[0] < 0:
            errs.append(fe.invalid(p, format_quantity(*got), IS_NEGATIVE_ERROR_MSG))
        if name in parsed_limits:
            lim = parsed_limits[name]
            if got[0] != lim[0] and not _is_overcommit_allowed(name):
                errs.append(fe.invalid(f"{path}.requests", format_quantity(*got),
                                       f"must be equal to {name} limit of {format_quantity(*lim)}"))
            elif got[0] > lim[0]:
                errs.append(fe.invalid(f"{path}.requests", format_quantity(*got),
                                       f"must be less than or equal to {name} limit of {format_quantity(*lim)}"))
        elif not _is_overcommit_allowed(name):
            errs.append(fe.required(f"{path}.limits", "Limit must be set for non overcommitable resources"))
    return errs


# --- pods ---------------------------------------------------------------------------------------------

SUPPORTED_PORT_PROTOCOLS = ["SCTP", "TCP", "UDP"]


def _port_num_or_name(port: Any, path: str) -> Errs:
    if isinstance(port, int) and not isinstance(port, bool):
        return [fe.invalid(path, port, m) for m in is_valid_port_num(port)]
    if isinstance(port, str):
        return [fe.invalid(path, port, m) for m in is_valid_port_name(port)]
    return [fe.internal_error(path, f"unknown type: {type(port).__name__}")]


def _validate_handler(h: dict, path: str) -> Errs:
    errs: Errs = []
    count = 0
    for kind in ("exec", "httpGet", "tcpSocket", "grpc", "sleep"):
        if h.get(kind) is None:
            continue
        if count:
            errs.append(fe.forbidden(f"{path}.{kind}", "may not specify more than 1 handler type"))
            continue
        count += 1
        action = h[kind] or {}
        if kind == "exec" and not action.get("command"):
            errs.append(fe.required(f"{path}.exec.command"))
        elif kind == "httpGet":
            if not action.get("path"):
                errs.append(fe.required(f"{path}.httpGet.path"))
            errs += _port_num_or_name(action.get("port"), f"{path}.httpGet.port")
            if action.get("scheme") not in ("HTTP", "HTTPS"):
                errs.append(fe.not_supported(f"{path}.httpGet.scheme", action.get("scheme", ""), ["HTTP", "HTTPS"]))
        elif kind == "tcpSocket":
            errs += _port_num_or_name(action.get("port"), f"{path}.tcpSocket.port")
        elif kind == "grpc":
            errs += _port_num_or_name(action.get("port", 0), f"{path}.grpc.port")
    if count == 0:
        errs.append(fe.required(path, "must specify a handler type"))
    return errs


def _validate_probe(probe: dict | None, path: str, kind: str) -> Errs:
    if probe is None:
        return []
    errs = _validate_handler(probe, path)
    for f in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs += validate_nonnegative_field(probe.get(f, 0), f"{path}.{f}")
    tgps = probe.get("terminationGracePeriodSeconds")
    if tgps is not None and tgps <= 0:
        errs.append(fe.invalid(f"{path}.terminationGracePeriodSeconds", tgps, "must be greater than 0"))
    if kind in ("livenessProbe", "startupProbe") and probe.get("successThreshold", 1) != 1:
        errs.append(fe.invalid(f"{path}.successThreshold", probe.get("successThreshold"), "must be 1"))
    if kind == "readinessProbe" and tgps is not None:
        errs.append(fe.invalid(f"{path}.terminationGracePeriodSeconds", tgps, "must not be set for readinessProbes"))
    return errs


def _validate_container_ports(ports: list | None, path: str) -> Errs:
    errs: Errs = []
    names: set = set()
    for i, port in enumerate(ports or []):
        p = f"{path}[{i}]"
        name = port.get("name") or ""
        if name:
            msgs = is_valid_port_name(name)
            if msgs:
                errs += [fe.invalid(f"{p}.name", name, m) for m in msgs]
            elif name in names:
                errs.append(fe.duplicate(f"{p}.name", name))
            else:
                names.add(name)
        cp = port.get("containerPort", 0)
        if not cp:
            errs.append(fe.required(f"{p}.containerPort"))
        else:
            errs += [fe.invalid(f"{p}.containerPort", cp, m) for m in is_valid_port_num(cp)]
        hp = port.get("hostPort", 0)
        if hp:
            errs += [fe.invalid(f"{p}.hostPort", hp, m) for m in is_valid_port_num(hp)]
        proto = port.get("protocol") or ""
        if not proto:
            errs.append(fe.required(f"{p}.protocol"))
        elif proto not in SUPPORTED_PORT_PROTOCOLS:
            errs.append(fe.not_supported(f"{p}.protocol", proto, SUPPORTED_PORT_PROTOCOLS))
    return errs


def _validate_container_common(c: dict, path: str, volumes: set) -> Errs:
    errs: Errs = []
    name = c.get("name") or ""
    if not name:
        errs.append(fe.required(f"{path}.name"))
    else:
        errs += validate_dns1123_label(name, f"{path}.name")
    if not c.get("image"):
        errs.append(fe.required(f"{path}.image"))
    tmp = c.get("terminationMessagePolicy") or ""
    if not tmp:
        errs.append(fe.required(f"{path}.terminationMessagePolicy"))
    elif tmp not in ("File", "FallbackToLogsOnError"):
        errs.append(fe.not_supported(f"{path}.terminationMessagePolicy", tmp, ["File", "FallbackToLogsOnError"]))
    errs += _validate_container_ports(c.get("ports"), f"{path}.ports")
    for i, ev in enumerate(c.get("env") or []):
        if not ev.get("name"):
            errs.append(fe.required(f"{path}.env[{i}].name"))
    mount_paths: set = set()
    for i, m in enumerate(c.get("volumeMounts") or []):
        mp = f"{path}.volumeMounts[{i}]"
        if not m.get("name"):
            errs.append(fe.required(f"{mp}.name"))
        if m.get("name") not in volumes:
            errs.append(fe.not_found(f"{mp}.name", m.get("name", "")))
        if not m.get("mountPath"):
            errs.append(fe.required(f"{mp}.mountPath"))
        if m.get("mountPath") in mount_paths:
            errs.append(fe.invalid(f"{mp}.mountPath", m.get("mountPath"), "must be unique"))
        mount_paths.add(m.get("mountPath"))
    pull = c.get("imagePullPolicy") or ""
    if not pull:
        errs.append(fe.required(f"{path}.imagePullPolicy"))
    elif pull not in ("Always", "IfNotPresent", "Never"):
        errs.append(fe.not_supported(f"{path}.imagePullPolicy", pull, ["Always", "IfNotPresent", "Never"]))
    errs += validate_resource_requirements(c.get("resources"), f"{path}.resources")
    return errs


def _validate_containers(containers: list | None, path: str, volumes: set) -> Errs:
    if not containers:
        return [fe.required(path)]
    errs: Errs = []
    names: set = set()
    for i, c in enumerate(containers):
        p = f"{path}[{i}]"
        errs += _validate_container_common(c, p, volumes)
        if c.get("name") in names:
            errs.append(fe.duplicate(f"{p}.name", c.get("name")))
        else:
            names.add(c.get("name"))
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            errs += _validate_probe(c.get(probe), f"{p}.{probe}", probe)
        if c.get("restartPolicy") is not None:
            errs.append(fe.forbidden(f"{p}.restartPolicy", "may not be set for non-init containers"))
    # host port conflicts across containers
    seen: set = set()
    for ci, c in enumerate(containers):
        for pi, port in enumerate(c.get("ports") or []):
            if port.get("hostPort"):
                key_ = f"{port.get('protocol', '')}/{port.get('hostIP', '')}/{port['hostPort']}"
                if key_ in seen:
                    errs.append(fe.duplicate(f"{path}[{ci}].ports[{pi}].hostPort", key_))
                seen.add(key_)
    return errs


def _validate_init_containers(inits: list | None, regular: list | None, path: str, volumes: set) -> Errs:
    errs: Errs = []
    names = {c.get("name") for c in regular or []}
    for i, c in enumerate(inits or []):
        p = f"{path}[{i}]"
        errs += _validate_container_common(c, p, volumes)
        restart_always = False
        rp = c.get("restartPolicy")
        if rp is not None:
            if rp != "Always":
                errs.append(fe.not_supported(f"{p}.restartPolicy", rp, ["Always"]))
            restart_always = rp == "Always"
        if c.get("name") in names:
            errs.append(fe.duplicate(f"{p}.name", c.get("name")))
        elif c.get("name"):
            names.add(c.get("name"))
        for probe in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
            if c.get(probe) is None:
                continue
            if restart_always:
                if probe != "lifecycle":
                    errs += _validate_probe(c.get(probe), f"{p}.{probe}", probe)
            else:
                errs.append(fe.forbidden(f"{p}.{probe}", "may not be set for init containers without restartPolicy=Always"))
    return errs


def _validate_volumes(volumes: list | None, path: str) -> tuple[Errs, set]:
    errs: Errs = []
    names: set = set()
    for i, v in enumerate(volumes or []):
        p = f"{path}[{i}]"
        name = v.get("name") or ""
        if not name:
            errs.append(fe.required(f"{p}.name"))
        else:
            errs += validate_dns1123_label(name, f"{p}.name")
        if name in names:
            errs.append(fe.duplicate(f"{p}.name", name))
        names.add(name)
        sources = [k for k in v if k != "name"]
        if not sources:
            errs.append(fe.required(p, "must specify a volume type"))
        elif len(sources) > 1:
            errs.append(fe.forbidden(f"{p}.{sources[1]}", "may not specify more than 1 volume type"))
    return errs, names


_TOLERATION_OPERATORS = ["Equal", "Exists"]
_TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]


@_remember_valid
def _validate_tolerations(tolerations: list | None, path: str) -> Errs:
    errs: Errs = []
    for i, t in enumerate(tolerations or []):
        p = f"{path}[{i}]"
        k = t.get("key") or ""
        if k:
            errs += [fe.invalid(f"{p}.key", k, m) for m in is_qualified_name(k)]
        op = t.get("operator") or "Equal"
        if not k and op != "Exists":
            errs.append(fe.invalid(f"{p}.operator", op,
                                   "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
        if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
            errs.append(fe.invalid(f"{p}.effect", t.get("effect", ""),
                                   "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op == "Equal":
            errs += [fe.invalid(f"{p}.value", t.get("value", ""), m) for m in is_valid_label_value(t.get("value", ""))]
        elif op == "Exists":
            if t.get("value"):
                errs.append(fe.invalid(f"{p}.operator", t, "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(fe.not_supported(f"{p}.operator", op, _TOLERATION_OPERATORS))
        if t.get("effect") and t["effect"] not in _TAINT_EFFECTS:
            errs.append(fe.not_supported(f"{p}.effect", t["effect"], _TAINT_EFFECTS))
    return errs


def validate_pod_spec(spec: dict | None, path: str) -> Errs:
    """``ValidatePodSpec`` (the parts a simulated cluster exercises)."""
    spec = spec or {}
    errs, volumes = _validate_volumes(spec.get("volumes"), f"{path}.volumes")
    errs += _validate_containers(spec.get("containers"), f"{path}.containers", volumes)
    errs += _validate_init_containers(spec.get("initContainers"), spec.get("containers"),
                                      f"{path}.initContainers", volumes)
    rp = spec.get("restartPolicy") or ""
    if not rp:
        errs.append(fe.required(f"{path}.restartPolicy"))
    elif rp not in ("Always", "OnFailure", "Never"):
        errs.append(fe.not_supported(f"{path}.restartPolicy", rp, ["Always", "OnFailure", "Never"]))
    dp = spec.get("dnsPolicy") or ""
    if not dp:
        errs.append(fe.required(f"{path}.dnsPolicy"))
    elif dp not in ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"):
        errs.append(fe.not_supported(f"{path}.dnsPolicy", dp, ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]))
    errs += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    if spec.get("serviceAccountName"):
        errs += [fe.invalid(f"{path}.serviceAccountName", spec["serviceAccountName"], m)
                 for m in name_is_dns_subdomain(spec["serviceAccountName"])]
    if spec.get("nodeName"):
        errs += [fe.invalid(f"{path}.nodeName", spec["nodeName"], m) for m in name_is_dns_subdomain(spec["nodeName"])]
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and not (1 <= ads <= 2147483647):
        errs.append(fe.invalid(f"{path}.activeDeadlineSeconds", ads, inclusive_range_error(1, 2147483647)))
    for f in ("hostname", "subdomain"):
        if spec.get(f):
            errs += validate_dns1123_label(spec[f], f"{path}.{f}")
    errs += _validate_tolerations(spec.get("tolerations"), f"{path}.tolerations")
    if spec.get("priorityClassName"):
        errs += [fe.invalid(f"{path}.priorityClassName", spec["priorityClassName"], m)
                 for m in name_is_dns_subdomain(spec["priorityClassName"])]
    if spec.get("overhead"):
        errs += validate_resource_requirements({"limits": spec["overhead"]}, f"{path}.overhead")
    return errs


def validate_pod_template_spec(template: dict | None, path: str) -> Errs:
    template = template or {}
    meta = template.get("metadata") or {}
    errs = validate_labels(meta.get("labels"), f"{path}.labels")
    errs += validate_annotations(meta.get("annotations"), f"{path}.annotations")
    errs += validate_pod_spec(template.get("spec"), f"{path}.spec")
    if (template.get("spec") or {}).get("ephemeralContainers"):
        errs.append(fe.forbidden(f"{path}.spec.ephemeralContainers", "ephemeral containers not allowed in pod template"))
    return errs


def validate_pod(pod: dict) -> Errs:
    errs = validate_object_meta(pod.get("metadata"), True, name_is_dns_subdomain)
    errs += validate_pod_spec(pod.get("spec"), "spec")
    if (pod.get("spec") or {}).get("ephemeralContainers"):
        errs.append(fe.forbidden("spec.ephemeralContainers", "cannot be set on create"))
    return errs


UPDATABLE_POD_SPEC_FIELDS = [
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
]


def _diff(old: Any, new: Any, path: str, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            _diff(old.get(k), new.get(k), f"{path}.{k}", out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            _diff(a, b, f"{path}[{i}]", out)
    elif old != new:
        if old is not None:
            out.append(f"- {path}: {fe.format_bad_value(old)}")
        if new is not None:
            out.append(f"+ {path}: {fe.format_bad_value(new)}")


def validate_pod_update(new: dict, old: dict) -> Errs:
    """``ValidatePodUpdate``: only images, activeDeadlineSeconds, added tolerations and a few
    other fields may change on a running pod."""
    errs = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    errs += validate_object_meta(new.get("metadata"), True, name_is_dns_subdomain)
    errs += validate_pod_spec(new.get("spec"), "spec")
    nspec, ospec = new.get("spec") or {}, old.get("spec") or {}
    for kind in ("containers", "initContainers"):
        nc, oc = nspec.get(kind) or [], ospec.get(kind) or []
        if len(nc) != len(oc):
            errs.append(fe.forbidden(f"spec.{kind}", "pod updates may not add or remove containers"))
            return errs
        for i, c in enumerate(nc):
            image = c.get("image") or ""
            if image and image.strip() != image:
                errs.append(fe.invalid(f"spec.{kind}[{i}].image", image, "must not have leading or trailing whitespace"))
    nads, oads = nspec.get("activeDeadlineSeconds"), ospec.get("activeDeadlineSeconds")
    if nads is not None:
        if nads < 0 or nads > 2147483647:
            errs.append(fe.invalid("spec.activeDeadlineSeconds", nads, inclusive_range_error(0, 2147483647)))
            return errs
        if oads is not None and oads < nads:
            errs.append(fe.invalid("spec.activeDeadlineSeconds", nads, "must be less than or equal to previous value"))
            return errs
    elif oads is not None:
        errs.append(fe.invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"))
    old_tols = ospec.get("tolerations") or []
    new_tols = nspec.get("tolerations") or []
    for ot in old_tols:
        strip = {k: v for k, v in ot.items() if k != "tolerationSeconds"}
        if not any({k: v for k, v in nt.items() if k != "tolerationSeconds"} == strip for nt in new_tols):
            errs.append(fe.forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"))
    if nspec == ospec:
        return errs
    munged = dict(nspec)
    for kind in ("containers", "initContainers"):
        if kind in nspec:
            munged[kind] = [dict(c, image=oc.get("image")) for c, oc in zip(nspec[kind], ospec.get(kind) or [])]
    for f in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        munged.pop(f, None)
        if f in ospec:
            munged[f] = ospec[f]
    otgps, ntgps = ospec.get("terminationGracePeriodSeconds"), munged.get("terminationGracePeriodSeconds")
    if otgps is not None and otgps < 0 and ntgps == 1:
        munged["terminationGracePeriodSeconds"] = otgps
    if munged != ospec:
        lines: list[str] = []
        _diff(ospec, munged, "spec", lines)
        errs.append(fe.forbidden("spec", "pod updates may not change fields other than "
                                 + ",".join(UPDATABLE_POD_SPEC_FIELDS) + "\n" + "\n".join(lines)))
    return errs


# --- workloads (apps/v1) -------------------------------------------------------------------------------

def _int_or_percent_value(v: Any) -> int:
    """``getIntOrPercentValue``: the number of a percentage, else ``IntValue()`` (0 if unparseable)."""
    if isinstance(v, str):
        if not is_valid_percent(v):
            return int(v[:-1])
        return int(v) if re.fullmatch(r"[+-]?[0-9]+", v) else 0
    return v if isinstance(v, int) else 0


def validate_positive_int_or_percent(v: Any, path: str) -> Errs:
    if isinstance(v, str):
        return [fe.invalid(path, Printed(v), m) for m in is_valid_percent(v)]
    if isinstance(v, int) and not isinstance(v, bool):
        return validate_nonnegative_field(v, path)
    return [fe.invalid(path, v, "must be an integer or percentage (e.g '5%%')")]


def is_not_more_than_100_percent(v: Any, path: str) -> Errs:
    if isinstance(v, str) and not is_valid_percent(v) and int(v[:-1]) > 100:
        return [fe.invalid(path, Printed(v), "must not be greater than 100%")]
    return []


def _iop(v: Any) -> Any:
    """A nil IntOrString becomes the zero value (int 0), as in the internal API types."""
    return 0 if v is None else v


def validate_rolling_update_deployment(ru: dict, path: str) -> Errs:
    mu, ms = _iop(ru.get("maxUnavailable")), _iop(ru.get("maxSurge"))
    errs = validate_positive_int_or_percent(mu, f"{path}.maxUnavailable")
    errs += validate_positive_int_or_percent(ms, f"{path}.maxSurge")
    if _int_or_percent_value(mu) == 0 and _int_or_percent_value(ms) == 0:
        errs.append(fe.invalid(f"{path}.maxUnavailable", Printed(str(mu)), "may not be 0 when `maxSurge` is 0"))
    errs += is_not_more_than_100_percent(mu, f"{path}.maxUnavailable")
    return errs


def validate_deployment_strategy(strategy: dict | None, path: str) -> Errs:
    strategy = strategy or {}
    t = strategy.get("type")
    if t == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            return [fe.forbidden(f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if t == "RollingUpdate":
        if strategy.get("rollingUpdate") is None:
            return [fe.required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
        return validate_rolling_update_deployment(strategy["rollingUpdate"], f"{path}.rollingUpdate")
    return [fe.not_supported(path, Printed(fe.go_value(strategy)), ["Recreate", "RollingUpdate"])]


def _go_string_map(labels: dict | None) -> Printed:
    if labels is None:
        return Printed("map[string]string(nil)")
    return Printed(fe.go_value(labels))


def validate_pod_template_spec_for_replica_set(template: dict | None, selector, path: str, owner: str) -> Errs:
    if template is None:
        return [fe.required(path)]
    errs: Errs = []
    labels = (template.get("metadata") or {}).get("labels")
    if not selector.empty() and not selector.matches(labels or {}):
        errs.append(fe.invalid(f"{path}.metadata.labels", _go_string_map(labels),
                               "`selector` does not match template `labels`"))
    errs += validate_pod_template_spec(template, path)
    tspec = template.get("spec") or {}
    if tspec.get("restartPolicy") != "Always":
        errs.append(fe.not_supported(f"{path}.spec.restartPolicy", tspec.get("restartPolicy", ""), ["Always"]))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(fe.forbidden(f"{path}.spec.activeDeadlineSeconds", f"activeDeadlineSeconds in {owner} is not Supported"))
    return errs


def _selector_errors(spec: dict, path: str, what: str) -> tuple[Errs, Any]:
    errs: Errs = []
    sel = spec.get("selector")
    if sel is None:
        errs.append(fe.required(f"{path}.selector"))
    else:
        errs += validate_label_selector(sel, f"{path}.selector")
        if len(sel.get("matchLabels") or {}) + len(sel.get("matchExpressions") or []) == 0:
            errs.append(fe.invalid(f"{path}.selector", go_label_selector(sel), f"empty selector is invalid for {what}"))
    try:
        selector = label_selector_as_selector(sel)
    except ValueError:
        errs.append(fe.invalid(f"{path}.selector", go_label_selector(sel), "invalid label selector"))
        selector = None
    return errs, selector


def validate_replica_set_spec(spec: dict | None, path: str = "spec") -> Errs:
    spec = spec or {}
    errs = validate_nonnegative_field(spec.get("replicas", 0), f"{path}.replicas")
    errs += validate_nonnegative_field(spec.get("minReadySeconds", 0), f"{path}.minReadySeconds")
    serrs, selector = _selector_errors(spec, path, "deployment")
    errs += serrs
    if selector is not None:
        errs += validate_pod_template_spec_for_replica_set(spec.get("template"), selector, f"{path}.template", "ReplicaSet")
    return errs


def validate_deployment_spec(spec: dict | None, path: str = "spec") -> Errs:
    spec = spec or {}
    errs = validate_nonnegative_field(spec.get("replicas", 0), f"{path}.replicas")
    serrs, selector = _selector_errors(spec, path, "deployment")
    errs += serrs
    if selector is not None:
        errs += validate_pod_template_spec_for_replica_set(spec.get("template"), selector, f"{path}.template", "ReplicaSet")
    errs += validate_deployment_strategy(spec.get("strategy"), f"{path}.strategy")
    errs += validate_nonnegative_field(spec.get("minReadySeconds", 0), f"{path}.minReadySeconds")
    if spec.get("revisionHistoryLimit") is not None:
        errs += validate_nonnegative_field(spec["revisionHistoryLimit"], f"{path}.revisionHistoryLimit")
    pds = spec.get("progressDeadlineSeconds")
    if pds is not None:
        errs += validate_nonnegative_field(pds, f"{path}.progressDeadlineSeconds")
        if pds <= spec.get("minReadySeconds", 0):
            errs.append(fe.invalid(f"{path}.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
    return errs


def validate_rolling_update_daemon_set(ru: dict, path: str) -> Errs:
    mu, ms = _iop(ru.get("maxUnavailable")), _iop(ru.get("maxSurge"))
    errs = validate_positive_int_or_percent(mu, f"{path}.maxUnavailable")
    errs += validate_positive_int_or_percent(ms, f"{path}.maxSurge")
    errs += is_not_more_than_100_percent(mu, f"{path}.maxUnavailable")
    errs += is_not_more_than_100_percent(ms, f"{path}.maxSurge")
    has_unavailable = _int_or_percent_value(mu) != 0
    has_surge = _int_or_percent_value(ms) != 0
    if has_unavailable and has_surge:
        errs.append(fe.invalid(f"{path}.maxSurge", Printed(str(ms)), "may not be set when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        errs.append(fe.required(f"{path}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return errs


def validate_daemon_set_spec(spec: dict | None, path: str = "spec") -> Errs:
    spec = spec or {}
    sel = spec.get("selector")
    errs = validate_label_selector(sel, f"{path}.selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels")
    try:
        selector = label_selector_as_selector(sel)
    except ValueError:
        selector = None
    if selector is not None and not selector.matches(labels or {}):
        errs.append(fe.invalid(f"{path}.template.metadata.labels", _go_string_map(labels),
                               "`selector` does not match template `labels`"))
    if sel is not None and len(sel.get("matchLabels") or {}) + len(sel.get("matchExpressions") or []) == 0:
        errs.append(fe.invalid(f"{path}.selector", go_label_selector(sel), "empty selector is invalid for daemonset"))
    errs += validate_pod_template_spec(template, f"{path}.template")
    tspec = template.get("spec") or {}
    if tspec.get("restartPolicy") != "Always":
        errs.append(fe.not_supported(f"{path}.template.spec.restartPolicy", tspec.get("restartPolicy", ""), ["Always"]))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(fe.forbidden(f"{path}.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in DaemonSet is not Supported"))
    errs += validate_nonnegative_field(spec.get("minReadySeconds", 0), f"{path}.minReadySeconds")
    us = spec.get("updateStrategy") or {}
    t = us.get("type")
    if t == "RollingUpdate":
        if us.get("rollingUpdate") is None:
            errs.append(fe.required(f"{path}.updateStrategy.rollingUpdate"))
        else:
            errs += validate_rolling_update_daemon_set(us["rollingUpdate"], f"{path}.updateStrategy.rollingUpdate")
    elif t != "OnDelete":
        errs.append(fe.not_supported(f"{path}.updateStrategy", Printed(fe.go_value(us)), ["RollingUpdate", "OnDelete"]))
    if spec.get("revisionHistoryLimit") is not None:
        errs += validate_nonnegative_field(spec["revisionHistoryLimit"], f"{path}.revisionHistoryLimit")
    return errs


def validate_stateful_set_spec(spec: dict | None, path: str = "spec") -> Errs:
    spec = spec or {}
    errs: Errs = []
    pmp = spec.get("podManagementPolicy") or ""
    if not pmp:
        errs.append(fe.required(f"{path}.podManagementPolicy"))
    elif pmp not in ("OrderedReady", "Parallel"):
        errs.append(fe.invalid(f"{path}.podManagementPolicy", pmp, "must be 'OrderedReady' or 'Parallel'"))
    us = spec.get("updateStrategy") or {}
    t = us.get("type") or ""
    if not t:
        errs.append(fe.required(f"{path}.updateStrategy"))
    elif t == "OnDelete":
        if us.get("rollingUpdate") is not None:
            errs.append(fe.invalid(f"{path}.updateStrategy.rollingUpdate", Printed(fe.go_value(us["rollingUpdate"])),
                                   "only allowed for updateStrategy 'RollingUpdate'"))
    elif t == "RollingUpdate":
        ru = us.get("rollingUpdate")
        if ru is not None:
            errs += validate_nonnegative_field(ru.get("partition", 0), f"{path}.updateStrategy.rollingUpdate.partition")
    else:
        errs.append(fe.invalid(f"{path}.updateStrategy", Printed(fe.go_value(us)), "must be 'RollingUpdate' or 'OnDelete'"))
    errs += validate_nonnegative_field(spec.get("replicas", 0), f"{path}.replicas")
    serrs, selector = _selector_errors(spec, path, "statefulset")
    errs += serrs
    if selector is not None:
        errs += validate_pod_template_spec_for_replica_set(spec.get("template"), selector, f"{path}.template", "StatefulSet")
    return errs


# --- batch ---------------------------------------------------------------------------------------------

def validate_job_spec(spec: dict | None, path: str = "spec", template_only_selector: bool = False) -> Errs:
    spec = spec or {}
    errs: Errs = []
    for f in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        if spec.get(f) is not None:
            errs += validate_nonnegative_field(spec[f], f"{path}.{f}")
    cm = spec.get("completionMode")
    if cm is not None and cm not in ("NonIndexed", "Indexed"):
        errs.append(fe.not_supported(f"{path}.completionMode", cm, ["NonIndexed", "Indexed"]))
    if cm == "Indexed" and spec.get("completions") is None:
        errs.append(fe.required(f"{path}.completions", "when completion mode is Indexed"))
    template = spec.get("template")
    selector = None
    if spec.get("selector") is not None:
        errs += validate_label_selector(spec["selector"], f"{path}.selector")
        try:
            selector = label_selector_as_selector(spec["selector"])
        except ValueError:
            selector = None
    if template is None:
        errs.append(fe.required(f"{path}.template"))
        return errs
    labels = (template.get("metadata") or {}).get("labels")
    if selector is not None and not selector.empty() and not selector.matches(labels or {}):
        errs.append(fe.invalid(f"{path}.template.metadata.labels", _go_string_map(labels),
                               "`selector` does not match template `labels`"))
    errs += validate_pod_template_spec(template, f"{path}.template")
    rp = (template.get("spec") or {}).get("restartPolicy")
    if rp not in ("OnFailure", "Never"):
        errs.append(fe.not_supported(f"{path}.template.spec.restartPolicy", rp or "", ["OnFailure", "Never"]))
    return errs


def parse_cron_schedule(schedule: str) -> None:
    """Check a cron schedule like ``cron.ParseStandard``; raises ValueError with its message."""
    from .cron import parse_standard

    if not schedule:
        raise ValueError("empty spec string")
    parse_standard(schedule)


def validate_cron_job_spec(spec: dict | None, path: str = "spec") -> Errs:
    spec = spec or {}
    errs: Errs = []
    schedule = spec.get("schedule") or ""
    if not schedule:
        errs.append(fe.required(f"{path}.schedule"))
    else:
        try:
            parse_cron_schedule(schedule)
        except ValueError as e:
            errs.append(fe.invalid(f"{path}.schedule", schedule, str(e)))
        if "TZ" in schedule:
            errs.append(fe.invalid(f"{path}.schedule", schedule,
                                   "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    if spec.get("startingDeadlineSeconds") is not None:
        errs += validate_nonnegative_field(spec["startingDeadlineSeconds"], f"{path}.startingDeadlineSeconds")
    cp = spec.get("concurrencyPolicy") or ""
    if not cp:
        errs.append(fe.required(f"{path}.concurrencyPolicy"))
    elif cp not in ("Allow", "Forbid", "Replace"):
        errs.append(fe.not_supported(f"{path}.concurrencyPolicy", cp, ["Allow", "Forbid", "Replace"]))
    for f in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        if spec.get(f) is not None:
            errs += validate_nonnegative_field(spec[f], f"{path}.{f}")
    jt = spec.get("jobTemplate") or {}
    errs += validate_labels((jt.get("metadata") or {}).get("labels"), f"{path}.jobTemplate.metadata.labels")
    errs += validate_job_spec(jt.get("spec"), f"{path}.jobTemplate.spec")
    return errs


# --- services, config, nodes, namespaces ... -------------------------------------------------------------

def _is_headless(spec: dict) -> bool:
    return spec.get("clusterIP") == "None" or (spec.get("clusterIPs") or [None])[0] == "None"


def _cluster_ips(spec: dict) -> list:
    ips = spec.get("clusterIPs")
    if ips:
        return list(ips)
    return [spec["clusterIP"]] if spec.get("clusterIP") else []


def _go_service_port_key(proto: str, port: Any) -> Printed:
    return Printed(f'core.ServicePort{{Name:"", Protocol:{go_quote(proto)}, AppProtocol:(*string)(nil), '
                   f'Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}')


def validate_service(svc: dict) -> Errs:
    errs = validate_object_meta(svc.get("metadata"), True, name_is_dns1035_label)
    spec = svc.get("spec") or {}
    stype = spec.get("type") or ""
    headless = _is_headless(spec)
    ports = spec.get("ports") or []
    if not ports and not headless and stype != "ExternalName":
        errs.append(fe.required("spec.ports"))
    ips = _cluster_ips(spec)
    if stype in ("LoadBalancer", "NodePort") and headless:
        errs.append(fe.invalid("spec.clusterIPs[0]", ips[0], f"may not be set to 'None' for {stype} services"))
    if stype == "ExternalName":
        if ips:
            errs.append(fe.forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        cname = (spec.get("externalName") or "").rstrip(".")
        if cname:
            errs += validate_dns1123_subdomain(cname, "spec.externalName")
        else:
            errs.append(fe.required("spec.externalName"))
    names: set = set()
    for i, sp in enumerate(ports):
        p = f"spec.ports[{i}]"
        name = sp.get("name") or ""
        if len(ports) > 1 and not name:
            errs.append(fe.required(f"{p}.name"))
        elif name:
            errs += validate_dns1123_label(name, f"{p}.name")
            if name in names:
                errs.append(fe.duplicate(f"{p}.name", name))
            else:
                names.add(name)
        errs += [fe.invalid(f"{p}.port", sp.get("port", 0), m) for m in is_valid_port_num(sp.get("port", 0))]
        proto = sp.get("protocol") or ""
        if not proto:
            errs.append(fe.required(f"{p}.protocol"))
        elif proto not in SUPPORTED_PORT_PROTOCOLS:
            errs.append(fe.not_supported(f"{p}.protocol", proto, SUPPORTED_PORT_PROTOCOLS))
        errs += _port_num_or_name(sp.get("targetPort", 0), f"{p}.targetPort")
    if spec.get("selector") is not None:
        errs += validate_labels(spec["selector"], "spec.selector")
    sa = spec.get("sessionAffinity") or ""
    if not sa:
        errs.append(fe.required("spec.sessionAffinity"))
    elif sa not in ("ClientIP", "None"):
        errs.append(fe.not_supported("spec.sessionAffinity", sa, ["ClientIP", "None"]))
    if sa == "ClientIP":
        timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
        if timeout is None:
            errs.append(fe.required("spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                                    "when session affinity type is ClientIP"))
        elif timeout <= 0 or timeout > 86400:
            errs.append(fe.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout,
                                   "must be greater than 0 and less than 86400"))
    elif sa == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(fe.forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                errs.append(fe.invalid("spec.clusterIPs", ips, "'None' must be the first and only value"))
            continue
        errs += is_valid_ip(f"spec.clusterIPs[{i}]", ip)
    for i, ip in enumerate(spec.get("externalIPs") or []):
        errs += is_valid_ip(f"spec.externalIPs[{i}]", ip)
    if not stype:
        errs.append(fe.required("spec.type"))
    elif stype not in ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"):
        errs.append(fe.not_supported("spec.type", stype, ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]))
    if stype == "ClusterIP":
        for i, sp in enumerate(ports):
            if sp.get("nodePort"):
                errs.append(fe.forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))
    node_ports: set = set()
    for i, sp in enumerate(ports):
        if not sp.get("nodePort"):
            continue
        k = (sp.get("protocol"), sp["nodePort"])
        if k in node_ports:
            errs.append(fe.duplicate(f"spec.ports[{i}].nodePort", sp["nodePort"]))
        node_ports.add(k)
    seen: set = set()
    for i, sp in enumerate(ports):
        k = (sp.get("protocol", ""), sp.get("port", 0))
        if k in seen:
            errs.append(fe.duplicate(f"spec.ports[{i}]", _go_service_port_key(*k)))
        seen.add(k)
    if spec.get("allocateLoadBalancerNodePorts") is not None and stype != "LoadBalancer":
        errs.append(fe.forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"))
    if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        errs.append(fe.required("allocateLoadBalancerNodePorts"))
    external = stype in ("LoadBalancer", "NodePort") or (stype == "ClusterIP" and spec.get("externalIPs"))
    etp = spec.get("externalTrafficPolicy") or ""
    if not external:
        if etp:
            errs.append(fe.invalid("spec.externalTrafficPolicy", etp, "may only be set for externally-accessible services"))
    elif not etp:
        errs.append(fe.required("spec.externalTrafficPolicy"))
    elif etp not in ("Cluster", "Local"):
        errs.append(fe.not_supported("spec.externalTrafficPolicy", etp, ["Cluster", "Local"]))
    itp = spec.get("internalTrafficPolicy")
    if itp is None and stype in ("NodePort", "LoadBalancer", "ClusterIP"):
        errs.append(fe.required("spec.internalTrafficPolicy"))
    if itp is not None and itp not in ("Cluster", "Local"):
        errs.append(fe.not_supported("spec.internalTrafficPolicy", itp, ["Cluster", "Local"]))
    return errs


def validate_service_update(new: dict, old: dict) -> Errs:
    """ClusterIPs may not change once set (the REST layer keeps the old ones when the update
    leaves them empty, so an empty new value is not compared)."""
    errs = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    nspec, ospec = new.get("spec") or {}, old.get("spec") or {}
    if "ExternalName" not in (nspec.get("type"), ospec.get("type")):
        nips, oips = _cluster_ips(nspec), _cluster_ips(ospec)
        if nips and not (_is_headless(nspec) and _is_headless(ospec)):
            if len(nips) == len(oips):
                for i, ip in enumerate(oips):
                    if ip != nips[i]:
                        errs.append(fe.invalid(f"spec.clusterIPs[{i}]", nips, "may not change once set"))
            elif len(nips) < len(oips) and nips[0] != oips[0]:
                errs.append(fe.invalid("spec.clusterIPs[0]", nips, "may not change once set"))
    return errs + validate_service(new)


def _validate_data_keys(obj: dict) -> Errs:
    errs: Errs = []
    data = obj.get("data") or {}
    binary = obj.get("binaryData") or {}
    for k in data:
        errs += [fe.invalid(f"data[{k}]", k, m) for m in is_config_map_key(k)]
    for k in binary:
        errs += [fe.invalid(f"binaryData[{k}]", k, m) for m in is_config_map_key(k)]
        if k in data:
            errs.append(fe.invalid(f"data[{k}]", k, "duplicate of key present in binaryData"))
    size = sum(len(k) + len(str(v)) for k, v in data.items()) + sum(len(k) + len(str(v)) for k, v in binary.items())
    if size > 1024 * 1024:
        errs.append(fe.too_long("", "", 1024 * 1024))
    return errs


def validate_config_map(cm: dict) -> Errs:
    return validate_object_meta(cm.get("metadata"), True, name_is_dns_subdomain) + _validate_data_keys(cm)


def _validate_immutable_data(new: dict, old: dict) -> Errs:
    errs: Errs = []
    if old.get("immutable"):
        if not new.get("immutable"):
            errs.append(fe.forbidden("immutable", "field is immutable when `immutable` is set"))
        if new.get("data") != old.get("data"):
            errs.append(fe.forbidden("data", "field is immutable when `immutable` is set"))
        if new.get("binaryData") != old.get("binaryData") and "binaryData" in new:
            errs.append(fe.forbidden("binaryData", "field is immutable when `immutable` is set"))
    return errs


def validate_secret(s: dict) -> Errs:
    errs = validate_object_meta(s.get("metadata"), True, name_is_dns_subdomain)
    data = s.get("data") or {}
    for k in data:
        errs += [fe.invalid(f"data[{k}]", k, m) for m in is_config_map_key(k)]
    t = s.get("type") or "Opaque"
    if t == "kubernetes.io/service-account-token":
        if not ((s.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/service-account.name"):
            errs.append(fe.required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif t == "kubernetes.io/dockerconfigjson":
        if ".dockerconfigjson" not in data:
            errs.append(fe.required("data[.dockerconfigjson]"))
    elif t == "kubernetes.io/tls":
        for k in ("tls.crt", "tls.key"):
            if k not in data:
                errs.append(fe.required(f"data[{k}]"))
    return errs


def validate_namespace(ns: dict) -> Errs:
    errs = validate_object_meta(ns.get("metadata"), False, name_is_dns_label)
    for f in (ns.get("spec") or {}).get("finalizers") or []:
        msgs = is_qualified_name(f)
        if msgs:
            errs += [fe.invalid("spec.finalizers", f, m) for m in msgs]
        elif "/" not in f and f not in ("kubernetes", "orphan", "foregroundDeletion"):
            errs.append(fe.invalid("spec.finalizers", f,
                                   "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def validate_node(node: dict) -> Errs:
    errs = validate_object_meta(node.get("metadata"), False, name_is_dns_subdomain)
    uniq: dict = {}
    for i, t in enumerate((node.get("spec") or {}).get("taints") or []):
        p = f"metadata.taints[{i}]"
        errs += [fe.invalid(f"{p}.key", t.get("key", ""), m) for m in is_qualified_name(t.get("key", ""))]
        msgs = is_valid_label_value(t.get("value", ""))
        if msgs:
            errs.append(fe.invalid(f"{p}.value", t.get("value", ""), ";".join(msgs)))
        effect = t.get("effect") or ""
        if not effect:
            errs.append(fe.required(f"{p}.effect"))
        elif effect not in _TAINT_EFFECTS:
            errs.append(fe.not_supported(f"{p}.effect", effect, _TAINT_EFFECTS))
        if t.get("key") in uniq.get(effect, set()):
            err = fe.duplicate(p, Printed(fe.go_value(t)))
            err.detail = "taints must be unique by key and effect pair"
            errs.append(err)
            continue
        uniq.setdefault(effect, set()).add(t.get("key"))
    status = node.get("status") or {}
    for section in ("capacity", "allocatable"):
        for k, q in (status.get(section) or {}).items():
            got = _quantity(q)
            if got is not None and got[0] < 0:
                errs.append(fe.invalid(f"status.{section}.{k}", format_quantity(*got), IS_NEGATIVE_ERROR_MSG))
    for i, cidr in enumerate((node.get("spec") or {}).get("podCIDRs") or []):
        try:
            ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            errs.append(fe.invalid(f"spec.podCIDRs[{i}]", cidr,
                                   "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
    return errs


@functools.lru_cache(maxsize=65536)
def _ip_version(text: str) -> int:
    """4 or 6 for a valid IP address, 0 otherwise."""
    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        return 0


def validate_endpoint_slice(es: dict) -> Errs:
    errs = validate_object_meta(es.get("metadata"), True, name_is_dns_subdomain)
    at = es.get("addressType") or ""
    if not at:
        errs.append(fe.required("addressType"))
    elif at not in ("FQDN", "IPv4", "IPv6"):
        errs.append(fe.not_supported("addressType", at, ["FQDN", "IPv4", "IPv6"]))
    endpoints = es.get("endpoints") or []
    if len(endpoints) > 1000:
        errs.append(fe.too_many("endpoints", len(endpoints), 1000))
    for i, ep in enumerate(endpoints):
        addrs = ep.get("addresses") or []
        ap = f"endpoints[{i}].addresses"
        if not addrs:
            errs.append(fe.required(ap, "must contain at least 1 address"))
        elif len(addrs) > 100:
            errs.append(fe.too_many(ap, len(addrs), 100))
        for j, a in enumerate(addrs):
            if at in ("IPv4", "IPv6") and _ip_version(a) != (4 if at == "IPv4" else 6):
                errs.append(fe.invalid(f"{ap}[{j}]", a, f"must be a valid {at} address"))
    names: set = set()
    for i, port in enumerate(es.get("ports") or []):
        p = f"ports[{i}]"
        name = port.get("name") or ""
        if name:
            errs += validate_dns1123_label(name, f"{p}.name")
        if name in names:
            errs.append(fe.duplicate(f"{p}.name", name))
        names.add(name)
        proto = port.get("protocol")
        if proto is None:
            errs.append(fe.required(f"{p}.protocol"))
        elif proto not in SUPPORTED_PORT_PROTOCOLS:
            errs.append(fe.not_supported(f"{p}.protocol", proto, SUPPORTED_PORT_PROTOCOLS))
    return errs


def validate_lease(lease: dict) -> Errs:
    errs = validate_object_meta(lease.get("metadata"), True, name_is_dns_subdomain)
    spec = lease.get("spec") or {}
    lds = spec.get("leaseDurationSeconds")
    if lds is not None and lds <= 0:
        errs.append(fe.invalid("spec.leaseDurationSeconds", lds, "must be greater than 0"))
    lt = spec.get("leaseTransitions")
    if lt is not None and lt < 0:
        errs.append(fe.invalid("spec.leaseTransitions", lt, IS_NEGATIVE_ERROR_MSG))
    return errs


def validate_hpa(hpa: dict) -> Errs:
    errs = validate_object_meta(hpa.get("metadata"), True, name_is_dns_subdomain)
    spec = hpa.get("spec") or {}
    mn, mx = spec.get("minReplicas"), spec.get("maxReplicas", 0)
    if mn is not None and mn < 1:
        errs.append(fe.invalid("spec.minReplicas", mn, "must be greater than or equal to 1"))
    if mx < 1:
        errs.append(fe.invalid("spec.maxReplicas", mx, "must be greater than 0"))
    if mn is not None and mx < mn:
        errs.append(fe.invalid("spec.maxReplicas", mx, "must be greater than or equal to `minReplicas`"))
    return errs


def validate_pdb(pdb: dict) -> Errs:
    errs = validate_object_meta(pdb.get("metadata"), True, name_is_dns_subdomain)
    spec = pdb.get("spec") or {}
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errs.append(fe.invalid("spec.minAvailable", Printed(str(spec["minAvailable"])),
                               "minAvailable and maxUnavailable cannot be both set"))
    for f in ("minAvailable", "maxUnavailable"):
        if spec.get(f) is not None:
            errs += validate_positive_int_or_percent(spec[f], f"spec.{f}")
            errs += is_not_more_than_100_percent(spec[f], f"spec.{f}")
    errs += validate_label_selector(spec.get("selector"), "spec.selector")
    return errs


def validate_priority_class(pc: dict) -> Errs:
    errs = validate_object_meta(pc.get("metadata"), False, name_is_dns_subdomain)
    name = (pc.get("metadata") or {}).get("name", "")
    if not name.startswith("system-") and pc.get("value", 0) > 1000000000:
        errs.append(fe.forbidden("value", "maximum allowed value of a user defined priority is 1000000000"))
    pp = pc.get("preemptionPolicy")
    if pp is not None and pp not in ("PreemptLowerPriority", "Never"):
        errs.append(fe.not_supported("preemptionPolicy", pp, ["PreemptLowerPriority", "Never"]))
    return errs


RBAC_GROUP = "rbac.authorization.k8s.io"


def _role_binding(namespaced: bool) -> Callable[[dict], Errs]:
    """pkg/apis/rbac/validation: ValidateRoleBinding / ValidateClusterRoleBinding. The role a binding names need
    not exist (it grants nothing until it does), but the reference itself must be well formed."""
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]

    def validate_binding(obj: dict) -> Errs:
        errs = validate_object_meta(obj.get("metadata"), namespaced, validate_path_segment_name)
        ref = obj.get("roleRef") or {}
        if ref.get("apiGroup", "") != RBAC_GROUP:
            errs.append(fe.not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [RBAC_GROUP]))
        if ref.get("kind", "") not in kinds:
            errs.append(fe.not_supported("roleRef.kind", ref.get("kind", ""), kinds))
        if not ref.get("name"):
            errs.append(fe.required("roleRef.name", ""))
        else:
            errs += [fe.invalid("roleRef.name", ref["name"], m) for m in validate_path_segment_name(ref["name"])]
        for i, sub in enumerate(obj.get("subjects") or []):
            path = f"subjects[{i}]"
            if not sub.get("name"):
                errs.append(fe.required(f"{path}.name", ""))
            kind = sub.get("kind", "")
            if kind == "ServiceAccount":
                if sub.get("apiGroup", ""):
                    errs.append(fe.not_supported(f"{path}.apiGroup", sub.get("apiGroup"), [""]))
                if not namespaced and not sub.get("namespace"):
                    errs.append(fe.required(f"{path}.namespace", ""))
            elif kind in ("User", "Group"):
                if sub.get("apiGroup", "") != RBAC_GROUP:
                    errs.append(fe.not_supported(f"{path}.apiGroup", sub.get("apiGroup", ""), [RBAC_GROUP]))
            else:
                errs.append(fe.not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
        return errs

    return validate_binding


def _go_role_ref(ref: dict) -> Printed:
    return Printed(f'rbac.RoleRef{{APIGroup:{go_quote(ref.get("apiGroup", ""))}, Kind:{go_quote(ref.get("kind", ""))}, '
                   f'Name:{go_quote(ref.get("name", ""))}}}')


def _meta_only(namespaced: bool, name_fn: NameFn) -> Callable[[dict], Errs]:
    return lambda obj: validate_object_meta(obj.get("metadata"), namespaced, name_fn)


def _workload(spec_fn: Callable[[dict, str], Errs]) -> Callable[[dict], Errs]:
    return lambda obj: validate_object_meta(obj.get("metadata"), True, name_is_dns_subdomain) + spec_fn(
        obj.get("spec"), "spec")


def validate_cron_job(cj: dict) -> Errs:
    errs = validate_object_meta(cj.get("metadata"), True, name_is_dns_subdomain)
    name = (cj.get("metadata") or {}).get("name", "")
    if len(name) > 52:
        errs.append(fe.invalid("metadata.name", name, "must be no more than 52 characters"))
    return errs + validate_cron_job_spec(cj.get("spec"))


# --- networking.k8s.io NetworkPolicy (pkg/apis/networking/validation/validation.go) ----------------------------

NETWORK_POLICY_PROTOCOLS = ("TCP", "UDP", "SCTP")
NETWORK_POLICY_TYPES = ("Ingress", "Egress")


def _parse_cidr_sloppy(value: Any):
    """``netutils.ParseCIDRSloppy``: an address, a slash and a prefix length (host bits may be set)."""
    if not isinstance(value, str) or "/" not in value:
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def is_valid_cidr_for_legacy_field(path: str, value: Any) -> Errs:
    """``IsValidCIDRForLegacyField`` without the StrictIPCIDRValidation gate (off by default)."""
    if _parse_cidr_sloppy(value) is None:
        return [fe.invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


def validate_network_policy_port(port: dict, path: str) -> Errs:
    errs: Errs = []
    proto = port.get("protocol")
    if proto is not None and proto not in NETWORK_POLICY_PROTOCOLS:
        errs.append(fe.not_supported(f"{path}.protocol", proto, NETWORK_POLICY_PROTOCOLS))
    num, end = port.get("port"), port.get("endPort")
    if num is not None:
        if isinstance(num, int) and not isinstance(num, bool):
            errs += [fe.invalid(f"{path}.port", num, m) for m in is_valid_port_num(num)]
            if end is not None:
                if end < num:
                    errs.append(fe.invalid(f"{path}.endPort", end, "must be greater than or equal to `port`"))
                errs += [fe.invalid(f"{path}.endPort", end, m) for m in is_valid_port_num(end)]
        else:
            if end is not None:
                errs.append(fe.invalid(f"{path}.endPort", end, "may not be specified when `port` is non-numeric"))
            errs += [fe.invalid(f"{path}.port", num, m) for m in is_valid_port_name(str(num))]
    elif end is not None:
        errs.append(fe.invalid(f"{path}.endPort", end, "may not be specified when `port` is not specified"))
    return errs


def validate_ip_block(ipb: dict, path: str) -> Errs:
    cidr = ipb.get("cidr") or ""
    if not cidr:
        return [fe.required(f"{path}.cidr")]
    errs = is_valid_cidr_for_legacy_field(f"{path}.cidr", cidr)
    net = _parse_cidr_sloppy(cidr)
    if net is None:
        return errs
    for i, ex in enumerate(ipb.get("except") or []):
        ep = f"{path}.except[{i}]"
        errs += is_valid_cidr_for_legacy_field(ep, ex)
        exn = _parse_cidr_sloppy(ex)
        if exn is None:
            continue
        if exn.version != net.version or exn.network_address not in net or net.prefixlen >= exn.prefixlen:
            errs.append(fe.invalid(ep, ex, "must be a strict subset of `cidr`"))
    return errs


def validate_network_policy_peer(peer: dict, path: str) -> Errs:
    errs: Errs = []
    n = 0
    if peer.get("podSelector") is not None:
        n += 1
        errs += validate_label_selector(peer["podSelector"], f"{path}.podSelector")
    if peer.get("namespaceSelector") is not None:
        n += 1
        errs += validate_label_selector(peer["namespaceSelector"], f"{path}.namespaceSelector")
    if peer.get("ipBlock") is not None:
        n += 1
        errs += validate_ip_block(peer["ipBlock"], f"{path}.ipBlock")
    if n == 0:
        errs.append(fe.required(path, "must specify a peer"))
    elif n > 1 and peer.get("ipBlock") is not None:
        errs.append(fe.forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_network_policy_spec(spec: dict | None, path: str = "spec") -> Errs:
    spec = spec or {}
    errs = validate_label_selector(spec.get("podSelector") or {}, f"{path}.podSelector")
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(spec.get(direction) or []):
            rp = f"{path}.{direction}[{i}]"
            for j, port in enumerate((rule or {}).get("ports") or []):
                errs += validate_network_policy_port(port or {}, f"{rp}.ports[{j}]")
            for j, peer in enumerate((rule or {}).get(peers_key) or []):
                errs += validate_network_policy_peer(peer or {}, f"{rp}.{peers_key}[{j}]")
    types = spec.get("policyTypes") or []
    if len(types) > len(NETWORK_POLICY_TYPES):
        shown = "[]networking.PolicyType{" + ", ".join(go_quote(str(t)) for t in types) + "}"
        errs.append(fe.invalid(f"{path}.policyTypes", Printed(shown), "may not specify more than two policyTypes"))
        return errs
    for i, t in enumerate(types):
        if t not in NETWORK_POLICY_TYPES:
            errs.append(fe.not_supported(f"{path}.policyTypes[{i}]", t, NETWORK_POLICY_TYPES))
    return errs


def validate_network_policy(np: dict) -> Errs:
    return validate_object_meta(np.get("metadata"), True, name_is_dns_subdomain) + validate_network_policy_spec(
        np.get("spec"), "spec")


VALIDATORS: dict[str, Callable[[dict], Errs]] = {
    "Pod": validate_pod,
    "Deployment": _workload(validate_deployment_spec),
    "ReplicaSet": _workload(validate_replica_set_spec),
    "DaemonSet": _workload(validate_daemon_set_spec),
    "StatefulSet": _workload(validate_stateful_set_spec),
    "Job": _workload(validate_job_spec),
    "CronJob": validate_cron_job,
    "Service": validate_service,
    "ConfigMap": validate_config_map,
    "Secret": validate_secret,
    "Namespace": validate_namespace,
    "Node": validate_node,
    "EndpointSlice": validate_endpoint_slice,
    "Endpoints": _meta_only(True, name_is_dns_subdomain),
    "Lease": validate_lease,
    "ServiceAccount": _meta_only(True, name_is_dns_subdomain),
    "Event": _meta_only(True, name_is_dns_subdomain),
    "PersistentVolume": _meta_only(False, name_is_dns_subdomain),
    "PersistentVolumeClaim": _meta_only(True, name_is_dns_subdomain),
    "HorizontalPodAutoscaler": validate_hpa,
    "PodDisruptionBudget": validate_pdb,
    "PriorityClass": validate_priority_class,
    "NetworkPolicy": validate_network_policy,
    "Ingress": _meta_only(True, name_is_dns_subdomain),
    "Role": _meta_only(True, validate_path_segment_name),
    "RoleBinding": _role_binding(True),
    "ClusterRole": _meta_only(False, validate_path_segment_name),
    "ClusterRoleBinding": _role_binding(False),
    "CustomResourceDefinition": _meta_only(False, name_is_dns_subdomain),
    "ControllerRevision": _meta_only(True, name_is_dns_subdomain),
    "LimitRange": _meta_only(True, name_is_dns_subdomain),
    "ResourceQuota": _meta_only(True, name_is_dns_subdomain),
    "MutatingWebhookConfiguration": _meta_only(False, name_is_dns_subdomain),
    "ValidatingWebhookConfiguration": _meta_only(False, name_is_dns_subdomain),
}

STATEFUL_SET_UPDATABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
                          "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def _update_rules(new: dict, old: dict) -> Errs:
    """The extra checks an update gets on top of validating the new object."""
    kind = new.get("kind")
    nspec, ospec = new.get("spec") or {}, old.get("spec") or {}
    errs: Errs = []
    if kind in ("Deployment", "ReplicaSet", "DaemonSet"):
        # apps/v1: selector is immutable (pkg/registry/apps/*/strategy.go)
        if nspec.get("selector") != ospec.get("selector"):
            errs.append(fe.invalid("spec.selector", go_label_selector(nspec.get("selector")), FIELD_IMMUTABLE_ERROR_MSG))
    elif kind == "StatefulSet":
        rest_new = {k: v for k, v in nspec.items() if k not in STATEFUL_SET_UPDATABLE}
        rest_old = {k: v for k, v in ospec.items() if k not in STATEFUL_SET_UPDATABLE}
        if rest_new != rest_old:
            errs.append(fe.forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                     "'template', 'updateStrategy', 'revisionHistoryLimit', "
                                     "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
    elif kind == "Job":
        if ospec.get("selector") is not None and nspec.get("selector") != ospec.get("selector"):
            errs.append(fe.invalid("spec.selector", go_label_selector(nspec.get("selector")), FIELD_IMMUTABLE_ERROR_MSG))
        if not ospec.get("suspend") and nspec.get("template") != ospec.get("template"):
            errs.append(fe.invalid("spec.template", Printed("core.PodTemplateSpec{...}"), FIELD_IMMUTABLE_ERROR_MSG))
        if nspec.get("completionMode") != ospec.get("completionMode"):
            errs.append(fe.invalid("spec.completionMode", nspec.get("completionMode"), FIELD_IMMUTABLE_ERROR_MSG))
    elif kind in ("ConfigMap", "Secret"):
        errs += _validate_immutable_data(new, old)
        if kind == "Secret" and (new.get("type") or "Opaque") != (old.get("type") or "Opaque"):
            errs.append(fe.invalid("type", new.get("type"), FIELD_IMMUTABLE_ERROR_MSG))
    elif kind == "EndpointSlice":
        errs += validate_immutable_field(new.get("addressType"), old.get("addressType"), "addressType")
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        if (new.get("roleRef") or {}) != (old.get("roleRef") or {}):
            errs.append(fe.invalid("roleRef", _go_role_ref(new.get("roleRef") or {}), "cannot change roleRef"))
    return errs


def _validate_crd(crd: dict) -> Errs:
    """ValidateCustomResourceDefinition (apiextensions-apiserver)."""
    from ..apiserver.crd import validate_custom_resource_definition

    return validate_custom_resource_definition(crd)


VALIDATORS["CustomResourceDefinition"] = _validate_crd


def validate(obj: dict, old: dict | None = None) -> list[FieldError]:
    """Validate an object the way its REST strategy does, after defaulting.

    ``validate(new)`` is the create check; ``validate(new, old)`` the update check.
    Unknown kinds give ``[]``: the registry decides what to do with them.
    """
    kind = obj.get("kind", "")
    if kind not in VALIDATORS:
        return []
    if old is None:
        return VALIDATORS[kind](obj)
    if kind == "Pod":
        return _dedupe(validate_pod_update(obj, old))
    if kind == "Service":
        return _dedupe(validate_service_update(obj, old))
    errs = validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    errs += VALIDATORS[kind](obj)
    errs += _update_rules(obj, old)
    return _dedupe(errs)


def validate_status_update(obj: dict, old: dict) -> list[FieldError]:
    """What a status subresource update is checked for (e.g. ValidatePodStatusUpdate): the metadata update rules
    only; the spec is the stored one, unchanged, and was validated when it was written."""
    return _dedupe(validate_object_meta_update(obj.get("metadata"), old.get("metadata")))


def _dedupe(errs: Errs) -> Errs:
    """Drop repeated errors (metadata is checked by both the update and the object rules)."""
    seen: set = set()
    out: Errs = []
    for e in errs:
        text = e.error()
        if text not in seen:
            seen.add(text)
            out.append(e)
    return out
