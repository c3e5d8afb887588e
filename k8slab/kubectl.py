"""Mirrors: staging/src/k8s.io/kubectl/pkg/cmd/apply/apply.go (client-side apply with the
last-applied-configuration annotation), pkg/printers/internalversion/printers.go (the ``kubectl get`` columns) and
staging/src/k8s.io/kubectl/pkg/describe/describe.go.

What ``kubectl`` does on the client side: turn manifests into create or patch requests, and print what comes back
as the familiar tables.
"""

from __future__ import annotations

import json

from .api import errors, resources
from .api.objects import deepcopy, parse_rfc3339
from .api.serialize import to_yaml

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class Text(str):
    """Text that a notebook shows as printed (``kubectl describe`` output, hints), not as a quoted string."""

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))


class KubeObject(dict):
    """An API object (a plain dict) that shows itself as YAML, like ``kubectl get -o yaml``."""

    def __repr__(self) -> str:
        return to_yaml(dict(self)).rstrip()

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(repr(self))

    @property
    def yaml(self) -> str:
        return to_yaml(dict(self))


class ObjectList(list):
    """A list of API objects that prints as the ``kubectl get`` table."""

    def __init__(self, items, resource: str, now_ms: int = 0) -> None:
        super().__init__(KubeObject(o) for o in items)
        self.resource = resource
        self.now_ms = now_ms

    def table(self) -> list[list[str]]:
        return table(self.resource, list(self), self.now_ms)

    def __repr__(self) -> str:
        rows = self.table()
        if len(rows) <= 1:
            return "No resources found"
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(repr(self))

    def to_dataframe(self):
        import pandas as pd

        rows = self.table()
        return pd.DataFrame(rows[1:], columns=rows[0])

    @property
    def names(self) -> list[str]:
        return [o["metadata"]["name"] for o in self]


# -- apply ----------------------------------------------------------------------------------------------------------

def _three_way(live, last, new):
    """A JSON-merge-style three-way merge: fields in ``new`` win, fields removed since ``last`` are dropped."""
    if not isinstance(new, dict) or not isinstance(live, dict):
        return deepcopy(new)
    out = deepcopy(live)
    last = last if isinstance(last, dict) else {}
    for k in last:
        if k not in new:
            out.pop(k, None)
    for k, v in new.items():
        out[k] = _three_way(live.get(k), last.get(k), v)
    return out


