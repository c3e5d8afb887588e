"""Mirrors: pkg/scheduler/schedule_one.go (findNodesThatPassFilters, prioritizeNodes, selectHost) and the Filter
and Score functions of the default plugins NodeUnschedulable, NodeName, TaintToleration, NodeResourcesFit,
NodeResourcesBalancedAllocation and ImageLocality, computed over numpy arrays.

Upstream runs Filter and Score for many nodes at once in 16 goroutines; the Python model runs them one node at a
time, which costs about 500 nodes x 11 plugin calls per pod in a 5,000-node cluster. This module computes the same
verdicts and scores for the examined nodes in a handful of array operations:

* ``NodeArrays`` keeps per-node columns (allocatable, requested, non-zero requested, pod count, unschedulable,
  taints, images) in the snapshot order, refreshed from the scheduler cache's NodeInfos: a NodeInfo reports every
  change through its ``on_change`` hook, and only the changed rows are read again.
* ``fast_schedule_pod`` takes a pod when everything the default plugins would do for it is covered by those
  columns: the default plugin classes, no nominated pods, no affinity terms on the pod and no required
  anti-affinity on existing pods (so InterPodAffinity's PreFilter is Skip), PodTopologySpread, NodeAffinity and
  NodePorts skipped at
  PreFilter (their own PreFilter runs to decide that), only cpu, memory, ephemeral-storage
  and pods requested, and at least two feasible nodes. Otherwise it returns None and the caller runs the
  per-plugin path. Nodes the arrays reject (a taint, a cordon, no room) are few: the real Filter plugins run on
  those alone, for their exact statuses and the FailedScheduling histogram. The arithmetic is upstream's: int64
  floor divisions, DefaultNormalizeScore, the float64 fractions of BalancedAllocation, score weights.
* PodTopologySpread's PreScore and Score (its own ScheduleAnyway constraints or the system default ones) run over
  columns too: each topology label is a column of value ids, and for each (selector, namespace) a column holds
  the matching pods per node (count_pods_match_selector). NodeInfos report every pod added or removed
  (``on_pod_change``), so a column moves by one on one row instead of being counted again; the columns are
  counted afresh when a node is added or removed. ImageLocality reads one column per image (where it is and its
  shared ImageStateSummary). The sums and the float64 score of scoring.go are done in the same order.
* NodeAffinity's preferred terms and InterPodAffinity's (the pod's, or existing pods', e.g. kubeadm's CoreDNS)
  are scored by the plugins themselves, node by node, when their PreScore does not skip; so is
  PodTopologySpread for a pod whose required node affinity decides which nodes count.
* The per-node record behind ``explain()`` is filled in only when a node's row is asked for, from the arrays kept
  with the result; the rows are the same as the per-plugin path's.
* ``select_host_positions`` is ``select_host`` on a plain list of totals: the same container/heap order, the same
  reservoir-sampling draws from the scheduler's RNG.

tests/test_scheduler_fastpath.py checks on random clusters and pods that both paths give the same verdicts,
scores, chosen node, start index, top nodes and RNG state.
"""

from __future__ import annotations

import random
from operator import itemgetter
from typing import Any

from k8slab.scheduler.algorithm import (
    DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE, NUMBER_OF_HIGHEST_SCORED_NODES_TO_REPORT, Diagnosis, NodeRecord,
    ScheduleResult, num_feasible_nodes_to_find,
)
from k8slab.scheduler.framework import (
    MAX_NODE_SCORE, RESOURCE_CPU, RESOURCE_MEMORY, TAINT_EFFECT_NO_SCHEDULE,
    TAINT_NODE_UNSCHEDULABLE, CycleState, FilterVerdict, Framework, NodeInfo,
    NodePluginScores, NodeScore, PluginScore, is_success,
)

_FILTERS = ("NodeUnschedulable", "NodeName", "TaintToleration", "NodeResourcesFit")
"""Filter plugins computed over the arrays."""
_SKIPPABLE = ("NodeAffinity", "NodePorts", "PodTopologySpread", "InterPodAffinity")
"""Plugins the fast path takes only when their PreFilter (and PreScore) say Skip."""
_SCORES = ("TaintToleration", "NodeResourcesFit", "NodeResourcesBalancedAllocation", "ImageLocality")
"""Score plugins computed over the arrays."""


_RANDBELOW_WITH_GETRANDBITS = getattr(random.Random, "_randbelow_with_getrandbits", None)


def _np():
    import numpy

    return numpy


# --------------------------------------------------------------------------------------------
# selectHost on a list of totals
# --------------------------------------------------------------------------------------------

def select_host_positions(totals: list[int], rng, count: int = NUMBER_OF_HIGHEST_SCORED_NODES_TO_REPORT,
                          is_top: list[bool] | None = None) -> tuple[int, list[int]]:
    """``select_host`` on totals alone: returns (position of the chosen node, positions of the top ``count``
    nodes, chosen first). The heap is Go's container/heap with ``Less = a > b``, as in select_host, so nodes come
    off in the same order and ``rng`` is drawn from exactly as often (once per extra node tied at the top).

    Nodes tied at the top leave the heap in an order that depends only on which positions hold a top score, not
    on how the lower scores compare (a lower element sinks towards a top child, the left one when both are), so
    when at least ``count`` nodes tie the heap is run on that one bit per node, and only until the chosen node
    is out. ``is_top`` (optional) already says which totals equal the maximum."""
    n = len(totals)
    if n == 0:
        raise ValueError("empty priorityList")
    top = max(totals)
    k = totals.count(top)
    selected = 0
    if getattr(type(rng), "_randbelow", None) is _RANDBELOW_WITH_GETRANDBITS:
        # randrange(c) for c > 0 is _randbelow_with_getrandbits(c): draw bit_length(c) bits until below c
        getrandbits = rng.getrandbits
        for c in range(2, k + 1):
            bits = c.bit_length()
            r = getrandbits(bits)
            while r >= c:
                r = getrandbits(bits)
            if r == 0:
                selected = c - 1
    else:
        below = rng._randbelow  # what randrange(c) calls for c > 0
        for c in range(2, k + 1):
            if below(c) == 0:
                selected = c - 1
    need = max(count, selected + 1)
    if k == n:
        # every node tied: the heap never moves anything; pops come out 0, n-1, n-2, ..., 1
        positions = [0] + list(range(n - 1, n - min(n, need), -1))
    elif k >= count:
        positions = _tied_pop_order(is_top if is_top is not None else [t == top for t in totals], need)
    else:
        positions = _heap_order(totals, count)
    head = positions[:need]
    if selected != 0:
        head[0], head[selected] = head[selected], head[0]
    return head[0], head[:count]


