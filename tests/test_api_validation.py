"""Validation returns upstream's field paths and messages."""

import copy

import pytest

from k8slab.api.defaults import apply_defaults
from k8slab.api.errors import new_invalid
from k8slab.api.validation import (decode_error, is_dns1123_label, is_dns1123_subdomain, parse_cron_schedule,
                                   validate)

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
               "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
               "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def msgs(obj, old=None):
    return [e.error() for e in validate(obj, old)]


def pod(**spec):
    base = {"containers": [{"name": "web", "image": "nginx"}]}
    base.update(spec)
    return apply_defaults({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": "web", "namespace": "default"}, "spec": base})


def deployment(**spec):
    base = {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}
    base.update(spec)
    return apply_defaults({"apiVersion": "apps/v1", "kind": "Deployment",
                           "metadata": {"name": "web", "namespace": "default"}, "spec": base})


def service(**spec):
    base = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    base.update(spec)
    return apply_defaults({"apiVersion": "v1", "kind": "Service",
                           "metadata": {"name": "web", "namespace": "default"}, "spec": base})


def test_dns_helpers():
    assert is_dns1123_subdomain("Web") == [SUBDOMAIN_MSG]
    assert is_dns1123_label("a.b") == ["must not contain dots"]
    assert is_dns1123_label("-a") == [LABEL_MSG]
    assert is_dns1123_label("a" * 64) == ["must be no more than 63 characters"]


def test_valid_objects_have_no_errors():
    assert validate(pod()) == []
    assert validate(deployment()) == []
    assert validate(service()) == []


def test_metadata_rules():
    p = pod()
    del p["metadata"]["name"]
    assert msgs(p) == ["metadata.name: Required value: name or generateName is required"]
    p = pod()
    p["metadata"]["name"] = "Web_1"
    assert msgs(p) == [f'metadata.name: Invalid value: "Web_1": {SUBDOMAIN_MSG}']
    p = pod()
    del p["metadata"]["namespace"]
    assert msgs(p) == ["metadata.namespace: Required value"]
    p = pod()
    p["metadata"]["labels"] = {"app": "a b"}
    assert msgs(p)[0].startswith('metadata.labels: Invalid value: "a b": a valid label must be an empty string')
    ns = apply_defaults({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b", "namespace": "x"}})
    assert msgs(ns)[:2] == ['metadata.name: Invalid value: "a.b": must not contain dots',
                            "metadata.namespace: Forbidden: not allowed on this type"]


def test_service_names_are_dns1035_labels():
    svc = service()
    svc["metadata"]["name"] = "1web"
    assert msgs(svc) == [f'metadata.name: Invalid value: "1web": {DNS1035_MSG}']


def test_pod_containers():
    assert msgs(pod(containers=[])) == ["spec.containers: Required value"]
    p = pod(containers=[{"name": "web", "image": "nginx"}, {"name": "web", "image": ""}])
    assert msgs(p) == ["spec.containers[1].image: Required value",
                       'spec.containers[1].name: Duplicate value: "web"']
    p = pod(containers=[{"name": "web", "image": "nginx",
                         "ports": [{"containerPort": 70000}, {"containerPort": 80, "protocol": "ICMP"}]}])
    assert msgs(p) == [
        "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        'spec.containers[0].ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"']


def test_pod_resources_and_restart_policy():
    p = pod(containers=[{"name": "web", "image": "nginx",
                         "resources": {"limits": {"cpu": "500m"}, "requests": {"cpu": "1"}}}])
    assert msgs(p) == ['spec.containers[0].resources.requests: Invalid value: "1": '
                       'must be less than or equal to cpu limit of 500m']
    p = pod(containers=[{"name": "web", "image": "nginx", "resources": {"requests": {"memory": "-1Gi"}}}])
    assert msgs(p) == ['spec.containers[0].resources.requests[memory]: Invalid value: "-1Gi": '
                       'must be greater than or equal to 0']
    p = pod(restartPolicy="Sometimes")
    assert msgs(p) == ['spec.restartPolicy: Unsupported value: "Sometimes": '
                       'supported values: "Always", "OnFailure", "Never"']


def test_probes():
    p = pod(containers=[{"name": "web", "image": "nginx",
                         "livenessProbe": {"httpGet": {"port": 80}, "periodSeconds": -1, "successThreshold": 2},
                         "readinessProbe": {"tcpSocket": {"port": "http-web-svc-too-long"}}}])
    assert msgs(p) == [
        "spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0",
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        'spec.containers[0].readinessProbe.tcpSocket.port: Invalid value: "http-web-svc-too-long": '
        'must be no more than 15 characters']
    p = pod(containers=[{"name": "web", "image": "nginx", "livenessProbe": {}}])
    assert "spec.containers[0].livenessProbe: Required value: must specify a handler type" in msgs(apply_defaults(p))


def test_bad_quantity_is_a_decode_error():
    p = pod(containers=[{"name": "web", "image": "nginx", "resources": {"limits": {"cpu": "lots"}}}])
    err = decode_error(p)
    assert err.code == 400
    assert err.message == ('Pod in version "v1" cannot be handled as a Pod: quantities must match the regular '
                           "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    assert decode_error(pod()) is None


def test_deployment_messages_and_status():
    d = deployment(replicas=-1)
    errs = validate(d)
    assert [e.error() for e in errs] == ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
    assert new_invalid("Deployment.apps", "web", errs).message == (
        'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0')


def test_deployment_selector_and_template():
    d = deployment()
    del d["spec"]["selector"]
    # a nil selector selects nothing, so upstream also reports the template mismatch
    assert msgs(d) == ["spec.selector: Required value",
                       'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
                       '`selector` does not match template `labels`']
    d = deployment(selector={})
    assert msgs(d) == ["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
                       "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]
    d = deployment(selector={"matchLabels": {"app": "api"}})
    assert msgs(d) == ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
                       '`selector` does not match template `labels`']
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0]["image"] = ""
    d["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert msgs(d) == ["spec.template.spec.containers[0].image: Required value",
                       'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']


@pytest.mark.parametrize("ru,expected", [
    ({"maxUnavailable": 0, "maxSurge": 0},
     ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"]),
    ({"maxUnavailable": "120%", "maxSurge": 1},
     ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 120%: must not be greater than 100%"]),
    ({"maxUnavailable": "abc", "maxSurge": 1},
     ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: abc: a valid percent string must be a numeric "
      "string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"]),
    ({"maxUnavailable": -1, "maxSurge": 1},
     ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: -1: must be greater than or equal to 0"]),
    ({"maxUnavailable": 0, "maxSurge": "10%"}, []),
])
def test_rolling_update_rules(ru, expected):
    assert msgs(deployment(strategy={"type": "RollingUpdate", "rollingUpdate": ru})) == expected


def test_deployment_counters():
    assert msgs(deployment(revisionHistoryLimit=-2)) == [
        "spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0"]
    assert msgs(deployment(progressDeadlineSeconds=10, minReadySeconds=10)) == [
        "spec.progressDeadlineSeconds: Invalid value: 10: must be greater than minReadySeconds"]
    assert msgs(deployment(strategy={"type": "Recreate", "rollingUpdate": {}})) == [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]


def test_daemonset_rolling_update():
    ds = apply_defaults({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d", "namespace": "x"},
                         "spec": {"selector": {"matchLabels": {"a": "b"}},
                                  "template": {"metadata": {"labels": {"a": "b"}},
                                               "spec": {"containers": [{"name": "c", "image": "i"}]}},
                                  "updateStrategy": {"type": "RollingUpdate",
                                                     "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}}})
    assert msgs(ds) == ["spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: "
                        "may not be set when maxUnavailable is non-zero"]


def test_service_rules():
    assert msgs(service(ports=[])) == ["spec.ports: Required value"]
    assert msgs(service(ports=[], clusterIP="None")) == []
    svc = service(ports=[{"port": 0, "name": "a"}, {"port": 80, "name": "a", "targetPort": "Http"},
                         {"port": 81, "name": "b", "protocol": "ICMP"}])
    assert msgs(svc) == [
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
        'spec.ports[1].name: Duplicate value: "a"',
        'spec.ports[1].targetPort: Invalid value: "Http": must contain only alpha-numeric characters '
        '(a-z, 0-9), and hyphens (-)',
        'spec.ports[2].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"']
    assert msgs(service(ports=[{"port": 80}, {"port": 81}])) == [
        "spec.ports[0].name: Required value", "spec.ports[1].name: Required value"]
    assert msgs(service(type="Magic")) == [
        'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", '
        '"LoadBalancer", "NodePort"']
    assert msgs(service(clusterIP="10.0.0.300")) == [
        'spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']
    assert msgs(service(ports=[{"port": 80, "nodePort": 30080}])) == [
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
    dup = msgs(service(ports=[{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]))
    assert dup == ['spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", '
                   'AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, '
                   'StrVal:""}, NodePort:0}']


def test_job_and_cronjob():
    job = apply_defaults({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "d"},
                          "spec": {"backoffLimit": -1, "parallelism": -2, "template": {"spec": {
                              "containers": [{"name": "c", "image": "busybox"}]}}}})
    assert msgs(job) == [
        "spec.parallelism: Invalid value: -2: must be greater than or equal to 0",
        "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"']
    cj = apply_defaults({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "d"},
                         "spec": {"schedule": "* * *", "jobTemplate": {"spec": {"template": {"spec": {
                             "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}})
    assert msgs(cj) == ['spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]']
    cj["spec"]["schedule"] = "*/5 * * * *"
    assert msgs(cj) == []
    cj["spec"]["concurrencyPolicy"] = "Sometimes"
    assert msgs(cj) == ['spec.concurrencyPolicy: Unsupported value: "Sometimes": '
                        'supported values: "Allow", "Forbid", "Replace"']


@pytest.mark.parametrize("schedule", ["* * * * *", "0 */2 * * 1-5", "@hourly", "@every 1h30m", "0 0 1 jan,jul sun",
                                      "5,10 0-23/2 ? * *"])
def test_cron_parses(schedule):
    parse_cron_schedule(schedule)


@pytest.mark.parametrize("schedule,message", [
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("@often", "unrecognized descriptor: @often"),
    ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
])
def test_cron_errors(schedule, message):
    with pytest.raises(ValueError) as info:
        parse_cron_schedule(schedule)
    assert str(info.value) == message


def test_configmap_namespace_endpointslice_lease():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"},
          "data": {"good.key": "1", "bad key": "2"}}
    assert msgs(cm) == ['data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric '
                        "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used "
                        "for validation is '[-._a-zA-Z0-9]+')"]
    ns = apply_defaults({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Shop"}})
    assert msgs(ns)[0] == f'metadata.name: Invalid value: "Shop": {LABEL_MSG}'
    es = apply_defaults({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                         "metadata": {"name": "e", "namespace": "d"}, "addressType": "IPv5",
                         "endpoints": [{"addresses": []}]})
    assert msgs(es) == ['addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"',
                        "endpoints[0].addresses: Required value: must contain at least 1 address"]
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "n", "namespace": "d"},
             "spec": {"leaseDurationSeconds": 0}}
    assert msgs(lease) == ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]


def test_unknown_kind_is_not_validated():
    assert validate({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}}) == []


def stored(obj, rv="5"):
    o = copy.deepcopy(obj)
    o["metadata"]["resourceVersion"] = rv
    o["metadata"]["uid"] = "u1"
    return o


def test_update_requires_resource_version_and_keeps_identity():
    old = stored(deployment())
    new = copy.deepcopy(old)
    assert validate(new, old) == []
    del new["metadata"]["resourceVersion"]
    assert msgs(new, old) == ['metadata.resourceVersion: Invalid value: "": must be specified for an update']
    new = copy.deepcopy(old)
    new["metadata"]["uid"] = "other"
    assert msgs(new, old) == ['metadata.uid: Invalid value: "other": field is immutable']


def test_deployment_selector_is_immutable():
    old = stored(deployment())
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "v": "2"}}
    new["spec"]["template"]["metadata"]["labels"]["v"] = "2"
    assert msgs(new, old) == ['spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{'
                              '"app":"web", "v":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
                              'field is immutable']
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    assert validate(new, old) == []


def test_service_cluster_ip_may_not_change():
    old = stored(service(clusterIP="10.96.0.20"))
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.96.0.21"
    assert msgs(new, old) == ['spec.clusterIPs[0]: Invalid value: []string{"10.96.0.21"}: may not change once set']
    new["spec"].pop("clusterIP")
    assert validate(new, old) == []  # the REST layer carries the allocated IP over


def test_pod_update_rules():
    old = stored(pod(containers=[{"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}]}]))
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    new["spec"]["activeDeadlineSeconds"] = 100
    assert validate(new, old) == []
    new["spec"]["containers"][0]["ports"][0]["containerPort"] = 8080
    errs = validate(new, old)
    assert len(errs) == 1 and errs[0].field == "spec" and errs[0].type == "FieldValueForbidden"
    assert errs[0].detail.startswith(
        "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
        "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n")
    assert "spec.containers[0].ports[0].containerPort" in errs[0].detail
    new = copy.deepcopy(old)
    new["spec"]["containers"].append({"name": "b", "image": "x"})
    apply_defaults(new)
    assert "spec.containers: Forbidden: pod updates may not add or remove containers" in msgs(new, old)


def test_statefulset_update_scope():
    sts = apply_defaults({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s", "namespace": "d"},
                          "spec": {"serviceName": "s", "selector": {"matchLabels": {"a": "b"}},
                                   "template": {"metadata": {"labels": {"a": "b"}},
                                                "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    assert validate(sts) == []
    old = stored(sts)
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    assert validate(new, old) == []
    new["spec"]["serviceName"] = "other"
    assert msgs(new, old) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
        "are forbidden"]


# -- decoding: fields of the wrong JSON type (encoding/json's UnmarshalTypeError) ---------------------------------

import pytest as _pytest  # noqa: E402

from k8slab.api.schema import type_error  # noqa: E402


@_pytest.mark.parametrize("obj,message", [
    ({"kind": "Deployment", "spec": {"replicas": "three"}},
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ({"kind": "Pod", "spec": {"containers": {"name": "c"}}},
     "json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container"),
    ({"kind": "Pod", "metadata": {"labels": {"a": 1}}},
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
    ({"kind": "Service", "spec": {"ports": [{"port": "eighty"}]}},
     "json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32"),
    ({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "c", "ports": [
        {"containerPort": 3000000000}]}]}}}},
     "json: cannot unmarshal number 3000000000 into Go struct field ContainerPort.spec.template.spec.containers."
     "ports.containerPort of type int32"),
    ({"kind": "Deployment", "spec": {"paused": "yes"}},
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool"),
])
def test_type_errors_match_go_json_messages(obj, message):
    assert type_error(obj) == message


def test_well_typed_objects_pass_and_decode_error_wraps_the_message():
    ok = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"a": "b"}},
          "spec": {"replicas": 2, "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}}}}
    assert type_error(ok) is None and decode_error(ok) is None
    bad = dict(ok, spec={"replicas": "2"})
    err = decode_error(bad)
    assert err.code == 400 and err.reason == "BadRequest"
    assert err.message.startswith('Deployment in version "v1" cannot be handled as a Deployment: json: cannot '
                                  'unmarshal string')


def test_remembered_valid_inputs_and_rechecked_invalid_ones():
    from k8slab.api.validation import _validate_tolerations, validate_resource_requirements

    ok = {"requests": {"cpu": "10m", "memory": "16Mi"}}
    for _ in range(2):
        assert validate_resource_requirements(ok, "spec.containers[0].resources") == []
    bad = {"requests": {"cpu": "-1"}}
    first = validate_resource_requirements(bad, "spec.containers[0].resources")
    second = validate_resource_requirements(bad, "spec.containers[0].resources")
    assert [e.error() for e in first] == [e.error() for e in second] == [
        "spec.containers[0].resources.requests[cpu]: Invalid value: \"-1\": must be greater than or equal to 0"]
    assert first[0] is not second[0]  # new errors each time: callers may change them
    # JSON types stay apart: a valid 1 does not answer for true
    assert validate_resource_requirements({"requests": {"cpu": 1}}, "r") == []
    assert validate_resource_requirements({"requests": {"cpu": True}}, "r") == \
        validate_resource_requirements.__wrapped__({"requests": {"cpu": True}}, "r")
    tol = [{"key": "k", "operator": "Exists", "value": "v"}]
    assert len(_validate_tolerations(tol, "spec.tolerations")) == 1
    assert len(_validate_tolerations(tol, "spec.tolerations")) == 1
