"""Mirrors: (no upstream file) pictures of controllers at work: a rolling update's ReplicaSets over time (what
``kubectl get rs -w`` prints, drawn), a Job's pods and the backoff between them, and node events on a timeline.

    df = viz.watch_rollout(c, "web")          # step the cluster through a rollout, sampling the ReplicaSets
    viz.rollout_figure(df)                     # replicas per ReplicaSet, with the maxSurge / maxUnavailable bands
    viz.job_figure(c, "pi")                    # one bar per pod, coloured by how it ended; backoff waits shaded
    viz.node_timeline(c)                       # node and eviction events from the trace, one row per node

matplotlib and pandas are imported when a function is called.
"""

from __future__ import annotations

from ..api.objects import parse_rfc3339
from . import style as S

RS_COLORS = ["#aab7c4", S.CONTROL_PLANE.line, S.NODE_AGENTS.line, S.RUNTIME.line, S.NETWORK.line, S.ADDONS.line]


def _rs_rows(c, d: dict) -> list[dict]:
    uid = d["metadata"]["uid"]
    rows = []
    for rs in c.apiserver.cache["replicasets"].values():
        if any(r.get("uid") == uid for r in rs["metadata"].get("ownerReferences") or ()):
            st = rs.get("status") or {}
            rows.append({"time_s": c.now / 1000, "replicaset": rs["metadata"]["name"],
                         "desired": rs["spec"].get("replicas", 0), "current": st.get("replicas", 0),
                         "available": st.get("availableReplicas", 0)})
    return rows


def watch_rollout(c, name: str, namespace: str = "default", max_seconds: float = 600):
    """Step the cluster until nothing is pending (or ``max_seconds`` of virtual time pass), recording every
    ReplicaSet of Deployment ``name`` whenever it changes. Returns a DataFrame with one row per ReplicaSet per
    sample (sample, time_s, replicaset, desired, current, available) and the Deployment's bounds in ``df.attrs``."""
    import pandas as pd

    from ..controllers.deployment import max_surge, max_unavailable

    key = f"{namespace}/{name}"
    d = c.apiserver.cache["deployments"].get(key)
    if d is None:
        raise KeyError(f'deployment "{name}" not found in namespace "{namespace}"')
    end = c.now + int(max_seconds * 1000)
    rows, last, n = [], None, 0
    first = True
    while first or (c.loop.pending and c.now <= end):
        first = False
        d = c.apiserver.cache["deployments"].get(key) or d
        snap = _rs_rows(c, d)
        sig = [(r["replicaset"], r["desired"], r["current"], r["available"]) for r in snap]
        if sig != last:
            rows.extend(dict(r, sample=n) for r in snap)
            n += 1
            last = sig
        if c.loop.step() is None:
            break
    rows.extend(dict(r, sample=n) for r in _rs_rows(c, d))
    df = pd.DataFrame(rows, columns=["sample", "time_s", "replicaset", "desired", "current", "available"])
    replicas = d["spec"].get("replicas", 1)
    df.attrs.update({"deployment": name, "replicas": replicas, "max_surge": max_surge(d),
                     "max_unavailable": max_unavailable(d)})
    return df


