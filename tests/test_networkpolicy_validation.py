"""NetworkPolicy validation: pkg/apis/networking/validation/validation_test.go cases, and the API's 422."""

import pytest

from k8slab import Cluster
from k8slab.api import errors
from k8slab.api.defaults import apply_defaults
from k8slab.api.validation import validate


def np(spec, name="p"):
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": name, "namespace": "default"}, "spec": spec}
    apply_defaults(obj)
    return obj


def msgs(spec):
    return [e.error() for e in validate(np(spec))]


VALID = [
    {"podSelector": {"matchLabels": {"a": "b"}}},
    {"podSelector": {}, "ingress": [{}]},
    {"podSelector": {}, "ingress": [{"ports": [{"protocol": "TCP", "port": 80}, {"port": "http"},
                                               {"protocol": "UDP"}, {"port": 30000, "endPort": 32768}]}]},
    {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}, {"namespaceSelector": {"matchLabels": {"c": "d"}}},
                                              {"podSelector": {"matchLabels": {"e": "f"}},
                                               "namespaceSelector": {"matchLabels": {"c": "d"}}}]}]},
    {"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "192.168.0.0/16",
                                                        "except": ["192.168.3.0/24", "192.168.4.0/24"]}}]}]},
    {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "fd00:192:168::/48",
                                                           "except": ["fd00:192:168:3::/64"]}}]}]},
    {"podSelector": {}, "policyTypes": ["Egress"]},
    {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    {"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.1/8"}}]}]},  # legacy: host bits allowed
]


@pytest.mark.parametrize("spec", VALID)
def test_valid(spec):
    assert msgs(spec) == []


@pytest.mark.parametrize("spec,expected", [
    ({"podSelector": {"matchLabels": {"a": "b"}}, "ingress": [{"ports": [{"protocol": "DNS", "port": 80}]}]},
     ['spec.ingress[0].ports[0].protocol: Unsupported value: "DNS": supported values: "TCP", "UDP", "SCTP"']),
    ({"podSelector": {}, "ingress": [{"ports": [{"port": 0}]}]},
     ["spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"]),
    ({"podSelector": {}, "ingress": [{"ports": [{"port": 65536}]}]},
     ["spec.ingress[0].ports[0].port: Invalid value: 65536: must be between 1 and 65535, inclusive"]),
    ({"podSelector": {}, "ingress": [{"ports": [{"port": "!@#$"}]}]},
     ['spec.ingress[0].ports[0].port: Invalid value: "!@#$": must contain only alpha-numeric characters (a-z, '
      '0-9), and hyphens (-)',
      'spec.ingress[0].ports[0].port: Invalid value: "!@#$": must contain at least one letter (a-z)']),
    ({"podSelector": {}, "egress": [{"ports": [{"port": 35000, "endPort": 32000}]}]},
     ["spec.egress[0].ports[0].endPort: Invalid value: 32000: must be greater than or equal to `port`"]),
    ({"podSelector": {}, "egress": [{"ports": [{"port": "http", "endPort": 32000}]}]},
     ["spec.egress[0].ports[0].endPort: Invalid value: 32000: may not be specified when `port` is non-numeric"]),
    ({"podSelector": {}, "egress": [{"ports": [{"endPort": 32000}]}]},
     ["spec.egress[0].ports[0].endPort: Invalid value: 32000: may not be specified when `port` is not specified"]),
    ({"podSelector": {}, "egress": [{"ports": [{"port": 1000, "endPort": 65537}]}]},
     ["spec.egress[0].ports[0].endPort: Invalid value: 65537: must be between 1 and 65535, inclusive"]),
    ({"podSelector": {}, "ingress": [{"from": [{}]}]},
     ["spec.ingress[0].from[0]: Required value: must specify a peer"]),
    ({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}, "ipBlock": {"cidr": "10.0.0.0/8"}}]}]},
     ["spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer"]),
    ({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.1.1/45"}}]}]},
     ['spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "192.168.1.1/45": must be a valid CIDR value, '
      '(e.g. 10.9.8.0/24 or 2001:db8::/64)']),
    ({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0"}}]}]},
     ['spec.egress[0].to[0].ipBlock.cidr: Invalid value: "10.0.0.0": must be a valid CIDR value, '
      '(e.g. 10.9.8.0/24 or 2001:db8::/64)']),
    ({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": ""}}]}]},
     ["spec.egress[0].to[0].ipBlock.cidr: Required value"]),
    ({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.8.0/24",
                                                            "except": ["192.168.9.1/24"]}}]}]},
     ['spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "192.168.9.1/24": must be a strict subset of '
      '`cidr`']),
    ({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.0.0/16",
                                                            "except": ["192.168.0.0/16"]}}]}]},
     ['spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "192.168.0.0/16": must be a strict subset of '
      '`cidr`']),
    ({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["bad"]}}]}]},
     ['spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "bad": must be a valid CIDR value, '
      '(e.g. 10.9.8.0/24 or 2001:db8::/64)']),
    ({"podSelector": {}, "policyTypes": ["foo", "bar"]},
     ['spec.policyTypes[0]: Unsupported value: "foo": supported values: "Ingress", "Egress"',
      'spec.policyTypes[1]: Unsupported value: "bar": supported values: "Ingress", "Egress"']),
    ({"podSelector": {}, "policyTypes": ["Ingress", "Egress", "Ingress"]},
     ['spec.policyTypes: Invalid value: []networking.PolicyType{"Ingress", "Egress", "Ingress"}: may not specify '
      'more than two policyTypes']),
    ({"podSelector": {"matchLabels": {"a": "b c"}}},
     ['spec.podSelector.matchLabels: Invalid value: "b c": a valid label must be an empty string or consist of '
      "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
      "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
      "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]),
])
def test_invalid(spec, expected):
    assert msgs(spec) == expected


def test_api_rejects_invalid_cidr_with_422_and_stores_nothing():
    c = Cluster(nodes=1, seed=0, coredns_replicas=0)
    bad = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "bad"},
           "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]}}
    with pytest.raises(errors.StatusError) as e:
        c.apply(bad)
    st = e.value.status
    assert st["code"] == 422 and st["reason"] == "Invalid"
    assert st["details"]["causes"][0]["field"] == "spec.ingress[0].from[0].ipBlock.cidr"
    assert 'NetworkPolicy.networking.k8s.io "bad" is invalid' in st["message"]
    assert not [k for k in c.etcd.keys("/registry/networkpolicies/")]
    good = c.apply({**bad, "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}})
    assert good["spec"]["policyTypes"] == ["Ingress"]
