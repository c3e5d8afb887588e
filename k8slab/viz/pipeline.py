"""Mirrors: staging/src/k8s.io/apiserver/pkg/server/config.go (DefaultBuildHandlerChain: authentication, then
authorization, then the REST handler) and endpoints/handlers/create.go (mutating admission, validation, validating
admission, storage).

The API server's request pipeline drawn as its stages, left to right, with one request moving through them: what
each stage decided (who the user is, which binding allowed it, which admission plugins and webhooks ran, the
validation errors, the etcd revision) and, if the request stopped, where and why (401 at authentication, 403 at
authorization or admission, 422 at validation). Everything comes from the trace the API server writes.

    viz.pipeline(c)                      # the newest request
    viz.pipeline(c, request=seq, upto=3) # a request as it had got through its first three stages
    viz.pipeline_stages(c.trace, seq)    # the same as rows
"""

from __future__ import annotations

import html

import graphviz

from . import style as S

STAGES = ("request", "authentication", "authorization", "mutating admission", "validation",
          "validating admission", "etcd", "response")
WRITE_VERBS = ("create", "update", "patch", "delete")
PASSED, STOPPED, SKIPPED, NOT_REACHED = "passed", "stopped", "not used", "not reached"
STOP_FILL = "#fadbd8"
STOP_LINE = "#c0392b"


def _trace_of(source):
    return getattr(source, "trace", source)


def requests(source, n: int | None = None) -> list:
    """The request events in the trace (newest last), optionally only the newest ``n``."""
    out = [e for e in _trace_of(source) if e.kind == "request" and e.target == "kube-apiserver"]
    return out[-n:] if n else out


def _find_request(trace, request):
    if request is None:
        reqs = requests(trace)
        if not reqs:
            raise ValueError("the trace holds no API request yet")
        return reqs[-1]
    if hasattr(request, "seq"):
        return request
    for e in trace:
        if e.seq == request and e.kind == "request":
            return e
    raise ValueError(f"no request event with seq {request}")


def pipeline_stages(source, request=None) -> list[dict]:
    """One row per stage: ``stage``, ``status`` (passed / stopped / not used / not reached) and ``detail``."""
    trace = _trace_of(source)
    req = _find_request(trace, request)
    evs = [e for e in trace if e.cause == req.seq]
    verb = (req.data or {}).get("verb", "")
    rows = {s: {"stage": s, "status": NOT_REACHED, "detail": ""} for s in STAGES}
    rows["request"].update(status=PASSED, detail=f"{(req.data or {}).get('verb', '')} {req.ref} from {req.component}")
    if verb not in WRITE_VERBS:
        for s in ("mutating admission", "validation", "validating admission"):
            rows[s].update(status=SKIPPED, detail="reads are not admitted")
    webhooks: dict[str, list[str]] = {"mutating admission": [], "validating admission": []}
    response = None
    for e in evs:
        d = e.data or {}
        if e.kind == "authn":
            if d.get("result") == "Unauthorized":
                rows["authentication"].update(status=STOPPED, detail=f"401 Unauthorized: {d.get('reason', '')}")
            else:
                groups = ", ".join(g for g in d.get("groups", ()) if g)
                rows["authentication"].update(status=PASSED, detail=f"{d.get('method')}: {d.get('user')} [{groups}]")
        elif e.kind == "authz":
            if d.get("decision") == "Allow":
                rows["authorization"].update(status=PASSED, detail=d.get("reason") or "allowed")
            else:
                rows["authorization"].update(status=STOPPED, detail="403 Forbidden" + (
                    f": {d['reason']}" if d.get("reason") else ": no authorizer allowed it"))
        elif e.kind == "admission.webhook":
            stage = "mutating admission" if d.get("plugin") == "MutatingAdmissionWebhook" else "validating admission"
            verdict = d.get("error") or ("allowed" + (", patched" if d.get("patched") else "")
                                         if d.get("allowed") else "denied")
            webhooks[stage].append(f"webhook {d.get('webhook')}: {verdict}")
        elif e.kind in ("admission.mutating", "admission.validating"):
            stage = "mutating admission" if e.kind == "admission.mutating" else "validating admission"
            plugins = ", ".join(d.get("plugins", ())) or "no plugin applied"
            if d.get("denied_by"):
                rows[stage].update(status=STOPPED, detail=f"{d.get('code')} from {d['denied_by']}: "
                                                          f"{d.get('message', '')} (after: {plugins})")
            else:
                rows[stage].update(status=PASSED, detail=plugins)
        elif e.kind == "validation":
            errs = d.get("errors") or []
            rows["validation"].update(status=STOPPED if errs else PASSED,
                                      detail=("422 Invalid: " + "; ".join(errs)) if errs else "valid")
        elif e.kind.startswith("etcd."):
            rows["etcd"].update(status=PASSED, detail=f"{e.kind[5:]} {d.get('key', '')} at revision "
                                                      f"{d.get('revision', '')}")
        elif e.kind == "response":
            response = d
    for stage, lines in webhooks.items():
        if lines:
            rows[stage]["detail"] = "; ".join([rows[stage]["detail"]] + lines if rows[stage]["detail"] else lines)
    if response is not None:
        code = response.get("code")
        ok = isinstance(code, int) and code < 400
        rows["response"].update(status=PASSED if ok else STOPPED,
                                detail=f"{code} {response.get('reason', '')}".strip() +
                                       (f": {response.get('message')}" if response.get("message") else ""))
        if ok and verb not in WRITE_VERBS:
            rows["etcd"].update(status=SKIPPED if rows["etcd"]["status"] == NOT_REACHED else rows["etcd"]["status"],
                                detail=rows["etcd"]["detail"] or "served from the watch cache")
        if not ok and not any(r["status"] == STOPPED for s, r in rows.items() if s != "response"):
            # an error no stage traced itself (a bad body, 404, 409): it stopped at the first stage not passed
            stage = "etcd" if code in (404, 409) else next(
                (s for s in STAGES[1:-1] if rows[s]["status"] == NOT_REACHED), "etcd")
            rows[stage].update(status=STOPPED, detail=rows["response"]["detail"])
    return [rows[s] for s in STAGES]


