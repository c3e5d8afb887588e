"""Mirrors: (no upstream file) the exercises of notebooks/05-cloud-controller-manager.ipynb.

Each check computes the right answer from a cluster built with ``cloud_provider="fake"``: the learner's when given
(``cluster=c``), otherwise one built from seed 0 and driven the way the notebook drives it.
"""

from __future__ import annotations

from .core import Exercise, register

_CACHE: dict = {}

LB_SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop"},
              "spec": {"type": "LoadBalancer", "selector": {"app": "shop"}, "ports": [{"port": 80}]}}


def _cloud_cluster(cluster=None):
    if cluster is not None and getattr(cluster, "cloud", None) is not None:
        return cluster
    if "base" not in _CACHE:
        from ..cluster import Cluster

        c = Cluster(nodes=3, seed=0, cloud_provider="fake")
        c.apply(LB_SERVICE)
        c.settle()
        _CACHE["base"] = c
    return _CACHE["base"]


def terminated_node_timeline() -> dict:
    """Terminate node-2's VM and return when (ms after) the node went Unknown and when the CCM deleted it."""
    if "terminated" not in _CACHE:
        from ..cluster import Cluster

        c = Cluster(nodes=3, seed=0, cloud_provider="fake")
        t0 = c.now
        c.cloud.terminate_instance("node-2")
        c.run(seconds=120)
        unknown = next(e.time for e in c.trace if e.kind == "node.unknown" and e.ref == "nodes/node-2")
        deleted = next(e.time for e in c.trace if e.kind == "node.deleted" and e.ref == "nodes/node-2")
        _CACHE["terminated"] = {"unknown": unknown - t0, "deleted": deleted - t0}
    return _CACHE["terminated"]


