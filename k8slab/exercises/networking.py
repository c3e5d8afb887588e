"""Mirrors: (no upstream file) the exercises of notebooks/08-pod-networking-and-dns.ipynb.

Every check derives the right answer from the notebook's cluster (``shop_cluster()``: the learner's when given as
``cluster=``, else rebuilt from the same seed): the routes from the Node objects, the DNS answers from CoreDNS, the
policy verdicts from the same evaluation the data path uses.
"""

from __future__ import annotations

from .core import Exercise, register

_CACHE: dict = {}

NAMESPACES = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: payments, labels: {team: payments}}
"""

SHOP = """
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: shop, labels: {app: frontend}}
spec:
  nodeName: node-1
  containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: backend, namespace: shop, labels: {app: backend}}
spec: {nodeName: node-2, containers: [{name: app, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec:
  nodeName: node-2
  containers: [{name: pg, image: postgres, ports: [{name: postgres, containerPort: 5432}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: payments, labels: {app: api}}
spec:
  nodeName: node-1
  containers: [{name: api, image: nginx, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: frontend}, ports: [{name: http, port: 80, targetPort: http}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {selector: {app: db}, ports: [{name: pg, port: 5432, targetPort: postgres}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: payments}
spec: {selector: {app: api}, ports: [{name: http, port: 80, targetPort: 8080}]}
"""


def shop_cluster(pod_network: str = "vxlan", seed: int = 8):
    """The notebook's cluster: namespaces shop (frontend, backend, db) and payments (api) on two workers."""
    from ..cluster import Cluster

    c = Cluster(nodes=2, seed=seed, pod_network=pod_network)
    c.apply(NAMESPACES)
    c.run(seconds=2)  # the ServiceAccount controller creates each namespace's "default" account
    c.apply(SHOP)
    c.run(seconds=60)
    return c


def _shop(cluster=None):
    if cluster is not None:
        return cluster
    if "shop" not in _CACHE:
        _CACHE["shop"] = shop_cluster()
    return _CACHE["shop"]


def _obj(c, resource: str, namespace: str | None, name: str) -> dict:
    """An object as the API server holds it (read-only; a check makes no requests and leaves no trace)."""
    from ..api import errors

    obj = c.apiserver.storage_get(resource, namespace, name)
    if obj is None:
        raise errors.new_not_found(resource, name)
    return obj


def _endpoint(c, ref: str):
    from ..cni.policy import Endpoint

    ns, name = ref.split("/")
    pod = _obj(c, "pods", ns, name)
    labels = _obj(c, "namespaces", None, ns)["metadata"].get("labels") or {}
    return Endpoint(pod["status"]["podIP"], pod, labels)


def _policies(answer) -> tuple[list[dict] | None, str]:
    """Load the learner's NetworkPolicy (YAML text, dict or list), default and validate it as the API server would."""
    from ..api.defaults import apply_defaults
    from ..api.serialize import load_manifests
    from ..api.validation import validate

    from ..api.errors import StatusError

    if answer is None:
        return None, "write a NetworkPolicy (YAML text or a dict) and pass it as the answer"
    try:
        docs = load_manifests(answer)
    except StatusError as e:
        return None, f"kubectl would refuse it: {e}"
    out = []
    for d in docs:
        if d.get("kind") != "NetworkPolicy":
            return None, f"expected kind NetworkPolicy, got {d.get('kind')!r}"
        d.setdefault("metadata", {}).setdefault("namespace", "shop")
        apply_defaults(d)
        errs = validate(d)
        if errs:
            return None, "the API server would reject it: " + "; ".join(e.error() for e in errs)
        out.append(d)
    return out, ""


def _allowed(c, policies, src: str, dst: str, port: int, protocol: str = "TCP") -> bool:
    from ..cni.policy import evaluate

    return all(v.allowed for v in evaluate(policies, _endpoint(c, src), _endpoint(c, dst), port, protocol))


# -- 08.1: only frontend reaches db on 5432 -------------------------------------------------------------------------

def check_db_policy(answer, cluster=None):
    c = _shop(cluster)
    pols, err = _policies(answer)
    if pols is None:
        return False, err
    if any(p["metadata"]["namespace"] != "shop" for p in pols):
        return False, "a NetworkPolicy protects pods in its own namespace: put it in namespace shop, where db runs"
    if not _allowed(c, pols, "shop/frontend", "shop/db", 5432):
        return False, "frontend cannot reach db on 5432 with this policy: the ingress rule must allow it"
    if _allowed(c, pols, "shop/backend", "shop/db", 5432):
        return False, "backend still reaches db on 5432: the `from` peer must select only app=frontend"
    if _allowed(c, pols, "payments/api", "shop/db", 5432):
        return False, ("payments/api still reaches db: a peer with only a namespaceSelector (or none) lets other "
                       "namespaces in")
    if _allowed(c, pols, "shop/frontend", "shop/db", 22):
        return False, "frontend may reach db on any port: add `ports: [{port: 5432}]` to the rule"
    if not _allowed(c, pols, "shop/backend", "shop/frontend", 8080):
        return False, ("backend can no longer reach frontend: the policy's podSelector must select only db, or "
                       "it isolates other pods too")
    if not _allowed(c, pols, "shop/db", "payments/api", 8080):
        return False, "db lost its egress: only policyTypes [Ingress] is needed here"
    return True, ("frontend -> db:5432 allowed; backend, payments/api and other ports denied; nothing else "
                  "changed. Any policy selecting db isolates it; the one rule is the only allow.")


register(Exercise("08.1", "Only frontend reaches the database",
                  "Write the NetworkPolicy (namespace shop) that lets only the frontend pods reach db on TCP 5432, "
                  "and changes nothing for any other pod.",
                  check_db_policy,
                  ["A policy selects the pods it protects with `spec.podSelector`: here `{matchLabels: {app: db}}`.",
                   "Once db is selected for Ingress, only what an ingress rule allows gets in.",
                   "One rule: `from: [{podSelector: {matchLabels: {app: frontend}}}]` and "
                   "`ports: [{port: 5432, protocol: TCP}]`."]))


# -- 08.2: the queries of one lookup --------------------------------------------------------------------------------

def lookup_queries(c, name: str = "api.payments", namespace: str = "shop") -> list[str]:
    return [q.name for q in c.dns.resolve(name, "A", namespace).queries]


def check_queries(answer, cluster=None):
    c = _shop(cluster)
    want = lookup_queries(c)
    if not isinstance(answer, (list, tuple)) or not answer:
        return False, "give the list of names, in order, e.g. ['a.b.svc.cluster.local', ...]"
    got = [str(a).rstrip(".").lower() for a in answer]
    if got == want:
        return True, (f"{len(want)} queries: 'api.payments' has one dot, fewer than ndots:5, so the search list "
                      "goes first; the first suffix gives NXDOMAIN, the second answers.")
    if got and got[0] == "api.payments":
        return False, "the name has fewer than 5 dots: the resolver tries the search list before the name as is"
    if got[: len(want)] == want:
        return False, "the resolver stops at the first answer: nothing is asked after the query that succeeded"
    if got and got[0] == "api.payments.svc.cluster.local":
        return False, "the first search suffix is the pod's own namespace: shop.svc.cluster.local"
    return False, f"not the resolver's order; the first query is {want[0]!r}"


register(Exercise("08.2", "Which queries does a lookup make?",
                  "A pod in namespace shop looks up `api.payments`. List, in order, the names its resolver asks "
                  "CoreDNS about (A queries) until it gets an answer.",
                  check_queries,
                  ["Look at the pod's resolv.conf: `c.resolv_conf('shop/frontend')`.",
                   "ndots:5: a name with fewer than 5 dots is tried with each search suffix first.",
                   "The search list is shop.svc.cluster.local, svc.cluster.local, cluster.local."]))


# -- 08.3: which route ----------------------------------------------------------------------------------------------

def route_for(c, node: str = "node-1", pod: str = "shop/db") -> str:
    from ..cni import network as netmodel

    ns, name = pod.split("/")
    ip = _obj(c, "pods", ns, name)["status"]["podIP"]
    return str(netmodel.lookup(c.routes(node), ip))


def check_route(answer, cluster=None):
    c = _shop(cluster)
    want = route_for(c)
    if not isinstance(answer, str) or not answer.strip():
        return False, "give one line of `c.ip_route('node-1')` as a string"
    got = " ".join(answer.split())
    if got == want:
        return True, f"`{want}`: the longest prefix holding db's IP; the packet goes into the overlay to node-2."
    if got.split()[:1] == want.split()[:1]:
        return False, f"right destination; give the whole line as `ip route` prints it: `{want.split()[0]} ...`"
    if got.startswith("default"):
        return False, "the default route is only for addresses no longer prefix covers; db's IP has a /24 route"
    if "cni0" in got:
        return False, "cni0 holds the pods of node-1; db runs on node-2"
    if got.startswith("192.168."):
        return False, "that route is for the node network; db's IP is a pod IP"
    return False, "not the longest prefix that holds db's IP; compare db's IP with each destination"


register(Exercise("08.3", "Which route carries this packet?",
                  "frontend (on node-1) opens a connection to db's pod IP. Which line of node-1's `ip route` "
                  "carries the packet?",
                  check_route,
                  ["`c.get('pod', 'db', namespace='shop')` shows db's IP and node.",
                   "The kernel picks the most specific route (longest prefix) that contains the address.",
                   "`c.ip_route('node-1')` lists the routes; flannel added one per other node's podCIDR."]))


# -- 08.4: the port a policy sees -----------------------------------------------------------------------------------

def seen_port(c) -> int:
    return int(c.trace_route("web.shop", 80, from_pod="shop/backend").endpoint.rsplit(":", 1)[1])


def check_seen_port(answer, cluster=None):
    c = _shop(cluster)
    want = seen_port(c)
    try:
        got = int(answer)
    except (TypeError, ValueError):
        return False, "give the port number the policy on frontend sees"
    if got == want:
        return True, (f"{want}: kube-proxy's DNAT on the client's node rewrote {80} to the targetPort before "
                      "the packet reached any policy; a policy on port 80 would block the Service.")
    if got == 80:
        return False, "80 is the Service port; the packet meets the policy after kube-proxy's DNAT"
    return False, "look at the DNAT hop of `c.trace_route('web.shop', 80, from_pod='shop/backend')`"


register(Exercise("08.4", "Which port does the policy see?",
                  "backend requests http://web.shop (Service port 80). A NetworkPolicy on the frontend pod decides "
                  "whether the connection gets in. Which destination port does that policy see?",
                  check_seen_port,
                  ["Where does kube-proxy's DNAT happen: before or after the packet reaches frontend's veth?",
                   "The Service's targetPort is the named port `http` of the frontend container.",
                   "`c.trace_route('web.shop', 80, from_pod='shop/backend')` shows each hop."]))


# -- 08.5: default-deny egress and DNS ------------------------------------------------------------------------------

DENY_EGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "default-deny-egress", "namespace": "shop"},
               "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}


def check_dns_egress(answer, cluster=None):
    from ..api.defaults import apply_defaults
    from ..api.objects import deepcopy
    from ..cni.policy import Endpoint, evaluate

    c = _shop(cluster)
    pols, err = _policies(answer)
    if pols is None:
        return False, err
    deny = deepcopy(DENY_EGRESS)
    apply_defaults(deny)
    pols = [deny] + pols
    core = next(p for p in c.apiserver.cache.get("pods", {}).values()
                if p["metadata"]["namespace"] == "kube-system" and p["metadata"]["name"].startswith("coredns")
                and p["status"].get("podIP"))
    dns = Endpoint(core["status"]["podIP"], core, _obj(c, "namespaces", None, "kube-system")["metadata"]["labels"])
    src = _endpoint(c, "shop/frontend")
    udp = all(v.allowed for v in evaluate(pols, src, dns, 53, "UDP"))
    tcp = all(v.allowed for v in evaluate(pols, src, dns, 53, "TCP"))
    if not udp:
        return False, "frontend still cannot send DNS queries (UDP 53) to the CoreDNS pods"
    if _allowed(c, pols, "shop/frontend", "payments/api", 8080):
        return False, "this lets frontend reach payments/api too: allow only port 53 to CoreDNS, not everything"
    if all(v.allowed for v in evaluate(pols, src, Endpoint("203.0.113.7"), 53, "UDP")):
        return False, ("DNS is allowed to any address: select the CoreDNS pods (kube-system, k8s-app=kube-dns) "
                       "as the peer")
    if all(v.allowed for v in evaluate(pols, src, dns, 9153, "TCP")):
        return False, ("this opens every port of the CoreDNS pods (their metrics on 9153 too): list the ports, "
                       "53 UDP and TCP")
    other = Endpoint("10.244.0.250", {"metadata": {"name": "other", "namespace": "kube-system",
                                                   "labels": {"app": "other"}}}, dns.namespace_labels)
    if all(v.allowed for v in evaluate(pols, src, other, 53, "UDP")):
        return False, ("this lets shop pods reach any pod in kube-system on port 53: put namespaceSelector and "
                       "podSelector in the same peer (one list item), so that both must match")
    msg = "DNS works again and nothing else is open."
    if not tcp:
        msg += " Consider TCP 53 as well: answers too large for UDP are retried over TCP."
    return True, msg


register(Exercise("08.5", "Default-deny egress broke DNS",
                  "Namespace shop gets `default-deny-egress` (podSelector {}, policyTypes [Egress]). Now no name "
                  "resolves. Write the extra NetworkPolicy that lets shop pods query CoreDNS, and nothing more.",
                  check_dns_egress,
                  ["`c.trace_route('db', 5432, from_pod='shop/frontend')` with the deny policy shows where it stops.",
                   "The peer is a pod in another namespace: namespaceSelector AND podSelector in one peer.",
                   "Namespaces carry `kubernetes.io/metadata.name: <name>`; CoreDNS pods carry `k8s-app: kube-dns`; "
                   "ports 53 UDP and TCP."]))
