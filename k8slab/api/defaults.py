"""Mirrors: pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1/defaults.go, pkg/apis/batch/v1/defaults.go,
pkg/apis/discovery/v1/defaults.go, pkg/apis/networking/v1/defaults.go, pkg/apis/rbac/v1/defaults.go,
pkg/apis/scheduling/v1/defaults.go, pkg/apis/autoscaling/v2/defaults.go (and the ``+default`` tags
in staging/src/k8s.io/api)

Defaulting: the API server fills in every field you left out before it validates and stores
an object. That is why ``kubectl get -o yaml`` shows ``dnsPolicy: ClusterFirst`` or
``imagePullPolicy: IfNotPresent`` although your manifest never said so.

``apply_defaults(obj)`` changes the object in place, as the ``SetDefaults_*`` functions do.
It does not touch ``metadata`` fields the server sets itself (uid, resourceVersion,
creationTimestamp), nor priority (an admission plugin) nor a Service's clusterIP and
ipFamilies (the Service REST storage allocates them).
"""

from __future__ import annotations

from typing import Callable

# v1.TerminationMessagePathDefault, DefaultTerminationGracePeriodSeconds, ...
TERMINATION_MESSAGE_PATH_DEFAULT = "/dev/termination-log"
DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
DEFAULT_SCHEDULER_NAME = "default-scheduler"
DEFAULT_CLIENT_IP_SERVICE_AFFINITY_SECONDS = 10800
DEFAULT_VOLUME_MODE = 420  # 0644, SecretVolumeSourceDefaultMode and friends
LABEL_METADATA_NAME = "kubernetes.io/metadata.name"
FINALIZER_KUBERNETES = "kubernetes"


def image_tag(image: str) -> tuple[str, str]:
    """(tag, digest) of an image reference, like ``parsers.ParseImageName``.

    A reference without tag or digest gets the tag ``latest``.
    """
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    if not tag and not digest:
        tag = "latest"
    return tag, digest


def set_defaults_container(c: dict) -> None:
    if not c.get("imagePullPolicy"):
        tag, _ = image_tag(c.get("image", ""))
        c["imagePullPolicy"] = "Always" if tag == "latest" else "IfNotPresent"
    c.setdefault("terminationMessagePath", TERMINATION_MESSAGE_PATH_DEFAULT)
    if not c.get("terminationMessagePath"):
        c["terminationMessagePath"] = TERMINATION_MESSAGE_PATH_DEFAULT
    if not c.get("terminationMessagePolicy"):
        c["terminationMessagePolicy"] = "File"
    for port in c.get("ports") or []:
        if not port.get("protocol"):
            port["protocol"] = "TCP"  # +default="TCP" on ContainerPort.Protocol
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(c.get(name), dict):
            set_defaults_probe(c[name])
    lifecycle = c.get("lifecycle") or {}
    for hook in ("postStart", "preStop"):
        if isinstance(lifecycle.get(hook), dict) and isinstance(lifecycle[hook].get("httpGet"), dict):
            set_defaults_http_get_action(lifecycle[hook]["httpGet"])


def set_defaults_probe(p: dict) -> None:
    for field, default in (("timeoutSeconds", 1), ("periodSeconds", 10),
                           ("successThreshold", 1), ("failureThreshold", 3)):
        if not p.get(field):
            p[field] = default
    if isinstance(p.get("httpGet"), dict):
        set_defaults_http_get_action(p["httpGet"])


def set_defaults_http_get_action(h: dict) -> None:
    if not h.get("path"):
        h["path"] = "/"
    if not h.get("scheme"):
        h["scheme"] = "HTTP"


_VOLUME_SOURCES = ("emptyDir", "hostPath", "secret", "configMap", "persistentVolumeClaim", "projected",
                   "downwardAPI", "nfs", "csi", "ephemeral", "image", "iscsi", "local", "gitRepo")


