"""Mirrors: (no upstream file) the exercises of notebooks/01-api-server.ipynb.

Each check rebuilds what it needs in a fresh cluster (the same seed every time) and asks the API server itself:
where a request stops, what a set of RBAC objects grants, how many pods a quota admits, what a webhook lets
through, which certificate the TLS handshake accepts.
"""

from __future__ import annotations

from .core import Exercise, register

SEED = 1


def _cluster(nodes: int = 1):
    from ..cluster import Cluster

    return Cluster(nodes=nodes, seed=SEED, coredns_replicas=0)


def _ns(name, labels=None):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def _pod(name, ns="default", resources=None):
    c = {"name": "app", "image": "nginx:1.27"}
    if resources is not None:
        c["resources"] = resources
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [c]}}


# -- 01.1: where does each request stop? -------------------------------------------------------------------------

STAGE_NAMES = {"authentication": "authentication", "authn": "authentication", "401": "authentication",
               "authorization": "authorization", "authz": "authorization", "rbac": "authorization",
               "403": "authorization", "admission": "admission", "mutating admission": "admission",
               "validating admission": "admission", "validation": "validation", "422": "validation",
               "none": None, "through": None, "allowed": None, "etcd": None, "stored": None}


def stop_scenario():
    """Five requests against one cluster; returns ``{letter: stage the request stopped at, or None}``."""
    from ..api.errors import StatusError
    from ..apiserver.authn import Credentials
    from ..client import Client
    from ..viz.pipeline import stop_reason

    c = _cluster()
    c.apply(_ns("locked", {"pod-security.kubernetes.io/enforce": "restricted"}))
    c.settle()
    api = c.apiserver
    attempts = {
        "a": lambda: Client(api, "curl", Credentials.bearer("abc123")).list("pods", namespace="default"),
        "b": lambda: Client(api, "kubectl", Credentials.x509("dev", "developers")).create(
            "configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}},
            namespace="default"),
        "c": lambda: c.apply(_pod("web", "locked")),
        "d": lambda: c.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "big"},
                              "spec": {"ports": [{"port": 70000}]}}),
        "e": lambda: Client(api, "kube-scheduler", Credentials.x509("system:kube-scheduler")).list("nodes"),
    }
    out = {}
    for k, fn in attempts.items():
        try:
            fn()
        except StatusError:
            pass
        r = stop_reason(c)
        stage = r["stage"] if r else None
        out[k] = "admission" if stage and "admission" in stage else stage
    return out


def _check_stops(answer, cluster):
    if not isinstance(answer, dict):
        return False, 'answer with a dict like {"a": "authentication", ..., "e": None}'
    want = stop_scenario()
    for k in sorted(want):
        if k not in answer:
            return False, f"request {k!r} is missing from your answer"
        given = answer[k]
        norm = None if given is None else STAGE_NAMES.get(str(given).strip().lower(), "?")
        if norm == "?":
            return False, (f"request {k}: {given!r} is not a stage; use authentication, authorization, admission, "
                           f"validation or None")
        if norm != want[k]:
            why = {
                "authentication": "an unknown bearer token is refused before anyone asks what it may do: 401",
                "authorization": "the user is authenticated (a certificate from the cluster CA) but no binding "
                                 "grants it: 403 from RBAC",
                "admission": "the object is fine and the user may create it, but the namespace's PodSecurity "
                             "level refuses it",
                "validation": "port 70000 is not a valid port number: 422 Invalid, after admission's mutating "
                              "phase",
                None: "the scheduler's ClusterRole lets it list nodes: the request goes through",
            }[want[k]]
            return False, f"request {k}: not {given!r}. Think again: {why}."
    return True, "each stage answers one question, in order: who are you, may you, is the object acceptable " \
                 "to the cluster's policies, is it well-formed."


register(Exercise(
    "01.1", "Where does each request stop?",
    "For requests a..e of the notebook, give the stage that refuses each one (authentication, authorization, "
    "admission, validation) or None if it goes through.",
    _check_stops,
    ["Draw each one with viz.pipeline(c) right after making it.",
     "401 is always authentication, 403 is authorization or an admission plugin, 422 is validation.",
     "A certificate signed by the cluster CA authenticates anyone; what they may do is a separate question."]))


