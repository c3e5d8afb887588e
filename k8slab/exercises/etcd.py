"""Mirrors: (no upstream file) the exercises of notebooks/02-etcd.ipynb.

Every check computes the right answer by simulation: the /registry keys and MVCC revisions from a cluster (the
learner's when passed as ``cluster=``, else one built the notebook's way), the fault tolerance of etcd clusters by
crashing members of RaftNetworks, and the outcome of a partition by running it.
"""

from __future__ import annotations

from .core import Exercise, register

_CACHE: dict = {}
SEED = 0


def etcd_cluster(cluster=None):
    """The notebook's cluster: Cluster(nodes=2, seed=0, etcd_members=3) with the nginx example applied."""
    if cluster is not None:
        return cluster
    if "c" not in _CACHE:
        from ..cluster import Cluster
        from ..examples import NGINX

        c = Cluster(nodes=2, seed=SEED, etcd_members=3)
        c.apply(NGINX)
        c.settle()
        _CACHE["c"] = c
    return _CACHE["c"]


# -- 02.1: the /registry layout -----------------------------------------------------------------------------------

def _check_keys(answer, cluster):
    c = etcd_cluster(cluster)
    keys = c.etcd.keys("/registry/")
    dep = next((k for k in keys if k.startswith("/registry/deployments/") and k.endswith("/default/web")), None)
    node = next((k for k in keys if k.startswith("/registry/minions/") and k.endswith("/node-1")), None)
    if not isinstance(answer, (list, tuple)) or len(answer) != 2:
        return False, "answer with a pair: (key of Deployment default/web, key of Node node-1)"
    a_dep, a_node = answer
    if a_dep != dep:
        if isinstance(a_dep, str) and a_dep.startswith("/registry/deployments/") and a_dep.count("/") == 3:
            return False, "Deployments are namespaced: the namespace is part of the key"
        if isinstance(a_dep, str) and "apps" in a_dep:
            return False, "the API group is not in the key: look at c.etcd.keys('/registry/deployments/')"
        return False, f"{a_dep!r} is not the Deployment's key; list c.etcd.keys('/registry/deployments/')"
    if a_node != node:
        if isinstance(a_node, str) and "/nodes/" in a_node:
            return False, ("Nodes are not stored under /registry/nodes/: the key prefix kept the resource's old "
                           "name from before Kubernetes 1.0 (minion). Try c.etcd.keys('/registry/m')")
        return False, f"{a_node!r} is not the Node's key"
    return True, f"{dep} and {node}: <prefix>/<resource prefix>/[<namespace>/]<name>, with minions for Nodes"


register(Exercise(
    "02.1", "The /registry layout",
    "Give the etcd keys of the Deployment web in namespace default and of the Node node-1, as a pair.",
    _check_keys,
    ["`c.etcd.keys('/registry/')` lists every key; `etcdctl get /registry/ --prefix --keys-only` shows the same.",
     "Namespaced objects: /registry/<resource>/<namespace>/<name>; cluster-scoped: /registry/<resource>/<name>.",
     "A few resources keep historical prefixes (pkg/kubeapiserver/default_storage_factory_builder.go): Nodes are "
     "'minions'."]))


# -- 02.2: MVCC revisions -----------------------------------------------------------------------------------------

DEMO_KEY = "/registry/configmaps/default/demo"


def _check_mvcc(answer, cluster):
    c = cluster
    if c is None or c.etcd.get(DEMO_KEY) is None:
        return False, ("run the cells above first (they create ConfigMap demo and update it twice) and pass your "
                       "cluster: check('02.2', answer, cluster=c)")
    kv = c.etcd.get(DEMO_KEY)
    want = (kv.create_revision, kv.mod_revision, kv.version)
    try:
        got = tuple(int(x) for x in answer)
    except (TypeError, ValueError):
        return False, "answer with three integers: (create_revision, mod_revision, version)"
    if len(got) != 3:
        return False, "answer with three integers: (create_revision, mod_revision, version)"
    if got == want:
        return True, (f"created at revision {want[0]}, last written at {want[1]}, written {want[2]} times; the API "
                      f"server reports the object's resourceVersion as its mod_revision ({want[1]!s})")
    if got[2] != want[2]:
        return False, f"version counts the writes to the key since it was created: it is {want[2]}, not {got[2]}"
    if got[:2] == (want[1], want[0]):
        return False, "you swapped the two revisions: create_revision comes first and is the smaller one"
    if got[0] != want[0]:
        return False, "create_revision is the store's revision when the key was created; see c.etcd.history(key)"
    return False, ("mod_revision is the store's revision at the last write to this key, not the store's current "
                   "revision (other objects were written since)")


