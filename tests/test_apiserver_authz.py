"""Authorization: the RBAC matrix, aggregated ClusterRoles, bindings to missing roles, can-i and ABAC."""

import pytest

from k8slab import Cluster
from k8slab.api.errors import StatusError
from k8slab.apiserver import Credentials
from k8slab.apiserver.authz import (ABACAuthorizer, PolicyLoadError, impersonated_user, parse_abac_policy,
                                    rules_table)
from k8slab.apiserver.rbac import ALLOW, NO_OPINION, Attributes
from k8slab.client import Client
from k8slab.controllers.clusterroleaggregation import aggregate_rules


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(nodes=1, seed=3, coredns_replicas=1)
    c.apply([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "jane-edit", "namespace": "team"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "jane"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "bob-view", "namespace": "team"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "app-admin", "namespace": "team"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
         "subjects": [{"kind": "ServiceAccount", "name": "app"}]},
    ])
    c.settle()
    return c


NODE = ["system:nodes"]
SCHED = "system:kube-scheduler"
SA = "system:serviceaccount:team:app"

# (user, groups, verb, resource, namespace, name, expected)
MATRIX = [
    (SCHED, [], "create", "pods/binding", "default", "", True),
    (SCHED, [], "list", "nodes", "", "", True),
    (SCHED, [], "update", "pods/status", "team", "", True),
    (SCHED, [], "create", "pods", "default", "", False),
    (SCHED, [], "get", "secrets", "kube-system", "", False),
    (SCHED, [], "update", "leases", "kube-system", "kube-scheduler", True),
    (SCHED, [], "update", "leases", "kube-system", "kube-controller-manager", False),
    ("system:node:node-1", NODE, "update", "nodes/status", "", "node-1", True),
    ("system:node:node-1", NODE, "update", "nodes", "", "node-2", True),  # NodeRestriction admission refuses it
    ("system:node:node-1", NODE, "update", "leases", "kube-node-lease", "node-1", True),
    ("system:node:node-1", NODE, "update", "leases", "kube-node-lease", "node-2", False),
    ("system:node:node-1", NODE, "create", "deployments", "default", "", False),
    ("system:node:node-1", [], "get", "pods", "default", "", False),  # not in system:nodes: no Node authority
    (SA, [], "create", "roles", "team", "", True),
    (SA, [], "delete", "deployments", "team", "", True),
    (SA, [], "delete", "deployments", "default", "", False),
    (SA, [], "list", "nodes", "", "", False),
    ("jane", [], "create", "deployments", "team", "", True),
    ("jane", [], "get", "secrets", "team", "", True),
    ("jane", [], "create", "rolebindings", "team", "", False),
    ("jane", [], "create", "deployments", "default", "", False),
    ("bob", [], "list", "pods", "team", "", True),
    ("bob", [], "get", "pods/log", "team", "", True),
    ("bob", [], "delete", "pods", "team", "", False),
    ("bob", [], "get", "secrets", "team", "", False),
    ("system:anonymous", [], "get", "pods", "default", "", False),
    ("system:anonymous", [], "list", "namespaces", "", "", False),
    ("alice", ["system:masters"], "delete", "nodes", "", "node-1", True),
    ("system:kube-proxy", [], "watch", "endpointslices", "", "", True),
    ("system:kube-proxy", [], "update", "services", "default", "", False),
]


@pytest.mark.parametrize("user,groups,verb,resource,ns,name,want", MATRIX)
def test_rbac_matrix(cluster, user, groups, verb, resource, ns, name, want):
    got = cluster.can_i(user, verb, resource, ns, groups=groups, name=name)
    assert got.allowed is want, str(got)


def test_matrix_agrees_with_real_requests(cluster):
    """can-i answers what the request itself would meet: a denied request is the real 403."""
    jane = Client(cluster.apiserver, "kubectl", Credentials.x509("jane"))
    with pytest.raises(StatusError) as e:
        jane.create("rolebindings", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                                     "metadata": {"name": "x", "namespace": "team"},
                                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                 "name": "view"}, "subjects": []}, namespace="team")
    assert e.value.code == 403
    assert e.value.message == ('rolebindings.rbac.authorization.k8s.io is forbidden: User "jane" cannot create '
                               'resource "rolebindings" in API group "rbac.authorization.k8s.io" in the namespace '
                               '"team"')
    cm = jane.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
                     namespace="team")
    assert cm["metadata"]["namespace"] == "team"


def test_can_i_text_and_reason(cluster):
    assert str(cluster.can_i("jane", "create", "deployments.apps", "team")) == "yes"
    assert str(cluster.can_i("jane", "create", "deployments", "default")) == "no"
    # The Node authorizer lets a kubelet update any Node; NodeRestriction admission refuses another node's.
    assert str(cluster.can_i("system:node:node-1", "update", "nodes", groups=NODE, name="node-2")) == "yes"
    assert str(cluster.can_i("system:node:node-1", "delete", "nodes", groups=NODE, name="node-1")) == "no"
    ok = cluster.can_i(SCHED, "create", "pods/binding", "default")
    assert ok.reason == ('RBAC: allowed by ClusterRoleBinding "system:kube-scheduler" of ClusterRole '
                         '"system:kube-scheduler" to User "system:kube-scheduler"')
    assert str(cluster.can_i("system:anonymous", "get", path="/healthz")) == "yes"
    assert str(cluster.can_i("system:anonymous", "get", path="/api")) == "no"


