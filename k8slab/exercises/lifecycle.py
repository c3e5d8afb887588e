"""Mirrors: (no upstream file) the lifecycle exercises of notebooks/04-controllers.ipynb: Namespace deletion,
node lifecycle, garbage collection and a custom controller.

Checks compute the right answer by running a deterministic cluster (seed 0) the way the notebook does.
"""

from __future__ import annotations

from .core import Exercise, register

_CACHE: dict = {}

WIDGET_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1, maximum: 10}
              color: {type: string, enum: [red, blue], default: red}
          status:
            type: object
            properties:
              ready: {type: boolean}
"""

WEB = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}


def eviction_timeline() -> dict:
    """Stop node-2's kubelet and return (in seconds after the stop) when the node went Unknown, was tainted
    unreachable:NoExecute, and its first pod was evicted."""
    if "evict" not in _CACHE:
        from ..cluster import Cluster

        c = Cluster(nodes=2, seed=0)
        c.apply(WEB)
        c.settle()
        t0 = c.now
        c.node("node-2").kubelet.stop()
        c.run(seconds=400)
        unknown = next(e.time for e in c.trace if e.kind == "node.unknown" and e.ref == "nodes/node-2")
        taint = next(e.time for e in c.trace if e.kind == "node.taints" and
                     "node.kubernetes.io/unreachable:NoExecute" in e.data["added"])
        evict = next(e.time for e in c.trace if e.kind == "eviction")
        _CACHE["evict"] = {"unknown": (unknown - t0) / 1000, "tainted": (taint - t0) / 1000,
                           "evicted": (evict - t0) / 1000}
    return _CACHE["evict"]


# -- 04.5 the namespace finalizer -------------------------------------------------------------------------------------
def _check_ns_field(answer, cluster):
    if not isinstance(answer, str):
        return False, "answer with a field path as a string, e.g. 'metadata.labels'"
    a = answer.strip()
    if a in ("spec.finalizers", ".spec.finalizers"):
        return True, ("spec.finalizers holds the 'kubernetes' finalizer from creation; only the namespace "
                      "controller removes it, through the finalize subresource, once nothing is left inside.")
    if a in ("metadata.finalizers", ".metadata.finalizers"):
        return False, ("namespaces are special: their finalizer lives in another field, changed only through the "
                       "namespaces/<name>/finalize subresource")
    if "phase" in a:
        return False, "status.phase only says Terminating; it does not keep the object in etcd"
    return False, f"'{a}' is not it: look at c.get('namespace', 'team') before and after the deletion"


# -- 04.6 eviction time -------------------------------------------------------------------------------------------
def _check_eviction(answer, cluster):
    t = eviction_timeline()
    if not isinstance(answer, (int, float)) or isinstance(answer, bool):
        return False, "answer with a number of seconds after kubelet.stop()"
    if abs(answer - t["evicted"]) <= 5:
        return True, (f"about {t['evicted']:.0f} s: Unknown after the 50 s grace period (at {t['unknown']:.0f} s), "
                      f"tainted unreachable:NoExecute on the next 5 s monitor pass ({t['tainted']:.0f} s), "
                      f"evicted when the pods' 300 s toleration ran out.")
    if abs(answer - 300) <= 5:
        return False, "300 s is the toleration alone; it starts counting only when the NoExecute taint appears"
    if abs(answer - 350) <= 5:
        return False, ("close: 50 s + 300 s leaves out when the controller noticed the last Lease renewal and "
                       "the monitor pass that adds the taint")
    if abs(answer - 50) <= 5 or abs(answer - 40) <= 5:
        return False, "that is when the node becomes Unknown; the pods stay a while longer"
    return False, f"{answer} s is not it: find the 'eviction' events in c.trace"


# -- 04.7 orphan --------------------------------------------------------------------------------------------------
POLICIES = ("Background", "Foreground", "Orphan")


def _outcome(policy: str) -> tuple[int, int]:
    key = ("gc", policy)
    if key not in _CACHE:
        from ..cluster import Cluster

        c = Cluster(nodes=2, seed=0)
        c.apply(WEB)
        c.settle()
        c.delete("deployment", "web", propagation_policy=policy)
        c.settle()
        _CACHE[key] = (len(c.get("rs")), len(c.get("pods")))
    return _CACHE[key]


def _check_orphan(answer, cluster):
    if not isinstance(answer, str) or answer.capitalize() not in POLICIES:
        return False, "answer with one of 'Background', 'Foreground' or 'Orphan'"
    policy = answer.capitalize()
    rs, pods = _outcome(policy)
    if rs == 1 and pods == 2:
        return True, ("with Orphan the API server adds the 'orphan' finalizer; the garbage collector removes the "
                      "ownerReferences of the ReplicaSet, then the finalizer, and the Deployment goes alone.")
    return False, (f"with {policy}, {rs} ReplicaSet(s) and {pods} pod(s) are left after the deletion: the garbage "
                   f"collector deleted the dependents")


# -- 04.8 a custom controller -------------------------------------------------------------------------------------
def run_widget_controller(controller_class) -> dict:
    """Run ``controller_class`` on a cluster with the Widget CRD and two Widgets; report what it produced."""
    from ..cluster import Cluster

    c = Cluster(nodes=1, seed=0)
    c.apply(WIDGET_CRD)
    c.settle()
    ctrl = c.add_controller(controller_class)
    c.apply({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "a"}, "spec": {"size": 1}})
    c.apply({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "b"},
             "spec": {"size": 2, "color": "blue"}})
    c.run(seconds=30)
    c.apply({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "a"},
             "spec": {"size": 1, "color": "blue"}})
    c.run(seconds=30)
    out = {"configmaps": {}, "errors": [r for r in ctrl.reconciles if r[2] != "ok"]}
    for cm in c.admin.list("configmaps", namespace="default")["items"]:
        if cm["metadata"]["name"].endswith("-paint"):
            out["configmaps"][cm["metadata"]["name"]] = (dict(cm.get("data") or {}),
                                                         [r.get("kind") for r in
                                                          cm["metadata"].get("ownerReferences") or ()])
    c.delete("widget", "b")
    c.run(seconds=30)
    out["after_delete"] = sorted(cm["metadata"]["name"] for cm in
                                 c.admin.list("configmaps", namespace="default")["items"]
                                 if cm["metadata"]["name"].endswith("-paint"))
    return out


def _check_controller(answer, cluster):
    from ..controllers.custom import CustomController

    if not (isinstance(answer, type) and issubclass(answer, CustomController)):
        return False, "answer with your controller class (a subclass of CustomController), not an instance"
    if answer.RESOURCE != "widgets":
        return False, f"RESOURCE is {answer.RESOURCE!r}: the controller must watch 'widgets'"
    got = run_widget_controller(answer)
    cms = got["configmaps"]
    if set(cms) != {"a-paint", "b-paint"}:
        return False, f"expected ConfigMaps a-paint and b-paint in default, found {sorted(cms) or 'none'}"
    if cms["b-paint"][0] != {"color": "blue"}:
        return False, f"b-paint holds {cms['b-paint'][0]}; it should hold {{'color': 'blue'}}"
    if cms["a-paint"][0] != {"color": "blue"}:
        return False, ("a-paint did not follow the Widget's new color: reconcile must compare the ConfigMap with "
                       "the Widget every time (level-triggered), not only create it")
    if "Widget" not in cms["a-paint"][1]:
        return False, "the ConfigMaps have no ownerReference to their Widget (use self.owner_reference(widget))"
    if "b-paint" in got["after_delete"]:
        return False, "b-paint survived its Widget's deletion: is the ownerReference's uid the Widget's?"
    return True, ("each Widget gets its ConfigMap, kept in step with spec.color, and the garbage collector "
                  "removes it with its owner.")


register(Exercise("04.5", "What holds a Terminating namespace?",
                  "Which field of a Namespace keeps it in etcd while the namespace controller deletes its "
                  "content? Answer with its path, e.g. 'metadata.labels'.", _check_ns_field,
                  ["Compare the namespace's spec and metadata before and after c.delete('namespace', ...).",
                   "Its value is ['kubernetes'] from the moment the namespace is created."]))
register(Exercise("04.6", "When do the pods leave?",
                  "On a 2-node cluster running the 'web' Deployment, node-2's kubelet stops. About how many "
                  "seconds later is the first of its pods evicted?", _check_eviction,
                  ["Three delays add up: the node-monitor grace period, the monitor period, and a toleration.",
                   "The DefaultTolerationSeconds admission plugin gave every pod tolerationSeconds: 300.",
                   "Look for the events 'node.unknown', 'node.taints' and 'eviction' in c.trace."]))
register(Exercise("04.7", "Keep the pods", "Which propagationPolicy deletes the 'web' Deployment but leaves its "
                  "ReplicaSet and pods running?", _check_orphan,
                  ["There are three policies: Background, Foreground and Orphan.",
                   "Only one of them removes ownerReferences instead of deleting dependents."]))
register(Exercise("04.8", "Your own controller",
                  "Write a CustomController for 'widgets' that keeps, for each Widget <name>, a ConfigMap "
                  "<name>-paint in the same namespace with data {'color': <spec.color>}, owned by the Widget. "
                  "Answer with the class.", _check_controller,
                  ["Start from: class PaintController(CustomController): NAME = 'paint-controller'; "
                   "RESOURCE = 'widgets'; OWNS = ('configmaps',) and def reconcile(self, key).",
                   "In reconcile: w = self.get(key); return if None; find the ConfigMap with self.owned_by; create "
                   "it if missing, update it if its color differs.",
                   "ownerReferences: [self.owner_reference(w)] makes the garbage collector delete it with w."]))