def lb_retry_delays() -> list[int]:
    """The delays (s) between the service controller's failed attempts while the load balancer API fails."""
    if "retries" not in _CACHE:
        from ..cluster import Cluster

        c = Cluster(nodes=2, seed=0, cloud_provider="fake")
        c.cloud.fail("load_balancers")
        c.apply(LB_SERVICE)
        c.run(seconds=80)
        times = [e.time for e in c.trace if e.kind == "reconcile.error" and e.ref == "services/default/shop"]
        _CACHE["retries"] = [(b - a) // 1000 for a, b in zip(times, times[1:])]
    return _CACHE["retries"]


# -- 05.1 zone ---------------------------------------------------------------------------------------------------
def _check_zone(answer, cluster):
    c = _cloud_cluster(cluster)
    node = c.get("node", "node-2")
    want = node["metadata"]["labels"]["topology.kubernetes.io/zone"]
    if not isinstance(answer, str):
        return False, "answer with the zone name as a string, e.g. 'lab-1x'"
    if answer == want:
        return True, (f"node-2 runs on {c.cloud.instances['node-2'].instance_id} in {want}; the cloud-node "
                      f"controller copied it into topology.kubernetes.io/zone when it removed the uninitialized "
                      f"taint.")
    if answer == node["metadata"]["labels"].get("topology.kubernetes.io/region"):
        return False, "that is the region; the zone is one level below it (topology.kubernetes.io/zone)"
    return False, f"'{answer}' is not node-2's zone: read its labels, or c.cloud.instances['node-2']"


# -- 05.2 terminated instance ---------------------------------------------------------------------------------------
def _check_deleted(answer, cluster):
    t = terminated_node_timeline()
    want = t["deleted"] / 1000
    if not isinstance(answer, (int, float)) or isinstance(answer, bool):
        return False, "answer with a number of seconds"
    if abs(answer - want) <= 5:
        return True, (f"about {want:.0f} s: the kube-controller-manager marks the node Unknown after the 50 s grace "
                      f"period (at {t['unknown'] / 1000:.0f} s), and only then does the cloud-node-lifecycle "
                      f"controller, which looks at nodes that are not Ready every 5 s, ask the cloud and delete it.")
    if abs(answer - 50) <= 2:
        return False, "50 s is the node-monitor grace period alone; what has to happen after the node is Unknown?"
    if abs(answer - 40) <= 2:
        return False, ("40 s was --node-monitor-grace-period before Kubernetes 1.32; it is 50 s now, and the Node is "
                       "deleted only after it is Unknown")
    if abs(answer - 300) <= 10:
        return False, "300 s is the pods' toleration of the unreachable taint, not what deletes the Node"
    return False, f"{answer} s is not it: find the node.unknown and node.deleted events in c.trace"


# -- 05.3 load balancer address -----------------------------------------------------------------------------------
def _check_lb_ip(answer, cluster):
    c = _cloud_cluster(cluster)
    svc = c.get("service", "shop")
    ingress = (svc["status"].get("loadBalancer") or {}).get("ingress") or []
    if not ingress:
        return False, "the Service 'shop' has no load balancer yet: run c.settle() (and heal the cloud)"
    want = ingress[0]["ip"]
    if answer == want:
        return True, (f"{want}: the service controller called EnsureLoadBalancer and wrote the address into "
                      f"status.loadBalancer.ingress, which kubectl shows as EXTERNAL-IP.")
    if answer == svc["spec"].get("clusterIP"):
        return False, "that is the ClusterIP, reachable only inside the cluster; look at status.loadBalancer"
    return False, f"'{answer}' is not the load balancer's address of the Service 'shop'"


# -- 05.4 retries ---------------------------------------------------------------------------------------------------
def _check_retries(answer, cluster):
    delays = lb_retry_delays()
    want = [d for d in delays if d >= 5][:3]
    if not isinstance(answer, (list, tuple)) or len(answer) != 3:
        return False, "answer with a list of three numbers of seconds, e.g. [1, 2, 3]"
    if list(answer) == want:
        return True, (f"{want}: each failure puts the key back with exponential backoff starting at 5 s "
                      f"(minRetryDelay) and doubling up to 300 s; every failure is a SyncLoadBalancerFailed event.")
    if list(answer) == [5, 5, 5]:
        return False, "the delay is not constant: the rate limiter doubles it after each failure"
    return False, f"{list(answer)} is not it: compare the times of the reconcile.error events for the Service"


# -- 05.5 the taint ---------------------------------------------------------------------------------------------------
def _check_taint(answer, cluster):
    want = "node.cloudprovider.kubernetes.io/uninitialized"
    if not isinstance(answer, str):
        return False, "answer with the taint key as a string"
    if answer.strip().split(":")[0].split("=")[0] == want:
        return True, ("the kubelet with --cloud-provider=external registers its Node with this NoSchedule taint, "
                      "so no pod lands on a node the cloud has not described yet; the cloud-node controller "
                      "removes it.")
    if answer.startswith("node.kubernetes.io/not-ready"):
        return False, "not-ready is about the kubelet's health; the one you want belongs to the cloud provider"
    return False, f"'{answer}' is not it: look at the taints of the Node object the kubelet first created"


register(Exercise("05.1", "Which zone?", "Which zone does node-2 run in, according to its labels?",
                  _check_zone, ["Zones are labels on the Node, set by the cloud-node controller.",
                                "c.get('node', 'node-2')['metadata']['labels']['topology.kubernetes.io/zone']"]))
register(Exercise("05.2", "A VM disappears",
                  "After c.cloud.terminate_instance('node-2'), about how many seconds pass before the Node "
                  "object is deleted?", _check_deleted,
                  ["Two controllers are involved: the node lifecycle controller of kube-controller-manager, and "
                   "the cloud-node-lifecycle controller of cloud-controller-manager.",
                   "The cloud-node-lifecycle controller only looks at nodes that are not Ready.",
                   "Find the events of kind 'node.unknown' and 'node.deleted' in c.trace."]))
register(Exercise("05.3", "External IP", "What address does the Service 'shop' get from the cloud?",
                  _check_lb_ip, ["kubectl shows it as EXTERNAL-IP.", "status.loadBalancer.ingress[0].ip"]))
register(Exercise("05.4", "Retry, retry", "While c.cloud.fail('load_balancers') is in effect, what are the first "
                  "three delays (in seconds) between the service controller's attempts, once backoff starts?",
                  _check_retries, ["The service controller's queue uses an exponential rate limiter.",
                                   "Its minimum delay is 5 s and it doubles after each failure."]))
register(Exercise("05.5", "Not ready for pods", "Which taint keeps pods off a new node until the "
                  "cloud-controller-manager has initialised it?", _check_taint,
                  ["The kubelet adds it when it runs with --cloud-provider=external.",
                   "Its key starts with node.cloudprovider.kubernetes.io/"]))