def _tied_pop_order(is_top: list[bool], need: int) -> list[int]:
    """The first ``need`` positions popped (all tied at the top) from container/heap on one bit per node.

    After Init the top nodes hold a subtree from the root. A pop takes the root and moves the last element there:
    a top one stays (its label is the next out); any other sinks along the path of first top children (the left
    one when it is top, else the right one), each label on it moving up a level, and the path's last position
    leaves the subtree. Only the path's labels move, so the path is kept as two lists (positions, and the labels
    now on them): a sink drops the first label and the last position, then the path grows again below its new
    end. Every position joins the path at most once, so a pop costs O(1) amortised instead of a walk down the
    heap; tests/test_scheduler_fastpath.py checks the order against container/heap."""
    n = len(is_top)
    h = list(range(n))
    key = list(is_top)
    for i in range(n // 2 - 1, -1, -1):
        if key[i]:
            continue
        x, j = h[i], i
        while True:
            c = 2 * j + 1
            if c >= n:
                break
            if not key[c]:
                c += 1
                if c >= n or not key[c]:
                    break
            h[j] = h[c]
            key[j] = True
            j = c
        h[j] = x
        key[j] = False
    path = [0]  # positions from the root along the first top children
    labels = [h[0]]  # the label now on each of them
    p = 0
    out = []
    size = n
    while True:
        # grow the path below its end p
        while True:
            c = 2 * p + 1
            if c >= n:
                break
            if not key[c]:
                c += 1
                if c >= n or not key[c]:
                    break
            path.append(c)
            labels.append(h[c])
            p = c
        while True:
            out.append(labels[0])
            size -= 1
            if size == 0 or len(out) >= need:
                return out
            if key[size]:
                # a top node is last: its label takes the root, its position leaves
                key[size] = False
                if path[-1] != size:
                    labels[0] = h[size]
                    continue  # the path is unchanged
                path.pop()
                labels[0] = labels.pop()
            else:
                # the last element sinks: every label on the path moves up, the path's end leaves
                key[path.pop()] = False
                del labels[0]
                if not path:
                    return out
            p = path[-1]
            break


def _heap_order(totals: list[int], count: int) -> list[int]:
    """The positions in the order select_host pops them, up to the last node tied with the maximum and at least
    ``count`` nodes (container/heap Init and Pop with Less = greater total)."""
    h = list(range(len(totals)))
    t = totals
    n = len(h)

    def down(i: int, n: int) -> None:
        while True:
            j1 = 2 * i + 1
            if j1 >= n:
                return
            j = j1
            j2 = j1 + 1
            if j2 < n and t[h[j2]] > t[h[j1]]:
                j = j2
            if not t[h[j]] > t[h[i]]:
                return
            h[i], h[j] = h[j], h[i]
            i = j

    for i in range(n // 2 - 1, -1, -1):
        down(i, n)
    out = []
    top = t[h[0]]
    while h:
        m = len(h) - 1
        h[0], h[m] = h[m], h[0]
        down(0, m)
        p = h.pop()
        if t[p] != top and len(out) >= count:
            break
        out.append(p)
    return out


# --------------------------------------------------------------------------------------------
# Per-node columns
# --------------------------------------------------------------------------------------------

MAX_MATCH_COLUMNS = 1024
"""How many (selector, namespace) match columns NodeArrays keeps."""


class _MatchColumn:
    """Pods matching one selector in one namespace, per node (count_pods_match_selector of each row)."""

    __slots__ = ("selector", "ns", "counts", "index_key")

    def __init__(self, selector, ns: str, counts) -> None:
        self.selector = selector
        self.ns = ns
        self.counts = counts
        self.index_key = None


def _taint_key(taints: list[dict]) -> tuple:
    return tuple((t.get("key") or "", t.get("value") or "", t.get("effect") or "") for t in taints)


class NodeArrays:
    """Per-node columns in snapshot order, refreshed from the NodeInfos. ``touch(node_info)`` marks one row
    stale (NodeInfo.on_change points here); ``invalidate()`` drops everything (a node was added or removed)."""

    _INT_COLUMNS = ("alloc_cpu", "alloc_mem", "nz_cpu", "nz_mem", "req_cpu", "req_mem", "unschedulable", "taints",
                    "affinity_pods", "anti_affinity_pods", "free_cpu", "free_mem", "free_eph", "free_pods",
                    "zero_alloc")
    """The first six are the two resource scores' rows (``data[:6]``, taken at the feasible nodes). The last five
    are for the Filter: allocatable minus requested cpu, memory and ephemeral storage, pods allowed minus pods, and
    whether allocatable cpu or memory is 0 (the scores divide by them)."""

    _COUNT_ROWS = tuple(map(_INT_COLUMNS.index, ("affinity_pods", "anti_affinity_pods", "zero_alloc", "unschedulable")))

    def __init__(self) -> None:
        self.infos: list[NodeInfo] = []
        self.names: list[str] = []
        self.index: dict[str, int] = {}
        self.valid = False
        self.dirty: set[int] = set()
        self.taint_sets: list[tuple] = []
        self.taint_ids: dict[tuple, int] = {}
        self.taint_lists: list[list[dict]] = []
        self.affinity_total = 0
        self.anti_affinity_total = 0
        self.zero_alloc_total = 0
        """Rows whose allocatable cpu or memory is 0."""
        self.unschedulable_rows = 0
        """Rows that are cordoned or have no Node."""
        self.labels: list[dict] = []
        self.labels_version = 0
        """Bumped whenever a node's labels change (the topology columns are rebuilt then)."""
        self._topology: dict[str, tuple] = {}
        self.hooked = False
        """Every NodeInfo reports its pod changes to ``pod_changed``: the match columns can be kept up to date."""
        self.match_cols: dict[tuple, _MatchColumn] = {}
        self._match_index: dict[tuple, list[_MatchColumn]] = {}
        self._match_unindexed: list[_MatchColumn] = []
        self._image_cols: dict[str, list] = {}
        self._label_index: dict[tuple, dict] | None = None
        """(namespace, label key, value) -> {id(PodInfo): (row, PodInfo)}: the pods carrying each label, kept up
        to date by ``pod_changed`` once built, so a new match column visits only the pods that can match."""

    def touch(self, node_info: NodeInfo) -> None:
        if self.valid:
            self.dirty.add(id(node_info))

    def invalidate(self) -> None:
        self.valid = False
        self.dirty.clear()
        self._drop_derived()

    def _drop_derived(self) -> None:
        self._topology.clear()
        self.match_cols.clear()
        self._match_index.clear()
        self._match_unindexed.clear()
        self._image_cols.clear()
        self._label_index = None

    def pod_changed(self, node_info: NodeInfo, pod_info, sign: int) -> None:
        """NodeInfo.on_pod_change: a pod was added to (+1) or removed from (-1) a node; every match column whose
        selector matches the pod moves by one on that row. Only the columns indexed under one of the pod's
        labels (and those with no equality requirement) are tried."""
        if not self.valid:
            return
        i = self._by_id.get(id(node_info))
        if i is None:
            return
        meta = pod_info.pod.get("metadata") or {}
        if self._label_index is not None:
            self._index_pod(self._label_index, i, pod_info, sign)
        if not self.match_cols:
            return
        if meta.get("deletionTimestamp"):
            return  # terminating pods are not counted (count_pods_match_selector)
        ns = meta.get("namespace", "default")
        labels = meta.get("labels") or {}
        index = self._match_index
        if index:
            for k, v in labels.items():
                cols = index.get((ns, k, v))
                if cols:
                    for col in cols:
                        if col.selector.matches(labels):
                            col.counts[i] += sign
        for col in self._match_unindexed:
            if col.ns == ns and col.selector.matches(labels):
                col.counts[i] += sign

    def match_counts(self, selector, ns: str):
        """node_count_pods_match_selector(row, selector, ns) for every row, as an int64 column. Kept (up to
        MAX_MATCH_COLUMNS, least recently used dropped) and moved by ``pod_changed`` when every NodeInfo reports
        its pod changes; counted afresh otherwise. Call after ``sync``."""
        from k8slab.scheduler.plugins.podtopologyspread import node_count_pods_match_selector

        key = (selector.key, ns)
        cols = self.match_cols
        col = cols.pop(key, None)
        if col is None:
            np = _np()
            counts = self._count_from_index(np, selector, ns) if self.hooked else None
            if counts is None:
                counts = np.fromiter((node_count_pods_match_selector(ni, selector, ns) for ni in self.infos),
                                     dtype=np.int64, count=len(self.infos))
            if not self.hooked:
                return counts
            col = _MatchColumn(selector, ns, counts)
            if len(cols) >= MAX_MATCH_COLUMNS:
                self._unregister(cols.pop(next(iter(cols))))
            self._register(col)
        cols[key] = col
        return col.counts

    @staticmethod
    def _index_pod(index: dict, i: int, pod_info, sign: int) -> None:
        meta = pod_info.pod.get("metadata") or {}
        ns = meta.get("namespace", "default")
        for k, v in (meta.get("labels") or {}).items():
            key = (ns, k, v)
            if sign > 0:
                entries = index.get(key)
                if entries is None:
                    entries = index[key] = {}
                entries[id(pod_info)] = (i, pod_info)
            else:
                entries = index.get(key)
                if entries is not None:
                    entries.pop(id(pod_info), None)
                    if not entries:
                        del index[key]

    def _count_from_index(self, np, selector, ns: str):
        """A new match column from the label index: only the pods carrying the value of the selector's first
        equality requirement can match (count_pods_match_selector's rules: same namespace, not terminating).
        None when the selector has no equality requirement."""
        n = len(self.infos)
        if selector.nothing:
            return np.zeros(n, dtype=np.int64)
        req = next((r for r in selector.requirements if r.operator in ("=", "==", "in")), None)
        if req is None:
            return None
        if self._label_index is None:
            index: dict[tuple, dict] = {}
            for i, ni in enumerate(self.infos):
                for pi in ni.pods:
                    self._index_pod(index, i, pi, 1)
            self._label_index = index
        counts = np.zeros(n, dtype=np.int64)
        for v in req.values:
            for i, pi in (self._label_index.get((ns, req.key, v)) or {}).values():
                meta = pi.pod.get("metadata") or {}
                if not meta.get("deletionTimestamp") and selector.matches(meta.get("labels") or {}):
                    counts[i] += 1
        return counts

    def _register(self, col: "_MatchColumn") -> None:
        if col.selector.nothing:
            return  # matches no pod: stays 0
        for r in col.selector.requirements:
            if r.operator in ("=", "==", "in"):
                for v in r.values:
                    self._match_index.setdefault((col.ns, r.key, v), []).append(col)
                col.index_key = (r.key, r.values)
                return
        self._match_unindexed.append(col)

    def _unregister(self, col: "_MatchColumn") -> None:
        if col.index_key is None:
            if col in self._match_unindexed:
                self._match_unindexed.remove(col)
            return
        k, values = col.index_key
        for v in values:
            lst = self._match_index.get((col.ns, k, v))
            if lst is not None:
                lst[:] = [c for c in lst if c is not col]
                if not lst:
                    del self._match_index[(col.ns, k, v)]

    def topology(self, key: str):
        """(value id per row, has the label per row, values): the node label ``key`` as a column. A missing label
        reads as "" (id 0, as ``labels[key]`` in Go), with ``has`` False."""
        hit = self._topology.get(key)
        if hit is not None and hit[0] == self.labels_version:
            return hit[1], hit[2], hit[3]
        return self._topology_column(key)[1:4]

    def topology_rows(self, key: str) -> int:
        """How many rows carry the node label ``key``."""
        hit = self._topology.get(key)
        if hit is None or hit[0] != self.labels_version:
            hit = self._topology_column(key)
        return hit[4]

    def _topology_column(self, key: str) -> tuple:
        np = _np()
        n = len(self.labels)
        ids = {"": 0}
        vid = np.zeros(n, dtype=np.int64)
        has = np.zeros(n, dtype=bool)
        for i, labels in enumerate(self.labels):
            v = labels.get(key)
            if v is not None:
                has[i] = True
                j = ids.get(v)
                if j is None:
                    j = ids[v] = len(ids)
                vid[i] = j
        values = list(ids)
        hit = self._topology[key] = (self.labels_version, vid, has, values, int(has.sum()))
        return hit

    def image_column(self, name: str):
        """(summary position per row, -1 where the node lacks the image; the ImageStateSummary objects): where
        image ``name`` is. The summaries are read when used (the cache updates num_nodes in place)."""
        cols = self._image_cols
        col = cols.get(name)
        if col is None:
            np = _np()
            pos = np.full(len(self.infos), -1, dtype=np.int64)
            if len(cols) >= MAX_MATCH_COLUMNS:  # every dirty row updates each column: keep them bounded
                del cols[next(iter(cols))]
            col = cols[name] = [pos, [], {}]
            for i, ni in enumerate(self.infos):
                self._image_row(col, i, ni.image_states.get(name))
        return col[0], col[1]

    def _image_row(self, col: list, i: int, state) -> None:
        if state is None:
            col[0][i] = -1
            return
        k = col[2].get(id(state))
        if k is None or col[1][k] is not state:
            k = col[2][id(state)] = len(col[1])
            col[1].append(state)
        col[0][i] = k

    def sync(self, infos: list[NodeInfo]) -> None:
        """Bring the columns up to date with ``infos`` (the snapshot list of this cycle)."""
        if not self.valid or infos is not self.infos:
            self._rebuild(infos)
            return
        if self.dirty:
            by_id = self._by_id
            for key in self.dirty:
                i = by_id.get(key)
                if i is not None:
                    self._read(i, infos[i])
            self.dirty.clear()

    def _rebuild(self, infos: list[NodeInfo]) -> None:
        np = _np()
        n = len(infos)
        self.infos = infos
        self.names = [ni.name for ni in infos]
        self.index = {name: i for i, name in enumerate(self.names)}
        self._by_id = {id(ni): i for i, ni in enumerate(infos)}
        self.data = np.zeros((len(self._INT_COLUMNS), n), dtype=np.int64)
        for k, col in enumerate(self._INT_COLUMNS):
            setattr(self, col, self.data[k])
        self.taint_sets, self.taint_ids, self.taint_lists = [], {}, []
        self._drop_derived()
        self.labels = [{}] * n
        self.labels_version += 1
        self._row_counts: list[tuple | None] = [None] * n
        self.affinity_total = self.anti_affinity_total = self.zero_alloc_total = self.unschedulable_rows = 0
        for i, ni in enumerate(infos):
            self._read(i, ni)
        self.hooked = all(ni.on_pod_change == self.pod_changed for ni in infos)
        self.dirty.clear()
        self.valid = True

    def _add_totals(self, counts: tuple, sign: int) -> None:
        self.affinity_total += sign * counts[0]
        self.anti_affinity_total += sign * counts[1]
        self.zero_alloc_total += sign * counts[2]
        self.unschedulable_rows += sign * counts[3]

    def _read(self, i: int, ni: NodeInfo) -> None:
        a, r, z = ni.allocatable, ni.requested, ni.non_zero_requested
        node = ni.node
        labels = ((node or {}).get("metadata") or {}).get("labels") or {}
        old = self.labels[i]
        if labels is not old:
            if labels != old:
                self.labels_version += 1
            self.labels[i] = labels
        if self._image_cols:
            states = ni.image_states
            for name, col in self._image_cols.items():
                self._image_row(col, i, states.get(name))
        spec = (node or {}).get("spec") or {}
        taints = spec.get("taints")
        key = _taint_key(taints) if taints else ()
        tid = self.taint_ids.get(key)
        if tid is None:
            tid = self.taint_ids[key] = len(self.taint_sets)
            self.taint_sets.append(key)
            self.taint_lists.append(list(taints or ()))
        # one column write, in the order of _INT_COLUMNS
        self.data[:, i] = row = (a.milli_cpu, a.memory, z.milli_cpu, z.memory, r.milli_cpu, r.memory,
                                 2 if node is None else (1 if spec.get("unschedulable") else 0), tid,
                                 len(ni.pods_with_affinity), len(ni.pods_with_required_anti_affinity),
                                 a.milli_cpu - r.milli_cpu, a.memory - r.memory,
                                 a.ephemeral_storage - r.ephemeral_storage, a.allowed_pod_number - len(ni.pods),
                                 0 if a.milli_cpu and a.memory else 1)
        c = self._COUNT_ROWS
        counts = (row[c[0]], row[c[1]], row[c[2]], row[c[3]] != 0)  # what the totals add up, for this row
        old = self._row_counts[i]
        if old != counts:
            if old is not None:
                self._add_totals(old, -1)
            self._add_totals(counts, 1)
            self._row_counts[i] = counts


# --------------------------------------------------------------------------------------------
# Which profiles and pods the arrays cover
# --------------------------------------------------------------------------------------------

_BLOCK_ROW = {RESOURCE_CPU: 0, RESOURCE_MEMORY: 1}
"""Rows of the scores' block (``NodeArrays.data[:6]`` taken at the feasible nodes): allocatable (this row),
non-zero requested (+2), requested (+4)."""


def _profile_plan(fw: Framework) -> dict | None:
    """What the fast path needs to know about a profile, or None when it cannot take it (a plugin that is not
    the built-in class, a Filter or Score plugin it does not compute, a scoring strategy other than
    LeastAllocated/MostAllocated over cpu and memory)."""
    plan = fw.__dict__.get("_fast_plan", False)
    if plan is not False:
        return plan
    plan = _build_plan(fw)
    fw.__dict__["_fast_plan"] = plan
    return plan


def _build_plan(fw: Framework) -> dict | None:
    from k8slab.scheduler.plugins import REGISTRY
    from k8slab.scheduler.plugins.noderesources import LEAST_ALLOCATED, MOST_ALLOCATED

    builtin = {name: cls for name, cls in REGISTRY.items()}
    for ep in ("PreFilter", "Filter", "PreScore", "Score"):
        for pl in fw.extension_points[ep]:
            if builtin.get(pl.NAME) is not type(pl):
                return None
    filters = fw.filter_plugin_names
    if any(p not in _FILTERS and p not in _SKIPPABLE for p in filters):
        return None
    scores = fw.score_plugin_names
    if not scores or any(p not in _SCORES and p not in _SKIPPABLE for p in scores):
        return None
    for p in fw.extension_points["PreScore"]:
        if p.NAME not in _SCORES and p.NAME not in _SKIPPABLE:
            return None
    plan: dict[str, Any] = {"filters": filters, "scores": scores}
    fit = fw.plugins.get("NodeResourcesFit")
    if fit is not None and "NodeResourcesFit" in scores:
        strategy = fit.args["scoringStrategy"]
        if strategy["type"] not in (LEAST_ALLOCATED, MOST_ALLOCATED):
            return None
        if any(r["name"] not in (RESOURCE_CPU, RESOURCE_MEMORY) for r in strategy["resources"]):
            return None
        plan["fit_most"] = strategy["type"] == MOST_ALLOCATED
        plan["fit_resources"] = [(r["name"], int(r["weight"])) for r in strategy["resources"]]
        plan["fit_weight_sum"] = sum(w for _, w in plan["fit_resources"])
    ba = fw.plugins.get("NodeResourcesBalancedAllocation")
    if ba is not None and "NodeResourcesBalancedAllocation" in scores:
        names = [r["name"] for r in ba.args["resources"]]
        if any(n not in (RESOURCE_CPU, RESOURCE_MEMORY) for n in names) or len(set(names)) != len(names):
            return None
        plan["ba_resources"] = names
    return plan


def _pod_has_affinity_terms(pod: dict) -> bool:
    a = (pod.get("spec") or {}).get("affinity") or {}
    return bool(a.get("podAffinity") or a.get("podAntiAffinity"))


# --------------------------------------------------------------------------------------------
# One scheduling cycle over the arrays
# --------------------------------------------------------------------------------------------

def fast_schedule_pod(fw: Framework, state: CycleState, pod: dict, arrays: NodeArrays, node_infos: list[NodeInfo],
                      rng, next_start_index: int = 0, global_percentage: int = DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE,
                      nominated_pods: bool = False, node_names: list[str] | None = None) -> ScheduleResult | None:
    """``schedule_pod`` over the arrays, or None (before any draw from ``rng``) when the pod or the profile needs
    the per-plugin path. ``state`` must be fresh: on None the caller starts again with a new CycleState.
    ``nominated_pods``: some pod is nominated to a node (the filters would have to run with it)."""
    n = len(node_infos)
    if n < 2 or nominated_pods:
        return None
    spec = pod.get("spec") or {}
    if spec.get("nodeName") or (pod.get("status") or {}).get("nominatedNodeName"):
        return None
    plan = _profile_plan(fw)
    if plan is None:
        return None
    arrays.sync(node_infos)
    np = _np()
    fw.snapshot = node_infos
    pod_affinity = _pod_has_affinity_terms(pod)

    # -- PreFilter ------------------------------------------------------------------------------
    skip: set[str] = set()
    for pl in fw.extension_points["PreFilter"]:
        if pl.NAME == "InterPodAffinity":
            # its PreFilter says Skip when the pod has no required terms and no existing pod's required
            # anti-affinity matches it; taken here only in the plain case: no such terms anywhere
            if pod_affinity or arrays.anti_affinity_total:
                return None
            skip.add(pl.NAME)
            continue
        res, s = pl.pre_filter(state, pod, node_infos)
        if s is not None and s.is_skip():
            skip.add(pl.NAME)
            continue
        if not is_success(s) or (res is not None and not res.all_nodes()):
            return None
    state.skip_filter_plugins = skip
    active_filters = [p for p in plan["filters"] if p not in skip]
    if any(p not in _FILTERS for p in active_filters):
        return None

    # -- Filter ---------------------------------------------------------------------------------
    # Nodes are examined in rotation from the start index until num_to_find fit. The arrays say which nodes
    # fail; the real plugins then run on those few nodes only, for their exact statuses.
    num_to_find = num_feasible_nodes_to_find(fw.percentage_of_nodes_to_score, n, global_percentage)
    start = next_start_index % n
    idx = _rotation(np, start, num_to_find, n)
    rejects = _rejects(np, fw, state, pod, arrays, active_filters, idx)
    if rejects is False:
        return None
    rejected = None
    if rejects is not None:
        if num_to_find == n:
            rejected = rejects  # the same rotation over every node
        else:
            idx = _rotation(np, start, n, n)
            rejected = _rejects(np, fw, state, pod, arrays, active_filters, idx)
            if rejected is False or rejected is None:
                return None
        ok_pos = np.flatnonzero(~rejected)
        cut = int(ok_pos[num_to_find - 1]) + 1 if len(ok_pos) >= num_to_find else n
        idx, rejected = idx[:cut], rejected[:cut]
    diagnosis = Diagnosis()
    statuses: dict[str, tuple] = {}
    if rejected is not None:
        for i in idx[rejected].tolist():
            ni = node_infos[i]
            status, verdicts = fw.run_filter_plugins_with_verdicts(state, pod, ni)
            if status is None or not status.is_rejected():
                return None  # the arrays and the plugins disagree, or a plugin failed: the per-plugin path decides
            diagnosis.node_to_status.set(ni.name, status)
            diagnosis.add_plugin_status(status)
            statuses[ni.name] = (verdicts, status)
        evaluated = len(idx)
        idx = idx[~rejected]
    else:
        evaluated = len(idx)
    if len(idx) < 2:
        return None  # no node or a single one: nothing to score, the per-plugin path reports it
    idx_list = idx.tolist()
    feasible = list(itemgetter(*idx_list)(node_infos))

    # -- PreScore --------------------------------------------------------------------------------
    skip_score: set[str] = set()
    spread = affinity = None
    for pl in fw.extension_points["PreScore"]:
        if pl.NAME == "PodTopologySpread":
            spread = _spread_pre_score(np, pl, pod, arrays, idx)
            if spread is _SKIP:
                skip_score.add(pl.NAME)
                continue
            if spread is not None:
                continue  # computed over the arrays; otherwise the plugin's own PreScore runs
        if pl.NAME == "InterPodAffinity":
            affinity = _affinity_pre_score(np, pl, pod, arrays)
            if affinity is _SKIP:
                skip_score.add(pl.NAME)
                continue
            if affinity is not None:
                continue
        s = pl.pre_score(state, pod, feasible)
        if s is not None and s.is_skip():
            skip_score.add(pl.NAME)
            continue
        if not is_success(s):
            return None
    state.skip_score_plugins = skip_score
    active_scores = [p for p in plan["scores"] if p not in skip_score]

    # -- Score -----------------------------------------------------------------------------------
    raw: dict[str, Any] = {}
    normalized: dict[str, Any] = {}
    # allocatable, non-zero requested and requested cpu and memory of the feasible nodes, for the two resource
    # scores: one take from six contiguous rows
    block = arrays.data[:6].take(idx, axis=1)
    for name in active_scores:
        if name == "TaintToleration":
            from k8slab.scheduler.plugins.tainttoleration import (
                PRE_SCORE_STATE_KEY, count_intolerable_taints_prefer_no_schedule,
            )
            tol = state.read(PRE_SCORE_STATE_KEY).tolerations_prefer_no_schedule
            per_set = [count_intolerable_taints_prefer_no_schedule(lst, tol) for lst in arrays.taint_lists]
            if len(per_set) == 1:
                r = np.full(len(idx), per_set[0], dtype=np.int64)  # every node has the same taints
            else:
                r = np.asarray(per_set, dtype=np.int64)[arrays.taints[idx]]
            raw[name] = r
            normalized[name] = _default_normalize(np, r, reverse=True)
        elif name == "NodeResourcesFit":
            from k8slab.scheduler.plugins.noderesources import PRE_SCORE_STATE_KEY as FIT_KEY
            requests = state.read(FIT_KEY).pod_requests
            r = _fit_score(np, arrays, idx, plan, requests, block)
            raw[name] = r
            normalized[name] = r
        elif name == "NodeResourcesBalancedAllocation":
            from k8slab.scheduler.plugins.balancedallocation import PRE_SCORE_STATE_KEY as BA_KEY
            requests = state.read(BA_KEY).pod_requests
            r = _balanced_score(np, arrays, idx, plan["ba_resources"], requests, block)
            raw[name] = r
            normalized[name] = r
        elif name == "ImageLocality":
            r = _image_score(np, arrays, idx, pod, n)
            raw[name] = r
            normalized[name] = r
        elif name == "PodTopologySpread" and spread is not None:
            raw[name], normalized[name] = _spread_scores(np, spread, idx)
        elif name == "InterPodAffinity" and affinity is not None:
            raw[name], normalized[name] = _affinity_scores(np, affinity, arrays, idx)
        else:
            # NodeAffinity's preferred terms, PodTopologySpread's soft (or system default) constraints,
            # InterPodAffinity's preferred terms (the pod's, or existing pods'): the plugin itself scores each
            # feasible node from what its PreScore computed, and normalizes, as run_score_plugins does
            scored = _plugin_scores(fw.plugins[name], state, pod, feasible)
            if scored is None:
                return None  # an error or a score out of range: the per-plugin path reports it
            raw[name], normalized[name] = np.asarray(scored[0], dtype=np.int64), np.asarray(scored[1], dtype=np.int64)
    weights = [fw.score_plugin_weight[p] for p in active_scores]
    total = np.zeros(len(idx), dtype=np.int64)
    for name, w in zip(active_scores, weights):
        total += normalized[name] * w
    totals = total.tolist()

    # -- selectHost ------------------------------------------------------------------------------
    chosen_pos, top_pos = select_host_positions(totals, rng, is_top=(total == total.max()).tolist())
    if node_names is None:
        node_names = [ni.name for ni in node_infos]
    result = ScheduleResult(
        next_start_node_index=(start + evaluated) % n,
        node_names=node_names,
        filter_plugins=fw.filter_plugin_names,
        score_plugins=plan["scores"],
        score_weights=dict(fw.score_plugin_weight),
    )
    result.skipped_filter_plugins = set(skip)
    result.diagnosis = diagnosis
    result.feasible_nodes = len(idx)
    result.evaluated_nodes = evaluated
    result.scored = True
    result.skipped_score_plugins = set(skip_score)
    host = node_names[idx_list[chosen_pos]]
    result.suggested_host = host
    # kept with the result for explain(), compactly (see _Payload)
    norm = np.array([normalized[p] for p in active_scores])
    norm = norm.astype(np.uint8) if int(norm.min()) >= 0 and int(norm.max()) <= 255 else norm
    raw_rows = {}
    for j, p in enumerate(active_scores):
        r = raw[p]
        if r is not normalized[p]:
            raw_rows[j] = r.astype(np.int16) if int(r.min()) >= -32768 and int(r.max()) <= 32767 else r
    pos = (start, len(idx), n) if rejected is None else idx.astype(np.int32)
    payload = _Payload(pos, active_filters, active_scores, weights, norm, raw_rows, host, statuses)
    result.__dict__["_fill"] = payload.fill
    result.top_nodes = [payload.node_plugin_scores(node_names[idx_list[p]], p) for p in top_pos]
    return result


def _plugin_scores(pl, state: CycleState, pod: dict, nodes: list[NodeInfo]) -> tuple[list[int], list[int]] | None:
    """One Score plugin over the feasible nodes, then its NormalizeScore: (raw, normalized), or None on an
    error status or a normalized score outside 0..100."""
    score = pl.score
    node_scores = []
    for ni in nodes:
        v, status = score(state, pod, ni)
        if status is not None and not status.is_success():
            return None
        node_scores.append(NodeScore(ni.name, int(v)))
    raw = [ns.score for ns in node_scores]
    normalize = getattr(pl, "normalize_score", None)
    if normalize is not None and not is_success(normalize(state, pod, node_scores)):
        return None
    normalized = [ns.score for ns in node_scores]
    if any(v > MAX_NODE_SCORE or v < 0 for v in normalized):
        return None
    return raw, normalized


def _rotation(np, start: int, count: int, n: int):
    idx = np.arange(start, start + count, dtype=np.int64)
    if start + count > n:
        idx %= n
    return idx


def _rejects(np, fw: Framework, state: CycleState, pod: dict, arrays: NodeArrays, active_filters: list[str], idx):
    """Whether each node of ``idx`` fails one of the Filter plugins (None: none fails; False: the arrays do not
    cover this pod). NodeResourcesFit's check runs over every row (as cheap as over the rows of ``idx``, and no
    gathering of columns), then its verdicts for ``idx`` are picked."""
    spec = pod.get("spec") or {}
    out = None
    tolerations = spec.get("tolerations") or []
    if "NodeUnschedulable" in active_filters and arrays.unschedulable_rows and arrays.unschedulable[idx].any():
        if (arrays.unschedulable[idx] == 2).any():
            return False
        from k8slab.scheduler.plugins.tainttoleration import tolerations_tolerate_taint
        if not tolerations_tolerate_taint(tolerations, {"key": TAINT_NODE_UNSCHEDULABLE,
                                                        "effect": TAINT_EFFECT_NO_SCHEDULE}):
            out = arrays.unschedulable[idx] != 0
    if "TaintToleration" in active_filters and any(arrays.taint_sets):
        from k8slab.scheduler.plugins.tainttoleration import (
            do_not_schedule_taints_filter, find_matching_untolerated_taint,
        )
        bad = [find_matching_untolerated_taint(lst, tolerations, do_not_schedule_taints_filter) is not None
               for lst in arrays.taint_lists]
        if any(bad):
            col = np.asarray(bad)[arrays.taints[idx]]
            out = col if out is None else out | col
    if "NodeResourcesFit" in active_filters:
        from k8slab.scheduler.plugins.noderesources import PRE_FILTER_STATE_KEY
        req = state.read(PRE_FILTER_STATE_KEY)
        if req.scalar_resources:
            return False
        # fitsRequest: len(pods) + 1 > allowed pods, then each requested resource above allocatable - requested
        bad = arrays.free_pods < 1
        if req.milli_cpu > 0:
            bad |= arrays.free_cpu < req.milli_cpu
        if req.memory > 0:
            bad |= arrays.free_mem < req.memory
        if req.ephemeral_storage > 0:
            bad |= arrays.free_eph < req.ephemeral_storage
        if out is not None or bad.any():
            bad = bad[idx]
            out = bad if out is None else out | bad
    if out is not None and not out.any():
        return None
    return out


class _Payload:
    """The arrays of one fast cycle, turned into NodeRecords when a node's row is asked for. Kept for every pod
    (explain), so kept small: the feasible rows as the rotation they are when no node was rejected, the normalized
    scores as bytes (0..100), a raw row only for the plugins whose raw score differs from the normalized one, and
    totals added up when asked for."""

    __slots__ = ("pos", "filters", "scores", "weights", "normalized", "raw", "host", "rejected")

    def __init__(self, pos, filters, scores, weights, normalized, raw, host, rejected) -> None:
        """``pos``: the feasible rows, an array or (start, count, number of nodes) for a rotation. ``normalized``:
        one row per plugin of ``scores``. ``raw``: plugin position -> its raw row, where it is not the normalized
        one."""
        self.rejected = rejected
        self.filters = filters
        self.scores = scores
        self.weights = weights
        self.normalized = normalized
        self.raw = raw
        self.host = host
        self.pos = pos

    def node_plugin_scores(self, name: str, p: int) -> NodePluginScores:
        norm = self.normalized[:, p].tolist()
        raw = self.raw
        scores = [PluginScore(s, norm[j] * w, int(raw[j][p]) if j in raw else norm[j], norm[j], w)
                  for j, (s, w) in enumerate(zip(self.scores, self.weights))]
        return NodePluginScores(name, scores, sum(ps.score for ps in scores))

    def rows(self) -> list[int]:
        if type(self.pos) is tuple:
            start, count, n = self.pos
            return [(start + t) % n for t in range(count)]
        return self.pos.tolist()

    def fill(self, result: ScheduleResult, rec: NodeRecord) -> None:
        positions = result.__dict__.get("_positions")
        if positions is None:
            names = result.node_names
            positions = result.__dict__["_positions"] = {names[i]: p for p, i in enumerate(self.rows())}
        p = positions.get(rec.name)
        if p is None:
            rejected = self.rejected.get(rec.name)
            if rejected is not None:
                rec.evaluated = True
                rec.filters, rec.status = rejected
            return
        rec.evaluated = rec.feasible = True
        rec.filters = [FilterVerdict(f, None) for f in self.filters]
        rec.status = None
        nps = self.node_plugin_scores(rec.name, p)
        rec.scores = nps.scores
        rec.total_score = nps.total_score
        rec.chosen = rec.name == self.host


# --------------------------------------------------------------------------------------------
# Score functions over arrays (integer arithmetic as in the Go code)
# --------------------------------------------------------------------------------------------

def _default_normalize(np, scores, reverse: bool):
    """DefaultNormalizeScore(MaxNodeScore, reverse, scores)."""
    max_count = int(scores.max()) if len(scores) else 0
    if max_count == 0:
        if reverse:
            return np.full(len(scores), MAX_NODE_SCORE, dtype=np.int64)
        return scores.copy()
    out = MAX_NODE_SCORE * scores // max_count
    if reverse:
        out = MAX_NODE_SCORE - out
    return out


def _fit_score(np, arrays: NodeArrays, idx, plan: dict, requests: list[int], block):
    """LeastAllocated / MostAllocated over cpu and memory with non-zero requests (resource_allocation.go).
    ``block``: the scores' rows (see _BLOCK_ROW) at the feasible rows ``idx``."""
    if not arrays.zero_alloc_total and plan["fit_weight_sum"] > 0:
        # no node has 0 allocatable cpu or memory: every resource counts. leastRequestedScore's "requested >
        # capacity gives 0" is max(capacity - requested, 0)
        node_score = None
        for (name, weight), pod_req in zip(plan["fit_resources"], requests):
            k = _BLOCK_ROW[name]
            alloc, req = block[k], block[k + 2] + pod_req
            if plan["fit_most"]:
                s = np.minimum(req, alloc) * MAX_NODE_SCORE // alloc
            else:
                s = np.maximum(alloc - req, 0) * MAX_NODE_SCORE // alloc
            if weight != 1:
                s *= weight
            node_score = s if node_score is None else node_score + s
        return node_score // plan["fit_weight_sum"]
    node_score = np.zeros(len(idx), dtype=np.int64)
    weight_sum = np.zeros(len(idx), dtype=np.int64)
    for (name, weight), pod_req in zip(plan["fit_resources"], requests):
        k = _BLOCK_ROW[name]
        alloc, req = block[k], block[k + 2] + pod_req
        has = alloc != 0
        safe = np.where(has, alloc, 1)
        if plan["fit_most"]:
            s = np.minimum(req, safe) * MAX_NODE_SCORE // safe
        else:
            s = np.where(req > alloc, 0, (safe - req) * MAX_NODE_SCORE // safe)
        node_score += np.where(has, s * weight, 0)
        weight_sum += np.where(has, weight, 0)
    return np.where(weight_sum == 0, 0, node_score // np.where(weight_sum == 0, 1, weight_sum))


def _balanced_score(np, arrays: NodeArrays, idx, resources: list[str], requests: list[int], block):
    """balancedResourceScorer with real requests: 1 - std of the requested fractions, times 100, truncated.
    ``block``: the scores' rows (see _BLOCK_ROW) at the feasible rows ``idx``."""
    if not arrays.zero_alloc_total and len(resources) == 2:
        # no node has 0 allocatable cpu or memory: both fractions count
        f = [np.minimum((block[_BLOCK_ROW[name] + 4] + pod_req) / block[_BLOCK_ROW[name]], 1.0)
             for name, pod_req in zip(resources, requests)]
        std = np.abs((f[0] - f[1]) / 2)
        return ((1 - std) * float(MAX_NODE_SCORE)).astype(np.int64)
    fractions = []
    present = []
    for name, pod_req in zip(resources, requests):
        k = _BLOCK_ROW[name]
        alloc, req = block[k], block[k + 4] + pod_req
        has = alloc != 0
        f = np.minimum(req.astype(np.float64) / np.where(has, alloc, 1).astype(np.float64), 1.0)
        fractions.append(f)
        present.append(has)
    std = np.zeros(len(idx), dtype=np.float64)
    if len(fractions) == 2:
        both = present[0] & present[1]
        std = np.where(both, np.abs((fractions[0] - fractions[1]) / 2), 0.0)
    return ((1 - std) * float(MAX_NODE_SCORE)).astype(np.int64)


def _image_score(np, arrays: NodeArrays, idx, pod: dict, total_num_nodes: int):
    """ImageLocality (image_locality.go): for each node, the sum over the pod's containers whose image it holds
    of int(size x nodes having the image / all nodes), clamped to [23 MB, 1000 MB x containers] and scaled to
    0..100 (calculatePriority), over image columns."""
    from k8slab.scheduler.plugins.imagelocality import (
        MAX_CONTAINER_THRESHOLD, MIN_THRESHOLD, calculate_priority, normalized_image_name, scaled_image_score,
    )

    spec = pod.get("spec") or {}
    containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
    num_containers = len(containers)
    if num_containers == 0:
        return np.full(len(idx), calculate_priority(0, 0), dtype=np.int64)
    sums = None
    for c in containers:
        pos, states = arrays.image_column(normalized_image_name(c.get("image") or ""))
        if not states:
            continue
        # position -1 (image absent) picks the trailing 0
        table = np.asarray([scaled_image_score(st, total_num_nodes) for st in states] + [0], dtype=np.int64)
        part = table[pos[idx]]
        sums = part if sums is None else sums + part
    if sums is None:
        sums = np.zeros(len(idx), dtype=np.int64)
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    # below minThreshold -> minThreshold, above maxThreshold -> maxThreshold (minThreshold < maxThreshold)
    sums = np.minimum(np.maximum(sums, MIN_THRESHOLD), max_threshold)
    return MAX_NODE_SCORE * (sums - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


# --------------------------------------------------------------------------------------------
# PodTopologySpread's PreScore and Score over arrays (podtopologyspread/scoring.go)
# --------------------------------------------------------------------------------------------

_SKIP = object()
"""PreScore says Skip."""


class _SpreadState:
    """preScoreState over arrays: per constraint its label column and either the matching pods per node
    (hostname) or per topology value; the normalizing weights; which feasible nodes are ignored."""

    __slots__ = ("terms", "ignored")

    def __init__(self, terms: list, ignored) -> None:
        self.terms = terms
        self.ignored = ignored


def _spread_pre_score(np, pl, pod: dict, arrays: NodeArrays, idx):
    """PodTopologySpread's PreScore over the arrays for the feasible rows ``idx``: _SKIP, a _SpreadState, or
    None when the plugin should run it itself (the pod's required node affinity decides which nodes count, or
    its constraints do not parse)."""
    from k8slab.scheduler.plugins.nodeaffinity import get_required_node_affinity
    from k8slab.scheduler.plugins.podtopologyspread import (
        LABEL_HOSTNAME, NODE_INCLUSION_POLICY_HONOR, SCHEDULE_ANYWAY, filter_topology_spread_constraints,
        topology_normalizing_weight,
    )
    from k8slab.scheduler.plugins.tainttoleration import do_not_schedule_taints_filter, find_matching_untolerated_taint

    spec = pod.get("spec") or {}
    meta = pod.get("metadata") or {}
    own = bool(spec.get("topologySpreadConstraints"))
    try:
        if own:
            constraints = filter_topology_spread_constraints(spec["topologySpreadConstraints"],
                                                             meta.get("labels") or {}, SCHEDULE_ANYWAY)
        else:
            constraints = pl.build_default_constraints(pod, SCHEDULE_ANYWAY)
    except ValueError:
        return None
    if not constraints:
        return _SKIP
    require = get_required_node_affinity(pod)
    if require.label_selector is not None or require.node_selector is not None:
        return None
    if any(c.max_skew < 1 for c in constraints):
        return None  # scores could go negative; NormalizeScore's sentinel handling is left to the plugin
    require_all = own or not pl.system_defaulted
    ns = meta.get("namespace", "default")
    columns = [arrays.topology(c.topology_key) for c in constraints]
    # initPreScoreState: with requireAllTopologies, feasible nodes missing a topology label are ignored
    counted = None
    ignored = None
    kept = idx
    if require_all:
        counted = columns[0][1].copy()
        for _, has, _ in columns[1:]:
            counted &= has
        ignored = ~counted[idx]
        if ignored.any():
            kept = idx[~ignored]
        else:
            ignored = None
    terms = []
    for c, (vid, has, values) in zip(constraints, columns):
        covered = arrays.topology_rows(c.topology_key)
        if not covered:
            continue  # no node has the label: scoreForCount is added nowhere, the term is 0 on every node
        if covered == len(has):
            has = None  # every node has the label: added everywhere
        counts = arrays.match_counts(c.selector, ns)
        if c.topology_key == LABEL_HOSTNAME:
            # per-node counts, as Score counts them; the weight uses the number of nodes scored
            terms.append((c.max_skew, has, None, counts, topology_normalizing_weight(len(kept))))
            continue
        in_use = np.zeros(len(values), dtype=bool)
        in_use[vid[kept]] = True
        # PreScore over all nodes: those that count add their matching pods to their topology value, if some
        # feasible node has that value
        rows = in_use[vid]
        if counted is not None:
            rows &= counted
        if c.node_taints_policy == NODE_INCLUSION_POLICY_HONOR and any(arrays.taint_sets):
            tolerations = spec.get("tolerations") or []
            ok = np.asarray([find_matching_untolerated_taint(lst, tolerations, do_not_schedule_taints_filter) is None
                             for lst in arrays.taint_lists], dtype=bool)
            rows &= ok[arrays.taints]
        per_value = np.bincount(vid[rows], weights=counts[rows], minlength=len(values)).astype(np.int64)
        terms.append((c.max_skew, has, vid, per_value, topology_normalizing_weight(int(in_use.sum()))))
    return _SpreadState(terms, ignored)


def _spread_scores(np, s: _SpreadState, idx):
    """PodTopologySpread's Score and NormalizeScore for the feasible rows ``idx``: (raw, normalized)."""
    score = np.zeros(len(idx), dtype=np.float64)
    for max_skew, has, vid, counts, weight in s.terms:
        cnt = counts[idx] if vid is None else counts[vid[idx]]
        # scoreForCount, added only where the node has the topology label (has None: every node has it)
        term = cnt.astype(np.float64) * weight + float(max_skew - 1)
        score += term if has is None else np.where(has[idx], term, 0.0)
    # go_round (math.Round): counts >= 0, weights > 0 and maxSkew >= 1 make every score >= +0.0, where
    # copysign(floor(|x| + 0.5), x) is floor(x + 0.5)
    raw = np.floor(score + 0.5).astype(np.int64)
    valid = None
    if s.ignored is not None:
        raw[s.ignored] = 0
        valid = ~s.ignored
        if not valid.any():
            return raw, np.zeros(len(idx), dtype=np.int64)
    scored = raw if valid is None else raw[valid]
    min_score, max_score = int(scored.min()), int(scored.max())
    if max_score == 0:
        normalized = np.full(len(idx), MAX_NODE_SCORE, dtype=np.int64)
    else:
        normalized = MAX_NODE_SCORE * (max_score + min_score - raw) // max_score
    if s.ignored is not None:
        normalized[s.ignored] = 0
    return raw, normalized


# --------------------------------------------------------------------------------------------
# InterPodAffinity's PreScore and Score over arrays (interpodaffinity/scoring.go)
# --------------------------------------------------------------------------------------------

def _affinity_pre_score(np, pl, pod: dict, arrays: NodeArrays):
    """InterPodAffinity's PreScore for a pod with no preferred terms of its own: only existing pods with
    affinity terms contribute, so only the nodes holding some are visited (in snapshot order, as the plugin
    does). _SKIP, the plugin's PreScoreState, or None to let the plugin run it."""
    from k8slab.scheduler.plugins.interpodaffinity import PreScoreState, preferred_terms

    if preferred_terms(pod, "podAffinity") or preferred_terms(pod, "podAntiAffinity"):
        return None
    if pl.args.get("ignorePreferredTermsOfExistingPods"):
        return _SKIP
    s = PreScoreState()
    infos = arrays.infos
    for i in np.flatnonzero(arrays.affinity_pods).tolist():
        ni = infos[i]
        for existing in ni.pods_with_affinity:
            pl._process_existing_pod(s, [], [], existing.pod, ni.node or {}, pod)
    if not s.topology_score:
        return _SKIP
    return s


def _affinity_scores(np, s, arrays: NodeArrays, idx):
    """InterPodAffinity's Score (the sum of topology_score over the node's labels) and NormalizeScore
    (min-max scaling in float64, truncated) for the feasible rows ``idx``: (raw, normalized)."""
    raw = np.zeros(len(idx), dtype=np.int64)
    for tp_key, tp_values in s.topology_score.items():
        vid, has, values = arrays.topology(tp_key)
        table = np.asarray([tp_values.get(v, 0) for v in values], dtype=np.int64)
        raw += np.where(has[idx], table[vid[idx]], 0)
    min_count, max_count = int(raw.min()), int(raw.max())
    diff = max_count - min_count
    if diff > 0:
        normalized = (float(MAX_NODE_SCORE) * ((raw - min_count).astype(np.float64) / float(diff))).astype(np.int64)
    else:
        normalized = np.zeros(len(idx), dtype=np.int64)
    return raw, normalized
