"""The API server exercises accept right answers and explain typical wrong ones."""

from k8slab.exercises import check, exercises

RIGHT_STOPS = {"a": "authentication", "b": "authorization", "c": "admission", "d": "validation", "e": None}


def test_five_exercises_with_hints():
    ex = exercises("01.")
    assert len(ex) >= 4 and all(e.hints for e in ex)


def test_placeholder_answers_are_not_yet_not_errors():
    for e in exercises("01."):
        r = check(e.id, None)
        assert not r and r.message


def test_stops():
    assert check("01.1", RIGHT_STOPS)
    r = check("01.1", dict(RIGHT_STOPS, b="authentication"))
    assert not r and "request b" in r.message and "403 from RBAC" in r.message
    r = check("01.1", dict(RIGHT_STOPS, d="admission"))
    assert not r and "422" in r.message
    assert "not a stage" in check("01.1", dict(RIGHT_STOPS, a="firewall")).message
    assert "missing" in check("01.1", {"a": "authentication"}).message


ROLE = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "ci", "namespace": "apps"},
        "rules": [{"apiGroups": ["apps"], "resources": ["deployments"],
                   "verbs": ["get", "create", "update", "patch"]}]}
BINDING = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
           "metadata": {"name": "ci", "namespace": "apps"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ci"},
           "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "ci-bot"}]}


def test_rbac():
    assert check("01.2", [ROLE, BINDING])
    too_much = dict(ROLE, rules=[dict(ROLE["rules"][0], verbs=["*"])])
    r = check("01.2", [too_much, BINDING])
    assert not r and "can delete deployments in apps" in r.message
    wrong_group = dict(ROLE, rules=[dict(ROLE["rules"][0], apiGroups=[""])])
    r = check("01.2", [wrong_group, BINDING])
    assert not r and "cannot create deployments in apps" in r.message
    r = check("01.2", [ROLE])
    assert not r and "cannot" in r.message
    edit = dict(BINDING, roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"})
    assert not check("01.2", [edit])
    with_list = dict(ROLE, rules=[dict(ROLE["rules"][0], verbs=["get", "list", "watch", "create", "update", "patch"])])
    r = check("01.2", [with_list, BINDING])
    assert not r and "can list deployments in apps" in r.message
    with_scale = dict(ROLE, rules=[dict(ROLE["rules"][0], resources=["deployments", "deployments/scale"])])
    r = check("01.2", [with_scale, BINDING])
    assert not r and "can update deployments/scale in apps" in r.message


def test_quota():
    assert check("01.3", 3)
    assert "another hard limit" in check("01.3", 10).message
    assert "requests, not limits" in check("01.3", 2).message
    assert "300m request, not the 200m" in check("01.3", 5).message
    assert "LimitRange fills one in" in check("01.3", 0).message


def test_webhook():
    def good(review):
        pod = review["request"]["object"]
        bad = [c["name"] for c in pod["spec"]["containers"]
               if not (c.get("resources") or {}).get("limits", {}).get("memory")]
        if bad:
            return {"uid": review["request"]["uid"], "allowed": False,
                    "status": {"code": 403, "message": f"containers without a memory limit: {', '.join(bad)}"}}
        return {"uid": review["request"]["uid"], "allowed": True}

    assert check("01.4", good)
    r = check("01.4", lambda review: {"uid": review["request"]["uid"], "allowed": True})
    assert not r and "was allowed" in r.message
    r = check("01.4", lambda review: {"uid": review["request"]["uid"], "allowed": False})
    assert not r and "with a memory limit was refused" in r.message
    r = check("01.4", lambda review: review["nope"])
    assert not r and "failed instead of answering" in r.message


def test_certificates():
    assert check("01.5", ("apiserver-etcd-client.crt", "etcd/ca.crt"))
    assert check("01.5", ("/etc/kubernetes/pki/apiserver-etcd-client.crt", "etcd/ca"))
    r = check("01.5", ("admin.conf", "etcd/ca"))
    assert not r and "handshake is refused" in r.message and "unable to get local issuer certificate" in r.message
    r = check("01.5", ("etcd/healthcheck-client", "etcd/ca"))
    assert not r and "belongs to another component" in r.message
    assert "no 'x.crt'" in check("01.5", ("x.crt", "ca")).message
