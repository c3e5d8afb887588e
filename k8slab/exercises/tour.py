"""Mirrors: (no upstream file) the exercises of notebooks/00-tour.ipynb.

Every check derives the right answer from a cluster: the learner's when given (``cluster=c``), otherwise the
tour's cluster rebuilt from the same seed.
"""

from __future__ import annotations

import re

from .core import Exercise, register

_CACHE: dict = {}


def _tour(cluster=None, scaled_to_zero: bool = False):
    if cluster is not None and not scaled_to_zero:
        return cluster
    key = ("tour", scaled_to_zero)
    if key not in _CACHE:
        from ..examples import tour_cluster

        c = tour_cluster()
        if scaled_to_zero:
            c.scale("deployment", "web", 0)
            c.settle()
        _CACHE[key] = c
    return _CACHE[key]


# -- 00.1: the journey --------------------------------------------------------------------------------------------

STAGES = {
    "kube-apiserver": "kube-apiserver", "apiserver": "kube-apiserver", "api server": "kube-apiserver",
    "etcd": "etcd",
    "deployment controller": "deployment", "deployment": "deployment", "deployment-controller": "deployment",
    "replicaset controller": "replicaset", "replicaset": "replicaset", "replicaset-controller": "replicaset",
    "kube-scheduler": "kube-scheduler", "scheduler": "kube-scheduler",
    "kubelet": "kubelet", "containerd": "containerd", "container runtime": "containerd", "runtime": "containerd",
}


def journey_order(cluster) -> list[str]:
    """The order in which the components first acted on the tour Deployment, read from the trace."""
    trace = cluster.trace
    first: dict[str, int] = {}
    for ev in trace:
        if ev.kind == "request" and ev.ref.startswith("deployments/default/web") and ev.component == "kubectl":
            first.setdefault("kube-apiserver", ev.seq)
        elif ev.kind == "etcd.put" and ev.ref == "deployments/default/web":
            first.setdefault("etcd", ev.seq)
        elif ev.kind == "reconcile" and ev.component.endswith("/deployment") and ev.ref == "deployments/default/web":
            first.setdefault("deployment", ev.seq)
        elif ev.kind == "reconcile" and ev.component.endswith("/replicaset") and ev.ref.startswith(
                "replicasets/default/web-"):
            first.setdefault("replicaset", ev.seq)
        elif ev.kind == "schedule" and ev.ref.startswith("pods/default/web-"):
            first.setdefault("kube-scheduler", ev.seq)
        elif ev.kind.startswith("cri.") and ev.ref.startswith("pods/default/web-"):
            first.setdefault("containerd", ev.seq)  # the kubelet's CRI call: containerd acts
        elif ev.component.startswith("kubelet/") and ev.ref.startswith("pods/default/web-") and \
                ev.kind != "watch":
            first.setdefault("kubelet", ev.seq)
    return sorted(first, key=first.get)


def _check_journey(answer, cluster):
    if not isinstance(answer, (list, tuple)) or not all(isinstance(a, str) for a in answer):
        return False, "answer with a list of component names, e.g. ['kube-apiserver', 'etcd', ...]"
    given = []
    for a in answer:
        norm = STAGES.get(a.strip().lower())
        if norm is None:
            return False, f"'{a}' is not one of: kube-apiserver, etcd, deployment controller, replicaset " \
                          f"controller, kube-scheduler, kubelet, containerd"
        given.append(norm)
    want = journey_order(_tour(cluster))
    if sorted(given) != sorted(want):
        missing = [w for w in want if w not in given]
        extra = [g for g in given if g not in want]
        parts = []
        if missing:
            parts.append("missing: " + ", ".join(missing))
        if extra:
            parts.append("listed twice or not involved: " + ", ".join(extra))
        return False, "; ".join(parts)
    for i, (g, w) in enumerate(zip(given, want)):
        if g != w:
            return False, (f"position {i + 1}: the trace shows {w} acting before {g}. Remember that components "
                           f"never call each other: each one reacts to an object another one wrote.")
    return True, "that is the order in the trace: each component reacts to what the previous one wrote."


register(Exercise(
    "00.1", "The journey of a Deployment",
    "List, in order, the components that first act on the web Deployment, from `c.apply` until its first "
    "container starts: kube-apiserver, etcd, deployment controller, replicaset controller, kube-scheduler, "
    "kubelet, containerd.",
    _check_journey,
    ["Look at `c.trace.to_dataframe()` filtered on the rows whose ref mentions web.",
     "The Deployment controller does not create pods: it creates a ReplicaSet.",
     "The scheduler only writes spec.nodeName (a binding); the kubelet on that node notices through its watch."]))


# -- 00.2: where the API server keeps things ------------------------------------------------------------------------

def _keys(cluster):
    c = _tour(cluster)
    svc = "/registry/services/specs/default/web"
    slices = [k for k in c.etcd.keys("/registry/endpointslices/default/")
              if _is_web_slice(c, k)]
    return svc, slices


