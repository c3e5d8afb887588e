"""Mirrors: staging/src/k8s.io/kubectl/pkg/polymorphichelpers/{rollback.go,history.go,objectpauser.go,
objectresumer.go} and staging/src/k8s.io/kubectl/pkg/cmd/rollout.

``kubectl rollout undo`` is done by the client, not the server (the ``deployments/rollback`` subresource went away
with extensions/v1beta1): kubectl lists the Deployment's ReplicaSets, picks the one with the wanted revision (the
previous one by default), and patches the Deployment's pod template back to that ReplicaSet's template. The
Deployment controller then sees a template that matches an old ReplicaSet, makes it the *new* one again and gives it
the next revision number. Pause and resume only flip ``spec.paused``.
"""

from __future__ import annotations

from .api.objects import deepcopy
from .controllers.base import get_controller_of
from .controllers.deployment import (DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY, REVISION_ANNOTATION, equal_ignore_hash,
                                     revision)

CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"

# rollback.go annotationsToSkip: annotations of the ReplicaSet that are not copied back to the Deployment
ANNOTATIONS_TO_SKIP = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
}


class RolloutError(Exception):
    """What kubectl prints as ``error: ...`` and exits 1 for."""


def replica_sets_of(client, d: dict) -> list[dict]:
    """GetAllReplicaSets (kubectl's copy): the ReplicaSets whose controller is this Deployment."""
    uid = d["metadata"]["uid"]
    items = client.list("replicasets", namespace=d["metadata"]["namespace"])["items"]
    return [rs for rs in items if (get_controller_of(rs) or {}).get("uid") == uid]


def deployment_revision(d: dict, rss: list[dict], to_revision: int = 0) -> dict:
    """deploymentRevision: the ReplicaSet with ``to_revision``, or with the second-highest revision if 0."""
    latest, latest_rev, previous, previous_rev = None, -1, None, -1
    for rs in rss:
        v = revision(rs)
        if to_revision == 0:
            if latest_rev < v:
                previous, previous_rev = latest, latest_rev
                latest, latest_rev = rs, v
            elif previous_rev < v:
                previous, previous_rev = rs, v
        elif to_revision == v:
            return rs
    if to_revision > 0:
        raise RolloutError(f"unable to find specified revision {to_revision} in history")
    if previous is None:
        raise RolloutError(f'no rollout history found for deployment "{d["metadata"]["name"]}"')
    return previous


def rollback_deployment(client, name: str, namespace: str = "default", to_revision: int | None = None) -> str:
    """DeploymentRollbacker.Rollback: patch the template (and annotations) back to an old revision's."""
    d = client.get("deployments", name, namespace=namespace)
    if d["spec"].get("paused"):
        raise RolloutError("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' "
                           "and try again")
    to_revision = to_revision or 0
    if to_revision < 0:
        raise RolloutError("unable to find specified revision {} in history".format(to_revision))
    rs = deployment_revision(d, replica_sets_of(client, d), to_revision)
    if equal_ignore_hash(rs["spec"]["template"], d["spec"]["template"]):
        return f"deployment.apps/{name} skipped rollback (current template already matches revision {revision(rs)})"
    template = deepcopy(rs["spec"]["template"])
    (template.get("metadata") or {}).get("labels", {}).pop(DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY, None)
    annotations = {k: v for k, v in (rs["metadata"].get("annotations") or {}).items() if k not in ANNOTATIONS_TO_SKIP}
    new = deepcopy(d)
    new["spec"]["template"] = template
    if annotations:
        new["metadata"].setdefault("annotations", {}).update(annotations)
    client.update("deployments", new)  # carries resourceVersion: a concurrent change gives 409 Conflict
    return f"deployment.apps/{name} rolled back"


def pause_deployment(client, name: str, namespace: str = "default") -> str:
    d = client.get("deployments", name, namespace=namespace)
    if d["spec"].get("paused"):
        raise RolloutError(f"deployments.apps \"{name}\" is already paused")
    client.patch("deployments", name, {"spec": {"paused": True}}, namespace=namespace)
    return f"deployment.apps/{name} paused"


def resume_deployment(client, name: str, namespace: str = "default") -> str:
    d = client.get("deployments", name, namespace=namespace)
    if not d["spec"].get("paused"):
        raise RolloutError(f"deployments.apps \"{name}\" is not paused")
    client.patch("deployments", name, {"spec": {"paused": None}}, namespace=namespace)
    return f"deployment.apps/{name} resumed"


def history(client, name: str, namespace: str = "default") -> list[tuple[int, str]]:
    """DeploymentHistoryViewer: (revision, change-cause) for each ReplicaSet, oldest revision first."""
    d = client.get("deployments", name, namespace=namespace)
    rows = []
    for rs in replica_sets_of(client, d):
        v = revision(rs)
        cause = (rs["metadata"].get("annotations") or {}).get(CHANGE_CAUSE_ANNOTATION, "<none>")
        rows.append((v, cause))
    return sorted(rows)


def history_text(rows: list[tuple[int, str]]) -> str:
    lines = ["REVISION  CHANGE-CAUSE"] + [f"{v:<9} {c}" for v, c in rows]
    return "\n".join(lines)