def rollout_figure(df, ax=None):
    """Replicas per ReplicaSet over time (solid: pods that exist, dotted: available), the total, and the two
    bounds a rolling update keeps: at most replicas + maxSurge pods, at least replicas - maxUnavailable
    available."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    a = df.attrs
    names = list(dict.fromkeys(df["replicaset"]))
    times = sorted(set(df["time_s"]))
    for i, rs in enumerate(names):
        part = df[df["replicaset"] == rs]
        color = RS_COLORS[i % len(RS_COLORS)]
        ax.step(part["time_s"], part["current"], where="post", color=color, lw=2, label=f"{rs} pods")
        ax.step(part["time_s"], part["available"], where="post", color=color, lw=1, ls=":",
                label=f"{rs} available")
    total = df.groupby("sample").agg(time_s=("time_s", "first"), current=("current", "sum"))
    ax.step(total["time_s"], total["current"], where="post", color=S.TEXT, lw=1, label="all pods")
    if a.get("replicas") is not None and times:
        hi, lo = a["replicas"] + a["max_surge"], a["replicas"] - a["max_unavailable"]
        ax.axhspan(hi, hi + 0.3, color=S.HIGHLIGHT, alpha=0.15, label=f"maxSurge bound ({hi} pods)")
        ax.axhline(hi, color=S.HIGHLIGHT, lw=1, ls="--")
        ax.axhspan(lo - 0.3, lo, color=S.NETWORK.line, alpha=0.15, label=f"maxUnavailable bound ({lo} available)")
        ax.axhline(lo, color=S.NETWORK.line, lw=1, ls="--")
    ax.set_title(f"Rolling update of deployment/{a.get('deployment', '?')}")
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("pods")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    ax.figure.tight_layout()
    return ax.figure


def job_pod_rows(c, job: str, namespace: str = "default") -> list[dict]:
    """One row per pod of Job ``job``: when it was created, started and finished, and how it ended."""
    rows = []
    for p in c.apiserver.cache["pods"].values():
        md = p["metadata"]
        if md.get("namespace") != namespace or (md.get("labels") or {}).get("batch.kubernetes.io/job-name") != job:
            continue
        st = p.get("status") or {}
        created = parse_rfc3339(md["creationTimestamp"]) / 1000
        started = finished = None
        for cs in st.get("containerStatuses") or ():
            state = cs.get("state") or {}
            term = state.get("terminated")
            if term:
                started = parse_rfc3339(term["startedAt"]) / 1000 if term.get("startedAt") else started
                finished = parse_rfc3339(term["finishedAt"]) / 1000 if term.get("finishedAt") else finished
            elif state.get("running", {}).get("startedAt"):
                started = parse_rfc3339(state["running"]["startedAt"]) / 1000
        rows.append({"pod": md["name"], "created_s": created, "started_s": started, "finished_s": finished,
                     "phase": "Terminating" if md.get("deletionTimestamp") and st.get("phase") not in (
                         "Succeeded", "Failed") else st.get("phase", "Pending")})
    return sorted(rows, key=lambda r: (r["created_s"], r["pod"]))


def job_figure(c, job: str, namespace: str = "default", ax=None):
    """Job pods over time, one bar each (created → finished, coloured by phase), with the controller's
    pod-failure backoff waits (the ``job.backoff`` trace events) shaded."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows = job_pod_rows(c, job, namespace)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.5 * max(3, len(rows)) + 1))
    now = c.now / 1000
    for i, r in enumerate(rows):
        end = r["finished_s"] if r["finished_s"] is not None else now
        ax.barh(i, end - r["created_s"], left=r["created_s"], color=S.PHASE_COLORS.get(r["phase"], S.MUTED),
                edgecolor=S.TEXT, height=0.6)
    waits = [e for e in c.trace if e.kind == "job.backoff" and e.ref == f"jobs/{namespace}/{job}"]
    seen = set()
    for e in waits:
        until = e.time + e.data["remaining_ms"]
        if until in seen:
            continue
        seen.add(until)
        ax.axvspan(e.time / 1000, until / 1000, color=S.HIGHLIGHT, alpha=0.12)
    ax.set_yticks(range(len(rows)), [r["pod"] for r in rows])
    ax.invert_yaxis()
    ax.set_title(f"Pods of job/{job} and the failure backoff between them")
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("pod")
    phases = sorted({r["phase"] for r in rows})
    handles = [Patch(color=S.PHASE_COLORS.get(p, S.MUTED), label=p) for p in phases]
    handles.append(Patch(color=S.HIGHLIGHT, alpha=0.12, label="backoff wait"))
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    ax.figure.tight_layout()
    return ax.figure


NODE_EVENT_HINTS = ("node", "taint", "evict", "lease", "cordon", "drain", "condition")


def node_events(c, kinds: list[str] | None = None) -> list[dict]:
    """Trace events about nodes: those whose ref is ``nodes/<name>`` or whose kind names a node, a taint, an
    eviction or a lease (or exactly ``kinds``), as rows (time_s, node, kind, component)."""
    rows = []
    for e in c.trace:
        ref = e.ref or ""
        kind = e.kind
        if kind in ("request", "response", "authn", "authz", "watch", "validation", "admission.mutating",
                    "admission.validating", "etcd.put", "reconcile"):
            continue
        if kinds is not None:
            if kind not in kinds:
                continue
        elif not (ref.startswith("nodes/") or any(h in kind.lower() for h in NODE_EVENT_HINTS)):
            continue
        data = e.data if isinstance(e.data, dict) else {}
        node = ref.split("/", 1)[1] if ref.startswith("nodes/") else data.get("node") or data.get("nodeName")
        if node is None and ref.startswith("pods/"):  # an event about a pod: place it on the pod's node
            pod = c.apiserver.cache["pods"].get(ref[len("pods/"):])
            node = (pod or {}).get("spec", {}).get("nodeName")
        node = node or ref
        rows.append({"time_s": e.time / 1000, "node": node, "kind": kind, "component": e.component})
    return rows


def node_timeline(c, kinds: list[str] | None = None, ax=None):
    """Node conditions, taints and evictions on a timeline: one row per node, one marker colour per event kind."""
    import matplotlib.pyplot as plt

    rows = node_events(c, kinds)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    nodes = sorted({r["node"] for r in rows})
    ks = list(dict.fromkeys(r["kind"] for r in rows))
    palette = [S.CONTROL_PLANE.line, S.NODE_AGENTS.line, S.HIGHLIGHT, S.NETWORK.line, S.RUNTIME.line,
               S.ADDONS.line, S.ETCD.line, S.USER.line]
    for i, k in enumerate(ks):
        pts = [r for r in rows if r["kind"] == k]
        ax.scatter([r["time_s"] for r in pts], [nodes.index(r["node"]) for r in pts], label=k,
                   color=palette[i % len(palette)], s=30, zorder=3)
    ax.set_yticks(range(len(nodes)), nodes)
    ax.set_title("Node events over time" if rows else "Node events over time (none yet)")
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("node")
    if ks:
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    ax.figure.tight_layout()
    return ax.figure