register(Exercise(
    "02.2", "Revisions and versions",
    "For ConfigMap demo (created, then updated twice), give (create_revision, mod_revision, version).",
    _check_mvcc,
    ["`c.etcd.get(key)` returns a KeyValue with create_revision, mod_revision and version.",
     "The store's revision counts every write in the whole store; version counts writes to this one key.",
     "`c.etcd.history(key)` shows every stored version of the key."]))


# -- 02.3: fault tolerance ----------------------------------------------------------------------------------------

def max_failures(n: int, seed: int = 0) -> int:
    """Crash 1, 2, ... followers of an n-member cluster until a proposal no longer commits; how many could go."""
    from ..etcd.raft import RaftNetwork

    k = 0
    while k < n - 1:  # crashing the leader too leaves nobody to commit
        net = RaftNetwork(n, seed)
        lead = net.run_until_leader()
        for f in [i for i in net.ids if i != lead][:k + 1]:
            net.crash(f)
        before = net.members[lead].raft_log.committed
        net.propose(lead, "probe")
        net.run(500)
        if net.members[lead].raft_log.committed <= before:
            return k
        k += 1
    return k


def _check_tolerance(answer, cluster):
    ns = range(1, 8)
    if "tolerance" not in _CACHE:
        _CACHE["tolerance"] = [max_failures(n) for n in ns]
    want = _CACHE["tolerance"]
    try:
        got = [int(x) for x in answer]
    except (TypeError, ValueError):
        return False, "answer with a list of 7 integers, for clusters of 1 to 7 members"
    if len(got) != 7:
        return False, "answer with a list of 7 integers, for clusters of 1 to 7 members"
    for n, g, w in zip(ns, got, want):
        if g != w:
            if g == n // 2 and n % 2 == 0:
                return False, (f"with {n} members a quorum is {n // 2 + 1}: losing {g} leaves {n - g}, not enough. "
                               f"An even member adds no fault tolerance")
            return False, (f"for {n} member{'s' if n > 1 else ''}: a quorum is {n // 2 + 1}, so {w} may fail, "
                           f"not {g}")
    return True, f"{want}: a quorum is n//2 + 1, so n - (n//2 + 1) members may fail; 3 and 4 both tolerate 1"


register(Exercise(
    "02.3", "How many members may fail?",
    "For etcd clusters of 1, 2, ..., 7 members, how many members can crash with writes still committing?",
    _check_tolerance,
    ["A write commits once a quorum (a majority) has it in its log.",
     "A majority of n is n // 2 + 1; try it: crash members of a RaftNetwork and propose.",
     "Compare 3 and 4 members, and 5 and 6."]))


# -- 02.4: a partitioned leader -----------------------------------------------------------------------------------

def partition_outcome(seed: int = 2) -> dict:
    """RaftNetwork(3, seed), elect, isolate the leader, run 3 s: who leads, in which term, the old leader's role."""
    from ..etcd.raft import RaftNetwork

    net = RaftNetwork(3, seed)
    old = net.run_until_leader()
    net.isolate(old)
    net.run(3000)
    new = net.leader()
    return {"leader": net.name(new) if new else None, "term": net.members[new].term if new else None,
            "old_leader_state": net.members[old].state.replace("State", ""), "old_leader": net.name(old)}