# -- 01.2: least privilege -----------------------------------------------------------------------------------------

CI_CHECKS = [  # (verb, resource, namespace, expected) for user ci-bot
    ("create", "deployments", "apps", True), ("update", "deployments", "apps", True),
    ("patch", "deployments", "apps", True), ("get", "deployments", "apps", True),
    ("delete", "deployments", "apps", False), ("create", "deployments", "default", False),
    ("get", "secrets", "apps", False), ("create", "pods", "apps", False),
    ("create", "rolebindings", "apps", False), ("list", "nodes", "", False),
    ("list", "deployments", "apps", False), ("update", "deployments/scale", "apps", False),
]


def _check_rbac(answer, cluster):
    from ..api.errors import StatusError

    objs = answer if isinstance(answer, (list, tuple)) else [answer]
    if not objs or not all(isinstance(o, dict) for o in objs):
        return False, "answer with a list of RBAC objects (dicts), e.g. [role, rolebinding]"
    c = _cluster(nodes=0)
    c.apply(_ns("apps"))
    c.settle()
    try:
        c.apply(list(objs))
    except StatusError as e:
        return False, f"the API server refused your objects: {e.message}"
    c.settle()
    if any(o.get("kind") in ("ClusterRoleBinding",) for o in objs):
        return False, "a ClusterRoleBinding grants in every namespace; bind inside apps with a RoleBinding"
    for verb, res, ns, want in CI_CHECKS:
        got = c.can_i("ci-bot", verb, res, ns)
        if got.allowed != want:
            where = f" in {ns}" if ns else ""
            return False, (f"ci-bot {'cannot' if want else 'can'} {verb} {res}{where}, but it "
                           f"{'should' if want else 'should not'}.")
    return True, "create, update, patch and get on deployments in apps, nothing more."


register(Exercise(
    "01.2", "Least privilege for a CI bot",
    "Write a Role and a RoleBinding so that user ci-bot can get, create, update and patch Deployments in the "
    "namespace apps, and nothing else (no delete, no other resource, no other namespace).",
    _check_rbac,
    ["Deployments are in the apps API group: apiGroups: ['apps'].",
     "A Role lives in one namespace; a RoleBinding in the same namespace binds it to a User subject.",
     "Check yourself with c.can_i('ci-bot', 'delete', 'deployments', 'apps')."]))


# -- 01.3: quota arithmetic ----------------------------------------------------------------------------------------

QUOTA = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "team-quota", "namespace": "team"},
         "spec": {"hard": {"requests.cpu": "1", "pods": "10"}}}
LIMITS = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "defaults", "namespace": "team"},
          "spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": "300m"}, "default": {"cpu": "500m"}}]}}


def quota_capacity() -> int:
    """How many plain pods (no resources) the team namespace admits, found by creating them until refused."""
    from ..api.errors import StatusError

    c = _cluster(nodes=0)
    c.apply([_ns("team"), QUOTA, LIMITS])
    c.settle()
    n = 0
    for i in range(20):
        try:
            c.apply(_pod(f"p{i}", "team"))
        except StatusError:
            break
        n += 1
    return n


def _check_quota(answer, cluster):
    if isinstance(answer, bool) or not isinstance(answer, int):
        return False, "answer with a number of pods"
    want = quota_capacity()
    if answer == want:
        return True, ("LimitRanger gives each container a 300m request first; ResourceQuota then counts it: "
                      "3 x 300m = 900m fits under 1 CPU, a fourth would need 1200m.")
    if answer == 10:
        return False, "the pods limit is 10, but another hard limit is reached first"
    if answer == 0:
        return False, ("a quota on requests.cpu refuses pods without a CPU request, but here the LimitRange "
                       "fills one in before ResourceQuota looks")
    if answer == 2:
        return False, "the quota counts requests, not limits (500m is the default limit)"
    if answer == 5:
        return False, "this namespace's LimitRange gives a 300m request, not the 200m of the notebook's dev namespace"
    return False, f"not {answer}: work out what request each pod ends up with, then divide"