def test_impersonation_groups():
    assert impersonated_user("jane").groups == ("system:authenticated",)
    assert impersonated_user("system:anonymous").groups == ("system:unauthenticated",)
    assert impersonated_user(SA).groups == ("system:serviceaccounts", "system:serviceaccounts:team",
                                            "system:authenticated")


def test_can_i_list_table(cluster):
    table = cluster.can_i("bob", "", namespace="team", list=True)
    lines = table.splitlines()
    assert lines[0].split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    row = next(line for line in lines if line.startswith("deployments.apps "))
    assert row.split()[-3:] == ["[get", "list", "watch]"]
    assert any(line.split()[:1] == ["selfsubjectaccessreviews.authorization.k8s.io"] for line in lines)
    assert not any(line.startswith("secrets ") for line in lines)
    assert "[/healthz]" in table


def test_aggregated_roles_filled_by_controller(cluster):
    edit = cluster.get("clusterroles", "edit", namespace=None)
    view = cluster.get("clusterroles", "view", namespace=None)
    admin = cluster.get("clusterroles", "admin", namespace=None)
    assert edit["aggregationRule"] == {"clusterRoleSelectors": [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}}]}
    for r in view["rules"]:  # edit holds everything view does (view is labelled aggregate-to-edit)
        assert r in edit["rules"]
    for r in edit["rules"]:
        assert r in admin["rules"]
    assert not any("rolebindings" in r.get("resources", ()) for r in edit["rules"])
    assert any("rolebindings" in r.get("resources", ()) for r in admin["rules"])


def test_new_aggregated_rule_flows_into_view_edit_admin():
    c = Cluster(nodes=0, seed=5, coredns_replicas=0)
    c.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": "widgets-view",
                          "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
             "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list"]}]})
    assert str(c.can_i("bob", "list", "widgets.example.com", "default")) == "no"
    c.settle()
    want = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list"]}
    for role in ("view", "edit", "admin"):
        assert want in c.get("clusterroles", role, namespace=None)["rules"], role
    c.delete("clusterroles", "widgets-view", namespace=None)
    c.settle()
    for role in ("view", "edit", "admin"):
        assert want not in c.get("clusterroles", role, namespace=None)["rules"], role


def test_aggregate_rules_sorted_deduplicated_and_skips_itself():
    r1 = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}
    r2 = {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}
    lbl = {"agg": "true"}
    role = {"metadata": {"name": "agg", "labels": lbl},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": lbl}]}, "rules": [r2]}
    others = [{"metadata": {"name": "b", "labels": lbl}, "rules": [r1, r2]},
              {"metadata": {"name": "a", "labels": lbl}, "rules": [r2]},
              {"metadata": {"name": "c", "labels": {}}, "rules": [{"verbs": ["*"]}]}, role]
    assert aggregate_rules(role, others) == [r2, r1]


def test_binding_to_missing_role_is_accepted_and_grants_nothing(cluster):
    cluster.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": "carol-ghost", "namespace": "team"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ghost"},
                   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "carol"}]})
    assert cluster.get("rolebindings", "carol-ghost", namespace="team")["roleRef"]["name"] == "ghost"
    assert str(cluster.can_i("carol", "get", "pods", "team")) == "no"
    cluster.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                   "metadata": {"name": "ghost", "namespace": "team"},
                   "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})
    assert str(cluster.can_i("carol", "get", "pods", "team")) == "yes"  # the role appears: the grant starts
    cluster.delete("roles", "ghost", namespace="team")
    assert str(cluster.can_i("carol", "get", "pods", "team")) == "no"


POLICY = """# one Policy per line
{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"user": "alice", "namespace": "*", "resource": "*", "apiGroup": "*"}}
{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"user": "bob", "namespace": "projectCaribou", "resource": "pods", "apiGroup": "", "readonly": true}}
{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"group": "system:authenticated", "readonly": true, "nonResourcePath": "/api*"}}

{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"user": "*", "namespace": "*", "resource": "events", "apiGroup": "", "readonly": true}}
"""


def _attrs(name, verb, resource="", ns="", group="", path=""):
    return Attributes(impersonated_user(name), verb, resource, "", group, ns, path=path)