def _check_partition(answer, cluster):
    want = partition_outcome()
    if not isinstance(answer, dict):
        return False, 'answer with a dict: {"leader": "etcd-?", "term": ?, "old_leader_state": "..."}'
    if answer.get("leader") == want["old_leader"]:
        return False, ("the old leader is alone: it cannot reach a quorum, so it cannot stay leader (and the other "
                       "two elect one of themselves)")
    if answer.get("leader") != want["leader"]:
        return False, f"{answer.get('leader')!r} is not who leads after 3 s; look at net.leader()"
    if answer.get("term") != want["term"]:
        return False, f"the new leader's term is not {answer.get('term')!r}: an election raises the term by one"
    state = str(answer.get("old_leader_state", "")).replace("State", "")
    if state != want["old_leader_state"]:
        if state == "Leader":
            return False, ("check-quorum: a leader that has not heard from a quorum for an election timeout steps "
                           "down, even with nobody telling it about the new term")
        if state in ("Candidate", "PreCandidate"):
            return False, ("look again: what does the old leader do after stepping down? with pre-vote, does it "
                           "stay a pre-candidate the whole time?")
        return False, f"the old leader's state is not {state!r}"
    return True, (f"{want['leader']} leads in term {want['term']}; {want['old_leader']} is a "
                  f"{want['old_leader_state']} in its old term: check-quorum stepped it down, and pre-vote keeps its "
                  f"term from rising while it is cut off")


register(Exercise(
    "02.4", "Partition the leader",
    "RaftNetwork(3, seed=2): elect a leader, isolate it, run 3 s. Who leads, in which term, and in what state is "
    "the old leader?",
    _check_partition,
    ["net = RaftNetwork(3, seed=2); old = net.run_until_leader(); net.isolate(old); net.run(3000)",
     "net.leader(), net.members[i].term and net.members[i].state tell you.",
     "The isolated leader runs check-quorum every election timeout; its pre-votes reach nobody."]))


# -- 02.5: linearizable or not? -----------------------------------------------------------------------------------

def histories():
    """Three recorded histories of one key (times in ms; a return time of inf, printed ?, means the client never
    got an answer)."""
    from ..etcd.linearizability import INF, Operation as O

    return {
        "A": [O(1, "put", "x", 1, 0, 10), O(2, "get", "x", 1, 4, 6), O(3, "get", "x", None, 12, 14)],
        "B": [O(1, "put", "x", 1, 0, 10), O(2, "get", "x", None, 2, 4), O(3, "get", "x", 1, 5, 8),
              O(2, "put", "x", 2, 9, 15), O(3, "get", "x", 1, 11, 13)],
        "C": [O(1, "put", "x", 1, 0, INF), O(2, "get", "x", None, 3, 5), O(3, "get", "x", 1, 20, 22),
              O(2, "get", "x", 1, 30, 31)],
    }


_WHY = {
    "A": "the put returned at 10 and client 3's get started at 12: it must see 1, yet it saw nothing (a stale read)",
    "B": "every read fits: None before the put takes effect, 1 after it, and the get at 11-13 may come before the "
         "second put takes effect",
    "C": "a put without an answer may take effect at any time after its call (or never): here after 5 and before 20",
}


def _check_histories(answer, cluster):
    from ..etcd.linearizability import check_history

    hs = histories()
    want = {k: bool(check_history(v)) for k, v in hs.items()}
    if not isinstance(answer, dict) or set(answer) != set(hs):
        return False, 'answer with a dict {"A": True/False, "B": ..., "C": ...}: is each history linearizable?'
    for k in sorted(hs):
        if bool(answer[k]) != want[k]:
            verdict = "linearizable" if want[k] else "not linearizable"
            return False, f"history {k} is {verdict}: {_WHY[k]}"
    return True, "; ".join(f"{k}: {'linearizable' if want[k] else 'not linearizable'}" for k in sorted(hs))


register(Exercise(
    "02.5", "Linearizable or not?",
    "For each of the histories A, B and C (histories() in k8slab.exercises.etcd), is it linearizable?",
    _check_histories,
    ["Give each operation one instant between its call and its return; the reads must then agree with the writes "
     "in that order.",
     "An operation that returned before another one was called must come first.",
     "check_history from k8slab.etcd.linearizability answers it, but try by hand first."]))