register(Exercise(
    "01.3", "How many pods fit?",
    "The namespace team has a ResourceQuota (requests.cpu: 1, pods: 10) and a LimitRange (default request 300m, "
    "default limit 500m CPU). How many pods with no resources at all can you create there?",
    _check_quota,
    ["Admission runs LimitRanger early and ResourceQuota last.",
     "Look at a created pod's resources and its kubernetes.io/limit-ranger annotation.",
     "requests.cpu counts requests; 1 CPU = 1000m."]))


# -- 01.4: a validating webhook ------------------------------------------------------------------------------------

def _check_webhook(answer, cluster):
    from ..api.errors import StatusError
    from ..apiserver.webhook import add_webhook

    if not callable(answer):
        return False, "answer with a function review -> response"
    c = _cluster(nodes=0)
    add_webhook(c, "require-memory-limit", answer)
    good = _pod("good", resources={"limits": {"memory": "128Mi"}})
    bad = _pod("bad", resources={"requests": {"cpu": "100m"}})
    try:
        c.apply(good)
    except StatusError as e:
        if e.code == 500:
            return False, f"your webhook failed instead of answering: {e.message}"
        return False, f"a pod with a memory limit was refused: {e.code} {e.message}"
    try:
        c.apply(bad)
    except StatusError as e:
        if e.code == 500:
            return False, f"your webhook failed instead of answering: {e.message}"
        if "app" not in e.message:
            return False, (f"refused ({e.code}), but the message should name the container without a limit: "
                           f"{e.message}")
        return True, f"refused with: {e.message}"
    return False, "a pod without a memory limit was allowed"


register(Exercise(
    "01.4", "Write a validating webhook",
    "Write a function that receives an AdmissionReview and denies pods with a container that has no memory "
    "limit, naming the container in the message; allow everything else.",
    _check_webhook,
    ["review['request']['object'] is the pod; answer {'uid': review['request']['uid'], 'allowed': ...}.",
     "A denial carries a status: {'code': 403, 'message': '...'}.",
     "c['resources'].get('limits', {}).get('memory') is None for a container without a memory limit."]))


# -- 01.5: which certificate? -----------------------------------------------------------------------------------

def _norm_cert(name: str) -> str:
    name = name.strip()
    for prefix in ("/etc/kubernetes/pki/",):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name[:-4] if name.endswith(".crt") else name


def _check_cert(answer, cluster):
    from ..tls import component_handshake, pki_for_today

    if not isinstance(answer, (list, tuple)) or len(answer) != 2 or not all(isinstance(a, str) for a in answer):
        return False, "answer with a pair: (client certificate, CA that etcd checks it with)"
    cert, ca = (_norm_cert(a) for a in answer)
    pki = pki_for_today(SEED)
    if cert not in pki.certs or ca not in pki.certs:
        return False, f"kubeadm writes no {answer[0]!r} or {answer[1]!r}; see pki.files()"
    r = component_handshake(pki, "apiserver->etcd", client_cert=pki[cert], server_trusts=pki[ca])
    if not r.accepted:
        return False, f"the real handshake is refused: {r.error}"
    if cert != "apiserver-etcd-client":
        return False, (f"the handshake works with {cert}, but that certificate belongs to another component; "
                       f"kubeadm gives the API server its own client certificate for etcd")
    if ca != "etcd/ca":
        return False, "etcd trusts its own CA (--trusted-ca-file), not the cluster CA"
    return True, ("etcd has its own CA: a certificate from the cluster CA, even the admin's, gets nowhere "
                  "with etcd.")


register(Exercise(
    "01.5", "Which certificate reaches etcd?",
    "When the API server connects to etcd, which certificate does it present, and which CA does etcd check it "
    "with? Answer as a pair of kubeadm file names.",
    _check_cert,
    ["The connections table lists who presents what: pki.connections().",
     "etcd's CA is a different CA from the cluster's.",
     "Try it: component_handshake(pki, 'apiserver->etcd', client_cert=pki['admin.conf'])."]))