@pytest.mark.parametrize("user,verb,resource,ns,group,path,want", [
    ("alice", "delete", "deployments", "x", "apps", "", ALLOW),
    ("bob", "get", "pods", "projectCaribou", "", "", ALLOW),
    ("bob", "create", "pods", "projectCaribou", "", "", NO_OPINION),  # readonly line: writes do not match
    ("bob", "get", "pods", "other", "", "", NO_OPINION),
    ("bob", "get", "", "", "", "/apis/apps", ALLOW),
    ("bob", "post", "", "", "", "/healthz", NO_OPINION),
    ("system:anonymous", "get", "events", "x", "", "", ALLOW),
    ("system:anonymous", "get", "", "", "", "/api", NO_OPINION),
])
def test_abac_policy_matching(user, verb, resource, ns, group, path, want):
    a = ABACAuthorizer(POLICY)
    decision, reason = a.authorize(_attrs(user, verb, resource, ns, group, path))
    assert decision == want
    if want == NO_OPINION:
        assert reason == "No policy matched."


def test_abac_policy_file_errors_name_the_line():
    with pytest.raises(PolicyLoadError, match="line 2"):
        parse_abac_policy('# c\n{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", ')
    assert len(parse_abac_policy(POLICY)) == 4


def test_abac_enabled_on_a_cluster():
    c = Cluster(nodes=0, seed=6, coredns_replicas=0)
    assert str(c.can_i("alice", "delete", "deployments", "x")) == "no"
    c.authorization_mode("Node,ABAC,RBAC", abac_policy=POLICY)
    assert str(c.can_i("alice", "delete", "deployments", "x")) == "yes"
    alice = Client(c.apiserver, "kubectl", Credentials.x509("alice"))
    alice.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
                 namespace="default")
    assert "[*]" in c.can_i("alice", "", namespace="x", list=True)
    with pytest.raises(ValueError, match='"Bogus" is not a valid mode'):
        c.authorization_mode("Node,Bogus")
    c.authorization_mode("Node,RBAC")
    assert str(c.can_i("alice", "delete", "deployments", "x")) == "no"


def test_rules_table_groups_and_verbs():
    t = rules_table([{"verbs": ["get"], "apiGroups": ["", "apps"], "resources": ["pods"]},
                     {"verbs": ["list", "get"], "apiGroups": [""], "resources": ["pods"]},
                     {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]}])
    rows = [line.split() for line in t.splitlines()[1:]]
    assert rows == [["configmaps", "[]", "[a]", "[get]"], ["pods", "[]", "[]", "[get", "list]"],
                    ["pods.apps", "[]", "[]", "[get]"]]


def _binding(kind="RoleBinding", ref_kind="Role", ref_name="ghost", subjects=None, name="b"):
    md = {"name": name, "namespace": "team"} if kind == "RoleBinding" else {"name": name}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": md,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": ref_name},
            "subjects": subjects if subjects is not None else [{"kind": "User", "name": "x"}]}


@pytest.mark.parametrize("obj,message", [
    (_binding(ref_kind="Deployment"),
     'roleRef.kind: Unsupported value: "Deployment": supported values: "Role", "ClusterRole"'),
    (_binding(kind="ClusterRoleBinding", ref_kind="Role"),
     'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"'),
    (_binding(ref_name=""), "roleRef.name: Required value"),
    (_binding(subjects=[{"kind": "Robot", "name": "r2"}]),
     'subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"'),
    (_binding(kind="ClusterRoleBinding", ref_kind="ClusterRole", subjects=[{"kind": "ServiceAccount", "name": "s"}]),
     "subjects[0].namespace: Required value"),
])
def test_malformed_bindings_are_422_and_not_stored(cluster, obj, message):
    keys = cluster.etcd.keys("/registry/")
    with pytest.raises(StatusError) as e:
        cluster.apply(obj)
    assert e.value.code == 422 and message in e.value.message
    assert cluster.etcd.keys("/registry/") == keys


def test_role_ref_is_immutable(cluster):
    cluster.apply(_binding(name="fixed", ref_name="view", ref_kind="ClusterRole"))
    with pytest.raises(StatusError) as e:
        cluster.apply(_binding(name="fixed", ref_name="edit", ref_kind="ClusterRole"))
    assert e.value.code == 422
    assert ('roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", '
            'Name:"edit"}: cannot change roleRef') in e.value.message


def test_node_restriction_not_the_authorizer_refuses_another_nodes_update(cluster):
    from k8slab.apiserver import Credentials
    from k8slab.client import Client

    cert = cluster.pki.issue("kubelet-node-1", "ca", "system:node:node-1", ("system:nodes",))
    kubelet = Client(cluster.apiserver, "kubelet", Credentials.certificate(cert))
    with pytest.raises(StatusError) as e:
        kubelet.patch("nodes", "control-plane", {"metadata": {"labels": {"x": "y"}}})
    assert e.value.code == 403
    assert e.value.message == 'nodes "control-plane" is forbidden: node "node-1" is not allowed to modify node "control-plane"'
    assert "x" not in (cluster.get("node", "control-plane")["metadata"].get("labels") or {})
    own = kubelet.patch("nodes", "node-1", {"metadata": {"labels": {"x": "y"}}})
    assert own["metadata"]["labels"]["x"] == "y"