def stop_reason(source, request=None) -> dict | None:
    """Where and why the request stopped (the stopped stage's row), or None if it went through."""
    for r in pipeline_stages(source, request)[:-1]:
        if r["status"] == STOPPED:
            return r
    return None


def _wrap(text: str, width: int = 34, lines: int = 6) -> str:
    words, out, cur = text.split(), [], ""
    for w in words:
        if len(cur) + len(w) + 1 > width and cur:
            out.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    if cur:
        out.append(cur)
    if len(out) > lines:
        out = out[:lines - 1] + [out[lines - 1][:width - 1] + "…"]
    return "<BR/>".join(html.escape(x) for x in out)


def pipeline(source, request=None, upto: int | None = None) -> graphviz.Digraph:
    """The pipeline as a graphviz graph; ``upto`` shows the request after its first ``upto`` stages (for stepping
    through it), the magenta border marks where it is."""
    rows = pipeline_stages(source, request)
    req = _find_request(_trace_of(source), request)
    if upto is not None:
        for i, r in enumerate(rows):
            if i >= upto:
                r.update(status=NOT_REACHED, detail="")
    reached = [i for i, r in enumerate(rows) if r["status"] in (PASSED, STOPPED)]
    stop = stop_reason_rows(rows)
    current = STAGES.index(stop["stage"]) if stop else (reached[-1] if reached else 0)
    title = f"API server pipeline: {(req.data or {}).get('verb', '')} {req.ref}"
    sub = (f"stopped at {stop['stage']}" if stop else
           ("went through" if rows[-1]["status"] == PASSED else "in progress"))
    g = graphviz.Digraph("pipeline", graph_attr={
        "rankdir": "LR", "fontname": S.FONT, "labelloc": "t", "nodesep": "0.25", "ranksep": "0.35",
        "label": f"<<B>{html.escape(title)}</B><BR/><FONT POINT-SIZE='10'>{html.escape(sub)}</FONT>>"},
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": S.FONT, "fontsize": "10",
                   "width": "1.6"}, edge_attr={"color": S.EDGE})
    for i, r in enumerate(rows):
        if r["status"] == PASSED:
            fill, line, color = S.CONTROL_PLANE.fill, S.CONTROL_PLANE.line, S.TEXT
        elif r["status"] == STOPPED:
            fill, line, color = STOP_FILL, STOP_LINE, STOP_LINE
        else:
            fill, line, color = "#ffffff", S.MUTED, S.MUTED
        label = f"<<B>{html.escape(r['stage'])}</B><BR/><FONT POINT-SIZE='8'>{html.escape(r['status'])}"
        if r["detail"]:
            label += f"<BR/>{_wrap(r['detail'])}"
        label += "</FONT>>"
        attrs = {"fillcolor": fill, "color": S.HIGHLIGHT if i == current else line, "fontcolor": color,
                 "penwidth": str(S.HIGHLIGHT_WIDTH) if i == current else "1.2"}
        g.node(f"s{i}", label, **attrs)
        if i:
            prev = rows[i - 1]["status"]
            used = prev in (PASSED, SKIPPED) and r["status"] != NOT_REACHED
            g.edge(f"s{i - 1}", f"s{i}", color=S.CONTROL_PLANE.line if used else S.MUTED,
                   style="solid" if used else "dashed")
    with g.subgraph(name="cluster_legend", graph_attr={"label": "legend", "fontsize": "9", "style": "rounded"}) as leg:
        leg.attr("node", shape="box", style="rounded,filled", fontsize="8", width="0.9", height="0.3")
        leg.node("l_pass", "passed", fillcolor=S.CONTROL_PLANE.fill, color=S.CONTROL_PLANE.line)
        leg.node("l_stop", "stopped here", fillcolor=STOP_FILL, color=STOP_LINE, fontcolor=STOP_LINE)
        leg.node("l_skip", "not used / not reached", fillcolor="#ffffff", color=S.MUTED, fontcolor=S.MUTED)
        leg.node("l_now", "where the request is", fillcolor="#ffffff", color=S.HIGHLIGHT,
                 penwidth=str(S.HIGHLIGHT_WIDTH))
        leg.edge("l_pass", "l_stop", style="invis")
        leg.edge("l_stop", "l_skip", style="invis")
        leg.edge("l_skip", "l_now", style="invis")
    return g


def stop_reason_rows(rows: list[dict]) -> dict | None:
    for r in rows[:-1]:
        if r["status"] == STOPPED:
            return r
    return None


def pipeline_table(source, request=None):
    """The stages as a pandas DataFrame."""
    import pandas as pd

    return pd.DataFrame(pipeline_stages(source, request)).set_index("stage")