def set_defaults_volume(v: dict) -> None:
    if not any(k in v for k in _VOLUME_SOURCES) and len([k for k in v if k != "name"]) == 0:
        v["emptyDir"] = {}
    for src in ("secret", "configMap", "downwardAPI", "projected"):
        if isinstance(v.get(src), dict) and v[src].get("defaultMode") is None:
            v[src]["defaultMode"] = DEFAULT_VOLUME_MODE
    if isinstance(v.get("hostPath"), dict) and v["hostPath"].get("type") is None:
        v["hostPath"]["type"] = ""
    proj = v.get("projected") or {}
    for source in proj.get("sources") or []:
        sat = source.get("serviceAccountToken")
        if isinstance(sat, dict) and sat.get("expirationSeconds") is None:
            sat["expirationSeconds"] = 3600


def set_defaults_pod_spec(spec: dict) -> None:
    """SetDefaults_PodSpec plus the nested container, probe and volume defaults.

    Applies to pods and to every pod template (Deployment, Job, ...).
    """
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    if not spec.get("schedulerName"):
        spec["schedulerName"] = DEFAULT_SCHEDULER_NAME
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        set_defaults_container(c)
    for c in spec.get("ephemeralContainers") or []:
        set_defaults_container(c)
    for v in spec.get("volumes") or []:
        set_defaults_volume(v)


def set_defaults_pod(pod: dict) -> None:
    """SetDefaults_Pod: pod-only defaults, then the pod spec ones."""
    spec = pod.setdefault("spec", {})
    # Requests default to limits, container by container (not for templates).
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        res = c.get("resources")
        if res and res.get("limits") is not None:
            requests = res.setdefault("requests", {})
            for name, q in res["limits"].items():
                requests.setdefault(name, q)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork"):
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            for port in c.get("ports") or []:
                if not port.get("hostPort"):
                    port["hostPort"] = port.get("containerPort")
    set_defaults_pod_spec(spec)


def _template_spec(obj: dict, *path: str) -> None:
    node = obj
    for p in path:
        node = node.setdefault(p, {})
    set_defaults_pod_spec(node)


def set_defaults_deployment(d: dict) -> None:
    spec = d.setdefault("spec", {})
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = spec.setdefault("strategy", {})
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if ru is None:
            ru = strategy["rollingUpdate"] = {}
        if ru.get("maxUnavailable") is None:
            ru["maxUnavailable"] = "25%"
        if ru.get("maxSurge") is None:
            ru["maxSurge"] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _template_spec(spec, "template", "spec")


def set_defaults_replica_set(rs: dict) -> None:
    spec = rs.setdefault("spec", {})
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _template_spec(spec, "template", "spec")


def set_defaults_replication_controller(rc: dict) -> None:
    spec = rc.setdefault("spec", {})
    labels = (spec.get("template") or {}).get("metadata", {}).get("labels")
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = rc.setdefault("metadata", {})
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("template") is not None:
        _template_spec(spec, "template", "spec")


