"""Mirrors: (no upstream file) tables of the trace, for reading what the cluster did step by step.

``events_table(events)`` shows trace events one per row with a short human description of each; ``step_table``
summarises the newest loop steps one per row; ``journey`` follows one object (or one event) through every
component it touched, in causal order.
"""

from __future__ import annotations

from http import HTTPStatus

import pandas as pd

_MAX = 110


def _short(s: str, n: int = _MAX) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _http(code) -> str:
    try:
        return f"{code} {HTTPStatus(int(code)).phrase}"
    except (TypeError, ValueError):
        return str(code)


def _generic(data) -> str:
    if data is None:
        return ""
    if isinstance(data, dict):
        return ", ".join(f"{k}={v}" for k, v in data.items() if v not in (None, "", [], {}))
    return str(data)


def describe(ev) -> str:
    """A one-line description of what a trace event says, e.g. ``create pods/binding`` or ``201 Created``."""
    d = ev.data if isinstance(ev.data, dict) else {}
    kind = ev.kind
    if kind == "request":
        what = d.get("resource", "") + (f"/{d['subresource']}" if d.get("subresource") else "")
        return _short(f"{d.get('verb', '?')} {what}")
    if kind == "response":
        text = _http(d.get("code"))
        if d.get("reason") and d.get("message"):
            text += f" ({d['reason']}): {d['message']}"
        return _short(text)
    if kind == "authn":
        if d.get("result"):
            return d["result"]
        groups = ", ".join(d.get("groups") or ())
        return _short(f"user {d.get('user')} via {d.get('method')}" + (f" (groups: {groups})" if groups else ""))
    if kind == "authz":
        return _short(f"{d.get('decision')}: {d.get('reason')}" if d.get("reason") else str(d.get("decision")))
    if kind.startswith("admission."):
        plugins = d.get("plugins") or []
        return _short("plugins: " + ", ".join(plugins)) if plugins else "no plugin applied"
    if kind == "validation":
        errs = d.get("errors") or []
        return _short("invalid: " + "; ".join(errs)) if errs else "valid"
    if kind == "etcd.compact":
        return f"compact to revision {d.get('revision')}"
    if kind.startswith("etcd."):
        return _short(f"{kind[5:]} {d.get('key', '')} (revision {d.get('revision')})")
    if kind == "watch":
        return f"{d.get('type')} (resourceVersion {d.get('resourceVersion')})"
    if kind == "reconcile":
        return f"{d.get('controller', '')} controller syncs the key"
    if kind == "reconcile.error":
        return _short(f"error (requeue #{d.get('requeues')}): {d.get('error')}")
    if kind == "schedule":
        return f"scheduling attempt {d.get('attempt')} (profile {d.get('profile')})"
    if kind == "schedule.result":
        return (f"chose {d.get('node')} ({d.get('feasible')} feasible of {d.get('evaluated')} evaluated)"
                if d.get("evaluated") is not None else f"chose {d.get('node')}")
    if kind == "schedule.failed":
        return _short(f"{d.get('reason')}: {d.get('message')}")
    if kind == "bind":
        return f"bind to {d.get('node')}"
    if kind.startswith("cri."):
        return _short(kind[4:] + (f" ({_generic(d)})" if d else ""))
    if kind.startswith("cni."):
        if d.get("error"):
            return _short(f"{kind[4:]} failed: {d['error']}")
        if d.get("ip"):
            return _short(f"{kind[4:]} {d.get('ifName', 'eth0')} {d['ip']} via {d.get('hostVeth', '')}")
        return _short(f"{kind[4:]} {d.get('containerID', '')[:13]}")
    if kind == "sync_proxy_rules":
        return _short("rules rebuilt" + (f" ({_generic(d)})" if d else ""))
    return _short(_generic(ev.data))


def _time_s(ms: int) -> float:
    return ms / 1000


def events_table(events) -> pd.DataFrame:
    """One row per trace event: seq (index), step, time in seconds, component, kind, ref, target, cause and a
    short description of its data."""
    rows = [{"seq": ev.seq, "step": ev.step, "time (s)": _time_s(ev.time), "component": ev.component,
             "kind": ev.kind, "ref": ev.ref, "target": ev.target, "cause": ev.cause, "description": describe(ev)}
            for ev in events]
    df = pd.DataFrame(rows, columns=["seq", "step", "time (s)", "component", "kind", "ref", "target", "cause",
                                     "description"])
    df["cause"] = df["cause"].astype("Int64")
    return df.set_index("seq")


def _kinds(evs) -> str:
    out: list[str] = []
    for ev in evs:
        if not out or out[-1] != ev.kind:
            out.append(ev.kind)
    return " → ".join(out)


def step_table(cluster, n: int = 20) -> pd.DataFrame:
    """The newest ``n`` loop steps that recorded events, one row each: the component that ran, the object it was
    about, and the kinds of events it produced in order (``request → authn → ... → etcd.put → response``)."""
    steps: list[list] = []
    for ev in reversed(cluster.trace):
        if ev.step == 0:
            continue  # facade calls made between steps
        if not steps or steps[-1][0].step != ev.step:
            if len(steps) == n:
                break
            steps.append([])
        steps[-1].append(ev)
    rows = []
    for evs in reversed(steps):
        evs.reverse()
        first = evs[0]
        ref = next((e.ref for e in evs if e.ref), "")
        rows.append({"step": first.step, "time (s)": _time_s(first.time), "component": first.component,
                     "ref": ref, "events": len(evs), "what happened": _kinds(evs)})
    df = pd.DataFrame(rows, columns=["step", "time (s)", "component", "ref", "events", "what happened"])
    return df.set_index("step")


def journey(cluster, ref) -> pd.DataFrame:
    """The causal journey of ``ref``: every event about the object (e.g. ``"deployments/default/web"``) and every
    event those caused, in order, with a ``depth`` column (how many causal links from the first event). An ``int``
    is a trace sequence number: its causal chain back to the first cause."""
    trace = cluster.trace
    events = trace.chain(ref) if isinstance(ref, int) else trace.journey(ref)
    depth: dict[int, int] = {}
    for ev in events:
        depth[ev.seq] = depth.get(ev.cause, -1) + 1 if ev.cause in depth else 0
    df = events_table(events)
    df.insert(0, "depth", [depth[ev.seq] for ev in events])
    return df