def _is_web_slice(c, key):
    import json

    kv = c.etcd.get(key)
    obj = json.loads(kv.value)
    return (obj["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == "web"


def _check_keys(answer, cluster):
    if not isinstance(answer, (list, tuple)) or len(answer) != 2:
        return False, "answer with a pair: (service_key, [endpointslice keys])"
    svc_key, slice_keys = answer
    if isinstance(slice_keys, str):
        slice_keys = [slice_keys]
    want_svc, want_slices = _keys(cluster)
    if svc_key != want_svc:
        if svc_key == "/registry/services/default/web":
            return False, ("Services are stored under services/specs/ (and Endpoints under services/endpoints/): "
                           "two resources share the 'services' prefix.")
        return False, f"{svc_key!r} is not where the Service is stored; try c.etcd.keys('/registry/services/')"
    if sorted(slice_keys) != sorted(want_slices):
        return False, ("the Service key is right; the EndpointSlice keys are not. EndpointSlices are named "
                       "<service>-<random suffix>: list c.etcd.keys('/registry/endpointslices/default/').")
    return True, "the API server maps each resource to its etcd prefix; the API group is not part of the key."


register(Exercise(
    "00.2", "What etcd holds",
    "Give the etcd key of the Service web, and the key(s) of the EndpointSlice(s) that list its pods, as "
    "(service_key, [slice_keys]).",
    _check_keys,
    ["`c.etcd.keys('/registry/')` lists every key the API server wrote.",
     "Services and Endpoints share the services/ prefix, under specs/ and endpoints/.",
     "An EndpointSlice's name is the Service name plus a generated suffix."]))


# -- 00.3: the statistic probabilities ------------------------------------------------------------------------------

def web_probabilities(cluster, node: str = "node-1") -> list[str]:
    c = _tour(cluster)
    text = c.node(node).kube_proxy.iptables_save("nat")
    chain = None
    for line in text.splitlines():
        if line.startswith("-A KUBE-SERVICES") and "default/web:http cluster IP" in line:
            chain = line.rsplit("-j ", 1)[1].strip()
    if chain is None:
        return []
    return re.findall(rf"^-A {chain} .*--probability (\S+)", text, re.M)


def _check_probabilities(answer, cluster):
    if not isinstance(answer, (list, tuple)):
        return False, "answer with the list of --probability strings, in rule order"
    want = web_probabilities(cluster)
    given = [a if isinstance(a, str) else f"{float(a):.10f}" for a in answer]
    if given == want:
        return True, ("rule i takes 1/(n-i) of what reaches it, so every endpoint gets 1/n overall; the last rule "
                      "takes everything left and needs no statistic match.")
    if len(given) == len(want) + 1:
        return False, "one rule too many: the last endpoint's rule has no --probability, it takes what is left."
    if given and all(g == given[0] for g in given) and len(set(want)) > 1:
        return False, ("each rule only sees the packets the rules above it did not take, so the probability "
                       "grows from rule to rule: 1/n, then 1/(n-1), ...")
    return False, "not what kube-proxy wrote; look at the KUBE-SVC chain of default/web in iptables_save('nat')"


register(Exercise(
    "00.3", "How kube-proxy spreads connections",
    "The web Service has 3 ready endpoints. List the --probability values, as kube-proxy prints them, in the "
    "rules of its KUBE-SVC- chain, in order.",
    _check_probabilities,
    ["`c.node('node-1').kube_proxy.iptables_save('nat')` shows the rules; find the KUBE-SVC chain the "
     "'default/web:http cluster IP' rule jumps to.",
     "kube-proxy prints probabilities with 10 decimals.",
     "The last endpoint's rule has no probability at all."]))


# -- 00.4: no endpoints -------------------------------------------------------------------------------------------

def _check_no_endpoints(answer, cluster):
    if not isinstance(answer, (list, tuple)) or len(answer) != 2:
        return False, "answer with a pair: (target, table), e.g. ('DROP', 'nat')"
    target, table = (str(a).strip() for a in answer)
    c = _tour(None, scaled_to_zero=True)
    res = c.request("http://web.default")
    walk = res.walk
    matched = [s for s in walk.steps if s.matched and ("REJECT" in s.rule or "DROP" in s.rule)]
    want_target = walk.verdict
    want_table = matched[-1].table if matched else ""
    if target.upper() != want_target:
        return False, (f"the packet is not {target}: with no endpoints kube-proxy writes a rule that answers "
                       f"the client at once instead of letting it time out.")
    if table.lower() != want_table:
        return False, (f"right target, wrong table: the rule that stops it is in the {want_table} table "
                       f"(nat only rewrites addresses).")
    return True, ("kube-proxy writes '-j REJECT' in the filter table for a Service with no endpoints, so clients "
                  "get 'connection refused' at once.")


register(Exercise(
    "00.4", "A Service without endpoints",
    "Scale web to 0 replicas, settle, and send a request to http://web.default. Which iptables target stops the "
    "packet, and in which table? Answer as (target, table).",
    _check_no_endpoints,
    ["`r = c.request('http://web.default')` then look at `r.walk.steps`.",
     "Look for the rule that matched with a '-j' that is neither a chain nor DNAT.",
     "Its comment says the Service 'has no endpoints'."]))