def set_defaults_daemon_set(ds: dict) -> None:
    spec = ds.setdefault("spec", {})
    us = spec.setdefault("updateStrategy", {})
    if not us.get("type"):
        us["type"] = "RollingUpdate"
    if us["type"] == "RollingUpdate":
        ru = us.get("rollingUpdate")
        if ru is None:
            ru = us["rollingUpdate"] = {}
        if ru.get("maxUnavailable") is None:
            ru["maxUnavailable"] = 1
        if ru.get("maxSurge") is None:
            ru["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _template_spec(spec, "template", "spec")


def set_defaults_stateful_set(sts: dict) -> None:
    spec = sts.setdefault("spec", {})
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    us = spec.setdefault("updateStrategy", {})
    if not us.get("type"):
        us["type"] = "RollingUpdate"
        if us.get("rollingUpdate") is None:
            us["rollingUpdate"] = {}
    if us["type"] == "RollingUpdate" and us.get("rollingUpdate") is not None \
            and us["rollingUpdate"].get("partition") is None:
        us["rollingUpdate"]["partition"] = 0
    # StatefulSetAutoDeletePVC (on by default)
    policy = spec.get("persistentVolumeClaimRetentionPolicy")
    if policy is None:
        policy = spec["persistentVolumeClaimRetentionPolicy"] = {}
    policy.setdefault("whenDeleted", "Retain")
    policy.setdefault("whenScaled", "Retain")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _template_spec(spec, "template", "spec")


def set_defaults_job(job: dict) -> None:
    spec = job.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 6
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    meta = job.setdefault("metadata", {})
    if labels is not None and not meta.get("labels"):
        meta["labels"] = dict(labels)
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    # JobPodReplacementPolicy (on by default)
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    _template_spec(spec, "template", "spec")


def set_defaults_cron_job(cj: dict) -> None:
    spec = cj.setdefault("spec", {})
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    _template_spec(spec, "jobTemplate", "spec", "template", "spec")


def externally_accessible(svc: dict) -> bool:
    """``service.ExternallyAccessible``: LoadBalancer, NodePort, or ClusterIP with externalIPs."""
    spec = svc.get("spec") or {}
    t = spec.get("type")
    return t in ("LoadBalancer", "NodePort") or (t == "ClusterIP" and bool(spec.get("externalIPs")))


def set_defaults_service(svc: dict) -> None:
    spec = svc.setdefault("spec", {})
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    if spec["sessionAffinity"] == "ClientIP":
        cfg = spec.get("sessionAffinityConfig") or {}
        if (cfg.get("clientIP") or {}).get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {
                "clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_SERVICE_AFFINITY_SECONDS}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    for sp in spec.get("ports") or []:
        if not sp.get("protocol"):
            sp["protocol"] = "TCP"
        if sp.get("targetPort") in (None, 0, ""):
            sp["targetPort"] = sp.get("port")
    if externally_accessible(svc) and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and spec["type"] in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is None:
            spec["allocateLoadBalancerNodePorts"] = True
        for ing in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            if ing.get("ip") and ing.get("ipMode") is None:
                ing["ipMode"] = "VIP"


def set_defaults_namespace(ns: dict) -> None:
    meta = ns.setdefault("metadata", {})
    if meta.get("name"):
        labels = meta.get("labels")
        if labels is None:
            labels = meta["labels"] = {}
        labels[LABEL_METADATA_NAME] = meta["name"]
    status = ns.setdefault("status", {})
    if not status.get("phase"):
        status["phase"] = "Active"


def namespace_finalizers(ns: dict) -> dict:
    """Add ``spec.finalizers: [kubernetes]`` as the namespace registry does on create."""
    spec = ns.setdefault("spec", {})
    finalizers = spec.setdefault("finalizers", [])
    if FINALIZER_KUBERNETES not in finalizers:
        finalizers.append(FINALIZER_KUBERNETES)
    return ns


def set_defaults_node(node: dict) -> None:
    status = node.get("status")
    if status and status.get("allocatable") is None and status.get("capacity") is not None:
        status["allocatable"] = dict(status["capacity"])


def set_defaults_secret(s: dict) -> None:
    if not s.get("type"):
        s["type"] = "Opaque"


def set_defaults_endpoints(ep: dict) -> None:
    for subset in ep.get("subsets") or []:
        for port in subset.get("ports") or []:
            if not port.get("protocol"):
                port["protocol"] = "TCP"


def set_defaults_endpoint_slice(es: dict) -> None:
    for port in es.get("ports") or []:
        if port.get("name") is None:
            port["name"] = ""
        if port.get("protocol") is None:
            port["protocol"] = "TCP"


def set_defaults_persistent_volume(pv: dict) -> None:
    pv.setdefault("status", {}).setdefault("phase", "Pending")
    spec = pv.setdefault("spec", {})
    if not spec.get("persistentVolumeReclaimPolicy"):
        spec["persistentVolumeReclaimPolicy"] = "Retain"
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"


def set_defaults_persistent_volume_claim(pvc: dict) -> None:
    status = pvc.setdefault("status", {})
    if not status.get("phase"):
        status["phase"] = "Pending"
    spec = pvc.setdefault("spec", {})
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"


def set_defaults_storage_class(sc: dict) -> None:
    """SetDefaults_StorageClass (storage/v1): reclaimPolicy Delete, volumeBindingMode Immediate."""
    if not sc.get("reclaimPolicy"):
        sc["reclaimPolicy"] = "Delete"
    if not sc.get("volumeBindingMode"):
        sc["volumeBindingMode"] = "Immediate"


def set_defaults_network_policy(np: dict) -> None:
    spec = np.setdefault("spec", {})
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in rule.get("ports") or []:
                if not port.get("protocol"):
                    port["protocol"] = "TCP"
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types


def set_defaults_priority_class(pc: dict) -> None:
    if pc.get("preemptionPolicy") is None:
        pc["preemptionPolicy"] = "PreemptLowerPriority"


def _rbac_subjects(obj: dict) -> None:
    ref = obj.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = "rbac.authorization.k8s.io"
    for s in obj.get("subjects") or []:
        if not s.get("apiGroup"):
            if s.get("kind") in ("User", "Group"):
                s["apiGroup"] = "rbac.authorization.k8s.io"
            elif s.get("kind") == "ServiceAccount":
                s["apiGroup"] = ""


def set_defaults_limit_range(lr: dict) -> None:
    """SetDefaults_LimitRangeItem: for Container items, default limits come from max, default requests from the
    default limits, then from min."""
    for item in (lr.get("spec") or {}).get("limits") or []:
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        default = item.setdefault("default", {})
        default_request = item.setdefault("defaultRequest", {})
        for key, value in (item.get("max") or {}).items():
            default.setdefault(key, value)
        for key, value in default.items():
            default_request.setdefault(key, value)
        for key, value in (item.get("min") or {}).items():
            default_request.setdefault(key, value)


def set_defaults_hpa(hpa: dict) -> None:
    spec = hpa.setdefault("spec", {})
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    behavior = spec.get("behavior")
    if behavior is not None:
        up = behavior.get("scaleUp") or {}
        up.setdefault("stabilizationWindowSeconds", 0)
        up.setdefault("selectPolicy", "Max")
        up.setdefault("policies", [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                   {"type": "Percent", "value": 100, "periodSeconds": 15}])
        behavior["scaleUp"] = up
        down = behavior.get("scaleDown") or {}
        down.setdefault("stabilizationWindowSeconds", 300)
        down.setdefault("selectPolicy", "Max")
        down.setdefault("policies", [{"type": "Percent", "value": 100, "periodSeconds": 15}])
        behavior["scaleDown"] = down


DEFAULTERS: dict[str, Callable[[dict], None]] = {
    "LimitRange": set_defaults_limit_range,
    "Pod": set_defaults_pod,
    "PodTemplate": lambda o: _template_spec(o, "template", "spec"),
    "Deployment": set_defaults_deployment,
    "ReplicaSet": set_defaults_replica_set,
    "ReplicationController": set_defaults_replication_controller,
    "DaemonSet": set_defaults_daemon_set,
    "StatefulSet": set_defaults_stateful_set,
    "Job": set_defaults_job,
    "CronJob": set_defaults_cron_job,
    "Service": set_defaults_service,
    "Namespace": set_defaults_namespace,
    "Node": set_defaults_node,
    "Secret": set_defaults_secret,
    "Endpoints": set_defaults_endpoints,
    "EndpointSlice": set_defaults_endpoint_slice,
    "PersistentVolume": set_defaults_persistent_volume,
    "PersistentVolumeClaim": set_defaults_persistent_volume_claim,
    "StorageClass": set_defaults_storage_class,
    "NetworkPolicy": set_defaults_network_policy,
    "PriorityClass": set_defaults_priority_class,
    "RoleBinding": _rbac_subjects,
    "ClusterRoleBinding": _rbac_subjects,
    "HorizontalPodAutoscaler": set_defaults_hpa,
}


def apply_defaults(obj: dict) -> dict:
    """Fill in defaults for a known kind, in place; returns the same object."""
    fn = DEFAULTERS.get(obj.get("kind", ""))
    if fn is not None:
        fn(obj)
    return obj