def apply(client, obj: dict) -> tuple[dict, str]:
    """Create ``obj`` or patch the live object towards it. Returns (object, "created"|"configured"|"unchanged")."""
    info = resources.for_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
    md = obj.get("metadata") or {}
    name = md.get("name")
    if not name:
        raise errors.new_invalid(resources.group_kind(info), "",
                                 [errors.required("metadata.name", "name or generateName is required")])
    ns = (md.get("namespace") or "default") if info.namespaced else None
    desired = deepcopy(obj)
    last_applied = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    desired.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = last_applied
    try:
        live = client.get(info.resource, name, namespace=ns)
    except errors.StatusError as e:
        if e.code != 404:
            raise
        return client.create(info.resource, desired, namespace=ns), "created"
    prev = (live["metadata"].get("annotations") or {}).get(LAST_APPLIED)
    last = json.loads(prev) if prev else {}
    merged = _three_way(live, last, desired)
    merged["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    if merged == live:
        return live, "unchanged"
    updated = client.update(info.resource, merged)
    if updated["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]:
        return updated, "unchanged"
    return updated, "configured"


# -- printing ---------------------------------------------------------------------------------------------------------

def human_duration(ms: int) -> str:
    """duration.HumanDuration as kubectl prints AGE."""
    s = max(0, ms // 1000)
    if s < 2 * 60:
        return f"{s}s"
    m = s // 60
    if m < 10:
        rs = s % 60
        return f"{m}m{rs}s" if rs else f"{m}m"
    if m < 3 * 60:
        return f"{m}m"
    h = m // 60
    if h < 8:
        rm = m % 60
        return f"{h}h{rm}m" if rm else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if h < 24 * 8:
        rh = h % 24
        return f"{d}d{rh}h" if rh else f"{d}d"
    return f"{d}d"


def _age(o: dict, now_ms: int) -> str:
    ts = o["metadata"].get("creationTimestamp")
    return human_duration(now_ms - parse_rfc3339(ts)) if ts else "<unknown>"


def pod_status_reason(pod: dict) -> str:
    """printPod's STATUS column."""
    st = pod.get("status") or {}
    reason = st.get("reason") or st.get("phase") or "Unknown"
    init = False
    init_statuses = st.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):
        state = cs.get("state") or {}
        if "terminated" in state and state["terminated"].get("exitCode", 0) == 0:
            continue
        if "terminated" in state:
            t = state["terminated"]
            reason = "Init:" + (t.get("reason") or f"ExitCode:{t.get('exitCode')}")
        elif state.get("waiting", {}).get("reason") and state["waiting"]["reason"] != "PodInitializing":
            reason = "Init:" + state["waiting"]["reason"]
        else:
            reason = f"Init:{i}/{len(pod['spec'].get('initContainers') or [])}"
        init = True
        break
    if not init:
        has_running = False
        for cs in reversed(st.get("containerStatuses") or []):
            state = cs.get("state") or {}
            if state.get("waiting", {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated", {}).get("reason"):
                reason = state["terminated"]["reason"]
            elif "terminated" in state:
                t = state["terminated"]
                reason = f"Signal:{t['signal']}" if t.get("signal") else f"ExitCode:{t.get('exitCode')}"
            elif "running" in state and cs.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _ready_count(pod: dict) -> str:
    cs = pod.get("status", {}).get("containerStatuses") or []
    total = len(pod.get("spec", {}).get("containers") or [])
    return f"{sum(1 for c in cs if c.get('ready'))}/{total}"


def _restarts(pod: dict) -> str:
    return str(sum(c.get("restartCount", 0) for c in pod.get("status", {}).get("containerStatuses") or []))


def _node_status(node: dict) -> str:
    conds = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions") or []}
    s = {"True": "Ready", "False": "NotReady"}.get(conds.get("Ready"), "Unknown")
    if node.get("spec", {}).get("unschedulable"):
        s += ",SchedulingDisabled"
    return s


def _roles(node: dict) -> str:
    roles = sorted(k.split("/", 1)[1] for k in (node["metadata"].get("labels") or {})
                   if k.startswith("node-role.kubernetes.io/"))
    return ",".join(roles) or "<none>"


def _svc_ports(svc: dict) -> str:
    out = []
    for p in svc.get("spec", {}).get("ports") or []:
        s = f"{p['port']}"
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        out.append(f"{s}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _selector_text(sel: dict | None) -> str:
    ml = (sel or {}).get("matchLabels") or (sel if sel and "matchLabels" not in sel and
                                            "matchExpressions" not in sel else {})
    return ",".join(f"{k}={v}" for k, v in sorted(ml.items())) or "<none>"


def table(resource: str, items: list[dict], now_ms: int) -> list[list[str]]:
    """The rows ``kubectl get <resource>`` prints (header first)."""
    r = resources.lookup(resource).resource
    ns_col = False
    if items and len({o["metadata"].get("namespace") for o in items}) > 1:
        ns_col = True
    rows: list[list[str]]
    if r == "pods":
        rows = [["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]]
        for p in items:
            rows.append([p["metadata"]["name"], _ready_count(p), pod_status_reason(p), _restarts(p),
                         _age(p, now_ms), p.get("status", {}).get("podIP") or "<none>",
                         p.get("spec", {}).get("nodeName") or "<none>"])
    elif r == "deployments":
        rows = [["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]]
        for d in items:
            st = d.get("status") or {}
            rows.append([d["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{d['spec'].get('replicas', 1)}",
                         str(st.get("updatedReplicas", 0)), str(st.get("availableReplicas", 0)), _age(d, now_ms)])
    elif r == "replicasets":
        rows = [["NAME", "DESIRED", "CURRENT", "READY", "AGE"]]
        for rs in items:
            st = rs.get("status") or {}
            rows.append([rs["metadata"]["name"], str(rs["spec"].get("replicas", 1)), str(st.get("replicas", 0)),
                         str(st.get("readyReplicas", 0)), _age(rs, now_ms)])
    elif r == "services":
        rows = [["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]]
        for s in items:
            spec = s.get("spec") or {}
            ing = (s.get("status", {}).get("loadBalancer") or {}).get("ingress") or []
            ext = ",".join(i.get("ip") or i.get("hostname", "") for i in ing) or \
                ("<pending>" if spec.get("type") == "LoadBalancer" else "<none>")
            rows.append([s["metadata"]["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP", ""), ext,
                         _svc_ports(s), _age(s, now_ms)])
    elif r == "endpointslices":
        rows = [["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]]
        for s in items:
            ports = ",".join(str(p.get("port")) for p in s.get("ports") or []) or "<unset>"
            addrs = [a for e in s.get("endpoints") or [] for a in e.get("addresses", [])]
            shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
            rows.append([s["metadata"]["name"], s.get("addressType", ""), ports, shown or "<unset>",
                         _age(s, now_ms)])
    elif r == "endpoints":
        rows = [["NAME", "ENDPOINTS", "AGE"]]
        for e in items:
            eps = [f"{a['ip']}:{p['port']}" for sub in e.get("subsets") or [] for a in sub.get("addresses") or []
                   for p in sub.get("ports") or []]
            shown = ",".join(eps[:3]) + (f" + {len(eps) - 3} more..." if len(eps) > 3 else "")
            rows.append([e["metadata"]["name"], shown or "<none>", _age(e, now_ms)])
    elif r == "nodes":
        rows = [["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"]]
        for n in items:
            addrs = {a["type"]: a["address"] for a in n.get("status", {}).get("addresses") or []}
            rows.append([n["metadata"]["name"], _node_status(n), _roles(n), _age(n, now_ms),
                         n.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", ""),
                         addrs.get("InternalIP", "<none>")])
    elif r == "events":
        rows = [["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]]
        for e in sorted(items, key=lambda e: e.get("lastTimestamp") or ""):
            io = e.get("involvedObject") or {}
            last = e.get("lastTimestamp")
            rows.append([human_duration(now_ms - parse_rfc3339(last)) if last else "<unknown>", e.get("type", ""),
                         e.get("reason", ""), f"{io.get('kind', '').lower()}/{io.get('name', '')}",
                         e.get("message", "")])
        return rows
    elif r == "namespaces":
        rows = [["NAME", "STATUS", "AGE"]]
        for n in items:
            rows.append([n["metadata"]["name"], n.get("status", {}).get("phase", ""), _age(n, now_ms)])
    else:
        rows = [["NAME", "AGE"]]
        for o in items:
            rows.append([o["metadata"]["name"], _age(o, now_ms)])
    if ns_col:
        rows[0].insert(0, "NAMESPACE")
        for row, o in zip(rows[1:], items):
            row.insert(0, o["metadata"].get("namespace", ""))
    return rows


def describe(obj: dict, events: list[dict], now_ms: int) -> str:
    """A ``kubectl describe``-like summary: the identity, the important fields, and the object's Events."""
    md = obj["metadata"]
    lines = [f"Name:         {md['name']}"]
    if md.get("namespace"):
        lines.append(f"Namespace:    {md['namespace']}")
    labels = md.get("labels") or {}
    lines.append("Labels:       " + ("\n              ".join(f"{k}={v}" for k, v in sorted(labels.items()))
                                     or "<none>"))
    ann = {k: v for k, v in (md.get("annotations") or {}).items() if k != LAST_APPLIED}
    lines.append("Annotations:  " + ("\n              ".join(f"{k}: {v}" for k, v in sorted(ann.items()))
                                     or "<none>"))
    lines.append(f"CreationTimestamp:  {md.get('creationTimestamp')}")
    kind = obj.get("kind")
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    if kind == "Pod":
        lines += [f"Node:         {spec.get('nodeName') or '<none>'}",
                  f"Status:       {pod_status_reason(obj)}",
                  f"IP:           {st.get('podIP') or ''}",
                  f"QoS Class:    {st.get('qosClass', '')}"]
        ctl = [r for r in md.get("ownerReferences") or [] if r.get("controller")]
        lines.append(f"Controlled By:  {ctl[0]['kind']}/{ctl[0]['name']}" if ctl else "Controlled By:  <none>")
        lines.append("Containers:")
        statuses = {c["name"]: c for c in st.get("containerStatuses") or []}
        for c in spec.get("containers") or []:
            cs = statuses.get(c["name"], {})
            state = next(iter(cs.get("state") or {"waiting": {}}), "waiting")
            lines += [f"  {c['name']}:", f"    Image:          {c.get('image')}",
                      f"    State:          {state.capitalize()}",
                      f"    Ready:          {cs.get('ready', False)}",
                      f"    Restart Count:  {cs.get('restartCount', 0)}"]
        conds = st.get("conditions") or []
        w = max([len(c["type"]) for c in conds] + [4]) + 2
        lines.append("Conditions:\n  " + "Type".ljust(w) + "Status")
        for c in conds:
            lines.append(f"  {c['type']:<{w}}{c['status']}")
    elif kind == "Deployment":
        ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        lines += [f"Selector:               {_selector_text(spec.get('selector'))}",
                  f"Replicas:               {spec.get('replicas')} desired | {st.get('updatedReplicas', 0)} updated"
                  f" | {st.get('replicas', 0)} total | {st.get('availableReplicas', 0)} available | "
                  f"{st.get('unavailableReplicas', 0)} unavailable",
                  f"StrategyType:           {(spec.get('strategy') or {}).get('type')}",
                  f"MinReadySeconds:        {spec.get('minReadySeconds', 0)}"]
        if ru:
            lines.append(f"RollingUpdateStrategy:  {ru.get('maxUnavailable')} max unavailable, "
                         f"{ru.get('maxSurge')} max surge")
        lines.append("Conditions:\n  Type           Status  Reason")
        for c in st.get("conditions") or []:
            lines.append(f"  {c['type']:<15}{c['status']:<8}{c.get('reason', '')}")
    elif kind == "Service":
        lines += [f"Selector:          {_selector_text(spec.get('selector'))}",
                  f"Type:              {spec.get('type')}",
                  f"IP:                {spec.get('clusterIP')}"]
        for p in spec.get("ports") or []:
            lines.append(f"Port:              {p.get('name') or '<unset>'}  {p['port']}/{p.get('protocol', 'TCP')}")
            lines.append(f"TargetPort:        {p.get('targetPort')}/{p.get('protocol', 'TCP')}")
    elif kind == "Node":
        lines.append(f"Roles:              {_roles(obj)}")
        lines.append("Taints:             " + (", ".join(f"{t['key']}{'=' + t['value'] if t.get('value') else ''}"
                                                          f":{t['effect']}" for t in spec.get("taints") or [])
                                                or "<none>"))
        lines.append(f"PodCIDR:            {spec.get('podCIDR') or '<none>'}")
        lines.append("Conditions:\n  Type              Status  Reason")
        for c in st.get("conditions") or []:
            lines.append(f"  {c['type']:<18}{c['status']:<8}{c.get('reason', '')}")
        lines.append("Capacity:\n" + "\n".join(f"  {k}: {v}" for k, v in (st.get("capacity") or {}).items()))
        lines.append("Allocatable:\n" + "\n".join(f"  {k}: {v}" for k, v in (st.get("allocatable") or {}).items()))
    if events:
        # DescribeEvents writes through a tabwriter (padding 2), with a dashed line under the header
        rows = [("Type", "Reason", "Age", "From", "Message"), ("----", "------", "----", "----", "-------")]
        for e in sorted(events, key=lambda e: e.get("lastTimestamp") or ""):
            # kubectl: "<since last> (x<count> over <since first>)" for a repeated event, else the age of the first
            first, last = e.get("firstTimestamp"), e.get("lastTimestamp")
            if (e.get("count") or 1) > 1 and first and last:
                age = (f"{human_duration(now_ms - parse_rfc3339(last))} (x{e['count']} over "
                       f"{human_duration(now_ms - parse_rfc3339(first))})")
            else:
                stamp = first or last
                age = human_duration(now_ms - parse_rfc3339(stamp)) if stamp else ""
            frm = (e.get("source") or {}).get("component", "")
            rows.append((e.get("type", ""), e.get("reason", ""), age, frm, e.get("message", "")))
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(4)]
        lines.append("Events:")
        lines.extend("  " + "".join(cell.ljust(w) for cell, w in zip(r, widths)) + r[4] for r in rows)
    else:
        lines.append("Events:            <none>")
    return "\n".join(lines)
