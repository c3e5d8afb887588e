"""Mirrors: (no upstream file) the checked exercises of notebooks/03-scheduler.ipynb.

Each checker works out the right answer from a simulated cluster (the learner's, if passed, else one built here
deterministically) with the scheduler's own ``explain`` tables, and says what is wrong.
"""

from __future__ import annotations

import functools

from .core import Exercise, register

# -- shared scenarios -------------------------------------------------------------------------------------------------

DB_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db"},
          "spec": {"nodeSelector": {"disk": "ssd"},
                   "containers": [{"name": "db", "image": "postgres:16",
                                   "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}}
FILLER_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "filler"},
              "spec": {"nodeSelector": {"disk": "ssd"},
                       "containers": [{"name": "c", "image": "nginx",
                                       "resources": {"requests": {"cpu": "1500m"}}}]}}
WEB_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
           "spec": {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
               {"weight": 20, "preference": {"matchExpressions": [{"key": "disk", "operator": "In",
                                                                   "values": ["ssd"]}]}}]}},
                    "containers": [{"name": "web", "image": "nginx",
                                    "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}}}]}}


def pending_cluster():
    """Two 2-CPU workers; node-1 has the only SSD and is nearly full; the "db" pod wants an SSD node."""
    from k8slab import Cluster

    c = Cluster(nodes=2, seed=3, node_cpu="2")
    node = c.get("node", "node-1")
    node["metadata"]["labels"]["disk"] = "ssd"
    c.apply(node)
    c.apply(FILLER_POD)
    c.settle()
    c.apply(WEB_POD)
    c.apply(DB_POD)
    c.run(seconds=2)
    return c


@functools.lru_cache(maxsize=1)
def _default_pending_cluster():
    return pending_cluster()


def _cluster(cluster):
    return cluster if cluster is not None else _default_pending_cluster()


def _rejections(cluster, pod: str) -> dict[str, str]:
    """node -> the Filter plugin whose rejection counted (the first one that did not pass)."""
    df = _cluster(cluster).scheduler.explain(pod)
    result = df.attrs.get("result") or _cluster(cluster).scheduler.result_for(pod)
    out = {}
    for rec in result.nodes:
        if rec.status is not None and not rec.feasible:
            out[rec.name] = rec.status.plugin
    return out


# -- 03.1: why is this pod Pending? -----------------------------------------------------------------------------------

def _check_pending(answer, cluster):
    if not isinstance(answer, dict):
        return False, 'answer with a dict: node name -> the Filter plugin that rejected "db" there'
    want = _rejections(cluster, "db")
    missing = sorted(set(want) - set(answer))
    if missing:
        return False, f"every node rejected db; you have no answer for {', '.join(missing)}"
    for node, plugin in sorted(want.items()):
        got = answer.get(node)
        if got != plugin:
            hint = ""
            if node == "control-plane" and got == "NodeAffinity":
                hint = (" Filters run in order and the first rejection decides: the control-plane node's taint "
                        "is checked before node affinity.")
            if got == "NodeResourcesFit" and plugin == "NodeAffinity":
                hint = " That node has room; look at its labels."
            return False, f"on {node} the rejection came from {plugin}, not {got}.{hint}"
    return True, ("each node fails for its own reason; the FailedScheduling event sums them up: "
                  "'0/3 nodes are available: ...'.")


register(Exercise(
    "03.1", "Why is this pod Pending?",
    'The pod "db" stays Pending. For each node, which Filter plugin rejected it? Answer with a dict, e.g. '
    '{"control-plane": "...", "node-1": "...", "node-2": "..."}.',
    _check_pending,
    ['c.scheduler.explain("db") has one column per Filter plugin; "" means the plugin did not run.',
     "Only the first rejection on a node counts: later filters are not run there.",
     "node-1 has the SSD label but a filler pod uses 1.5 of its 2 CPUs."]))


# -- 03.2: which plugin decided this placement? -----------------------------------------------------------------------

def decisive_plugin(df) -> tuple[str, str, str]:
    """(plugin, chosen node, runner-up): the Score plugin whose weighted score differs most in favour of the
    chosen node over the runner-up."""
    scored = df[df["total"].notna()].sort_values("total", ascending=False)
    chosen = scored[scored["chosen"] == True].index[0]  # noqa: E712
    runner_up = next(n for n in scored.index if n != chosen)
    plugins = [c[: -len(" weighted")] for c in df.columns if c.endswith(" weighted")]
    diffs = {p: (scored.loc[chosen, f"{p} weighted"] or 0) - (scored.loc[runner_up, f"{p} weighted"] or 0)
             for p in plugins}
    return max(diffs, key=lambda p: diffs[p]), chosen, runner_up


def _check_decisive(answer, cluster):
    if not isinstance(answer, str):
        return False, "answer with the name of a Score plugin, e.g. \"NodeResourcesFit\""
    df = _cluster(cluster).scheduler.explain("web")
    plugin, chosen, runner_up = decisive_plugin(df)
    if answer == plugin:
        return True, f"{plugin} gave {chosen} the biggest lead over {runner_up}."
    col = f"{answer} weighted"
    if col not in df.columns:
        return False, f"{answer} is not one of the Score plugins that scored web; see the '... weighted' columns."
    return False, (f"compare the weighted scores of {chosen} (chosen) and {runner_up} (runner-up): {answer} does "
                   "not give the chosen node the biggest lead.")


register(Exercise(
    "03.2", "Which plugin decided this placement?",
    'The pod "web" was placed. Which Score plugin gave the chosen node its biggest lead (in weighted score) over '
    "the runner-up?",
    _check_decisive,
    ['c.scheduler.explain("web") shows raw, normalized and weighted scores per plugin.',
     "Weighted = normalized x weight; NodeAffinity's default weight is 2.",
     "Subtract the runner-up's weighted scores from the chosen node's, plugin by plugin."]))


# -- 03.3: percentageOfNodesToScore ----------------------------------------------------------------------------------

def _check_percentage(answer, cluster):
    from k8slab.scheduler import num_feasible_nodes_to_find

    want = num_feasible_nodes_to_find(0, 5000)
    try:
        n = int(answer)
    except (TypeError, ValueError):
        return False, "answer with a number of nodes"
    if n == want:
        return True, f"the adaptive default is 50% - 5000/125 = 10% of 5000 nodes: {want}."
    if n == 2500:
        return False, "50% is a popular myth (an old default); today's default 0 means adaptive."
    if n == 5000:
        return False, "the scheduler stops filtering once it has found enough feasible nodes."
    if n == 250:
        return False, "5% is the floor of the adaptive percentage, reached only above 5,625 nodes."
    return False, "work it out with num_feasible_nodes_to_find(0, 5000), or the formula in the notebook."


register(Exercise(
    "03.3", "How many nodes are scored?",
    "In a 5,000-node cluster with the default configuration (percentageOfNodesToScore unset), how many feasible "
    "nodes does the scheduler find (and then score) for a pod that fits everywhere?",
    _check_percentage,
    ["The default percentageOfNodesToScore is 0, which means adaptive.",
     "Adaptive: 50 - nodes/125 percent, never below 5%, and never fewer than 100 nodes."]))


# -- 03.4: write a Score plugin ----------------------------------------------------------------------------------------

GOLD_NODES = [{"metadata": {"name": f"node-{i}", "labels": {"tier": "gold" if i == 3 else "silver"}}, "spec": {},
               "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}} for i in range(1, 6)]


def _check_plugin(answer, cluster):
    from k8slab.scheduler.framework import CycleState, PluginEntry, build_node_infos, default_profile
    from k8slab.scheduler.plugins import REGISTRY
    from k8slab.scheduler.scheduler import explain_pod

    if not isinstance(answer, type) or not getattr(answer, "NAME", ""):
        return False, "answer with your plugin class (with a NAME and a score method)"
    if not callable(getattr(answer, "score", None)):
        return False, "a Score plugin needs a method score(self, state, pod, node_info) -> (int, status)"
    infos = build_node_infos(GOLD_NODES)
    pod = {"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [{"name": "c"}]}}
    plugin = answer(None, None)
    raw = {}
    for ni in infos:
        out = plugin.score(CycleState(), pod, ni)
        if not (isinstance(out, tuple) and len(out) == 2):
            return False, "score must return a pair (score, status), e.g. return 100, None"
        if not 0 <= int(out[0]) <= 100 and not callable(getattr(answer, "normalize_score", None)):
            return False, f"score returned {out[0]} for {ni.name}: keep scores in 0..100"
        raw[ni.name] = int(out[0])
    saved = REGISTRY.get(answer.NAME)
    REGISTRY[answer.NAME] = answer
    try:
        prof = default_profile()
        prof.plugins.append(PluginEntry(answer.NAME, 10))
        df = explain_pod(pod, infos, prof)
    finally:
        if saved is None:
            REGISTRY.pop(answer.NAME, None)
        else:
            REGISTRY[answer.NAME] = saved
    chosen = df[df["chosen"] == True].index.tolist()  # noqa: E712
    if chosen != ["node-3"]:
        return False, f"with your plugin at weight 10 the pod went to {chosen}; it should prefer the gold node-3."
    if not callable(getattr(answer, "normalize_score", None)):
        gold, other = raw["node-3"], max(v for k, v in raw.items() if k != "node-3")
        if (gold, other) != (100, 0):
            return False, (f"your plugin scores the gold node-3 {gold} and the others up to {other}; the question "
                           "asks for 100 and 0 (MaxNodeScore and MinNodeScore)")
    return True, "your plugin's weighted score outweighs the built-in plugins' small differences."


register(Exercise(
    "03.4", "Write a Score plugin",
    'Write a Score plugin class that gives 100 to nodes labelled tier=gold and 0 to the others. The checker enables '
    "it with weight 10 next to the default plugins and schedules a pod on five nodes, one of them gold.",
    _check_plugin,
    ["class GoldFirst(Plugin): NAME = 'GoldFirst'; def score(self, state, pod, node_info): ...",
     "node_info.node is the Node object: node_info.node['metadata']['labels'].get('tier').",
     "Return a pair: (100, None) or (0, None)."]))


# -- 03.5: preemption -------------------------------------------------------------------------------------------------

def preemption_cluster():
    """Two 2-CPU workers, each running a 1.5-CPU pod: "batch" (priority 0) and "api" (priority 500, started
    later); then "urgent" (priority 1000, 1.5 CPU) arrives."""
    from k8slab import Cluster

    c = Cluster(nodes=2, seed=5, node_cpu="2")
    for name, value in (("medium", 500), ("high", 1000)):
        c.apply({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                 "value": value})
    for name, pc in (("batch", None), ("api", "medium")):
        spec = {"containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "1500m"}}}]}
        if pc:
            spec["priorityClassName"] = pc
        c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})
        c.settle()
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "urgent"},
             "spec": {"priorityClassName": "high", "containers": [
                 {"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "1500m"}}}]}})
    c.settle()
    return c


@functools.lru_cache(maxsize=1)
def _default_preemption_cluster():
    return preemption_cluster()


def _check_victim(answer, cluster):
    c = cluster if cluster is not None else _default_preemption_cluster()
    preempted = [e["involvedObject"]["name"] for e in c.get("events") if e["reason"] == "Preempted"]
    if not isinstance(answer, str):
        return False, "answer with the name of the pod that was preempted"
    if [answer] == preempted:
        return True, ("both nodes would work; pickOneNodeForPreemption prefers the node whose most important "
                      "victim has the lowest priority.")
    if answer == "urgent":
        return False, "urgent is the preemptor, not the victim."
    return False, "compare the victims' priorities: the scheduler evicts the least important pod it can."


register(Exercise(
    "03.5", "Who gets preempted?",
    '"urgent" (priority 1000) fits nowhere. Which pod does the scheduler preempt to make room?',
    _check_victim,
    ["Each node holds one pod that would have to go.",
     "pickOneNodeForPreemption: fewest PDB violations first, then the lowest highest-victim priority."]))
