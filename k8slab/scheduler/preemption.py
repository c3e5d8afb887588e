"""Mirrors: pkg/scheduler/framework/preemption/preemption.go (Evaluator: Preempt, findCandidates,
DryRunPreemption, SelectCandidate, prepareCandidate), pkg/scheduler/framework/plugins/defaultpreemption/
default_preemption.go (SelectVictimsOnNode, PodEligibleToPreemptOthers, calculateNumCandidates,
filterPodsWithPDBViolation), pkg/scheduler/util/utils.go (MoreImportantPod, GetEarliestPodStartTime)

Preemption runs at PostFilter when no node fits. It looks for a node where evicting lower-priority
pods would let the pod fit:

1. Only nodes whose filter verdict was ``Unschedulable`` are candidates (an untolerated taint or a
   node-affinity mismatch, UnschedulableAndUnresolvable, cannot be fixed by evicting pods).
2. On each candidate (a copy of its NodeInfo), remove every pod of lower priority, check that the pod
   now fits, then give pods back (*reprieve*) from the most important down, first those whose eviction
   would break a PodDisruptionBudget, keeping each one that still leaves room. What is left are the
   victims.
3. Pick one node: fewest PDB violations, then the lowest highest-victim priority, then the smallest sum
   of priorities, then the fewest victims, then the latest start of the highest-priority victims.
4. Give victims a ``DisruptionTarget`` condition and delete them (gracefully), clear the nomination of
   lower-priority pods nominated to that node, and return the node as ``nominatedNodeName``. The pod is
   not bound now: it goes back to the queue and is tried again, its nominated node first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from k8slab.api.objects import label_selector_as_selector
from k8slab.scheduler.framework import (
    MODE_OVERRIDE, Code, CycleState, NodeInfo, NominatingInfo, PodInfo, PostFilterResult, Status, as_status,
    is_success, pod_priority, SchedulerError,
)

MAX_INT32 = 2**31 - 1
MIN_INT64 = -(2**63)
DISRUPTION_TARGET = "DisruptionTarget"
REASON_PREEMPTION_BY_SCHEDULER = "PreemptionByScheduler"
NO_VICTIMS_MSG = "No preemption victims found for incoming pod"
NOT_HELPFUL_MSG = "Preemption is not helpful for scheduling"


def pod_start_time(pod: dict) -> str:
    """GetPodStartTime: status.startTime; a pod not started yet counts as starting now (sorts last)."""
    return (pod.get("status") or {}).get("startTime") or "9999-12-31T23:59:59Z"


def more_important_pod(p1: dict, p2: dict) -> bool:
    """MoreImportantPod: higher priority first; equal priority, the one that started earlier."""
    a, b = pod_priority(p1), pod_priority(p2)
    if a != b:
        return a > b
    return pod_start_time(p1) < pod_start_time(p2)


def _sort_more_important(pods: list) -> list:
    import functools
    return sorted(pods, key=functools.cmp_to_key(
        lambda x, y: -1 if more_important_pod(_pod(x), _pod(y)) else (1 if more_important_pod(_pod(y), _pod(x))
                                                                      else 0)))


def _pod(x) -> dict:
    return x.pod if isinstance(x, PodInfo) else x


def calculate_num_candidates(num_nodes: int, min_percentage: int = 10, min_absolute: int = 100) -> int:
    """numCandidates = clamp(nodes x percentage / 100, min=absolute, max=nodes)."""
    n = num_nodes * min_percentage // 100
    if n < min_absolute:
        n = min_absolute
    if n > num_nodes:
        n = num_nodes
    return n


def filter_pods_with_pdb_violation(pod_infos: list, pdbs: list[dict]) -> tuple[list, list]:
    """Split pods (stable) into those whose eviction would drive a matching PDB's disruptionsAllowed
    below zero (counting down per PDB as pods are taken) and the rest."""
    allowed = [int((pdb.get("status") or {}).get("disruptionsAllowed") or 0) for pdb in pdbs]
    violating, non_violating = [], []
    for pi in pod_infos:
        pod = _pod(pi)
        meta = pod.get("metadata") or {}
        violated = False
        if meta.get("labels"):
            for i, pdb in enumerate(pdbs):
                if (pdb.get("metadata") or {}).get("namespace") != meta.get("namespace"):
                    continue
                try:
                    selector = label_selector_as_selector((pdb.get("spec") or {}).get("selector"))
                except ValueError:
                    continue
                if selector.nothing or selector.empty() or not selector.matches(meta.get("labels")):
                    continue
                if meta.get("name") in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else non_violating).append(pi)
    return violating, non_violating


@dataclass
class Candidate:
    """A node where preemption would work and the pods it would evict (most important first)."""

    name: str
    victims: list[dict] = field(default_factory=list)
    num_pdb_violations: int = 0


def select_victims_on_node(fw, state: CycleState, pod: dict, node_info: NodeInfo, pdbs: list[dict]
                           ) -> tuple[list[dict], int, Status | None]:
    """SelectVictimsOnNode on a copy of the node: (victims, number violating a PDB, status)."""
    potential: list[PodInfo] = []

    def remove(pi: PodInfo) -> None:
        node_info.remove_pod(pi.pod)
        s = fw.run_pre_filter_extension_remove_pod(state, pod, pi, node_info)
        if not is_success(s):
            raise SchedulerError(str(s.as_error()))

    def add(pi: PodInfo) -> None:
        node_info.add_pod_info(pi)
        s = fw.run_pre_filter_extension_add_pod(state, pod, pi, node_info)
        if not is_success(s):
            raise SchedulerError(str(s.as_error()))

    prio = pod_priority(pod)
    try:
        for pi in list(node_info.pods):
            if pod_priority(pi.pod) < prio:
                potential.append(pi)
                remove(pi)
        if not potential:
            return [], 0, Status(Code.UnschedulableAndUnresolvable, [NO_VICTIMS_MSG])
        s, _ = fw.run_filter_plugins_with_nominated_pods(state, pod, node_info)
        if not is_success(s):
            return [], 0, s
        victims: list[dict] = []
        num_violating = 0
        potential = _sort_more_important(potential)
        violating, non_violating = filter_pods_with_pdb_violation(potential, pdbs)

        def reprieve(pi: PodInfo) -> bool:
            add(pi)
            st, _ = fw.run_filter_plugins_with_nominated_pods(state, pod, node_info)
            if not is_success(st):
                remove(pi)
                victims.append(pi.pod)
                return False
            return True

        for pi in violating:
            if not reprieve(pi):
                num_violating += 1
        for pi in non_violating:
            reprieve(pi)
        if violating and non_violating:
            victims = _sort_more_important(victims)
        return victims, num_violating, None
    except SchedulerError as err:
        return [], 0, as_status(err)


def get_earliest_pod_start_time(victims: list[dict]) -> str | None:
    """The earliest start time among the highest-priority victims."""
    if not victims:
        return None
    earliest = pod_start_time(victims[0])
    max_prio = pod_priority(victims[0])
    for p in victims:
        pr = pod_priority(p)
        if pr == max_prio:
            earliest = min(earliest, pod_start_time(p))
        elif pr > max_prio:
            max_prio, earliest = pr, pod_start_time(p)
    return earliest


def pick_one_node_for_preemption(candidates: list[Candidate]) -> str:
    """Apply the criteria in order; a criterion is used only to break the previous one's tie."""
    if not candidates:
        return ""
    by_name = {c.name: c for c in candidates}

    def latest_start(name: str):
        t = get_earliest_pod_start_time(by_name[name].victims)
        return t if t is not None else ""

    score_funcs = [
        lambda n: -by_name[n].num_pdb_violations,
        lambda n: -pod_priority(by_name[n].victims[0]),
        lambda n: -sum(pod_priority(p) + MAX_INT32 + 1 for p in by_name[n].victims),
        lambda n: -len(by_name[n].victims),
        latest_start,
    ]
    names = [c.name for c in candidates]
    for f in score_funcs:
        scores = [(f(n), n) for n in names]
        best = max(s for s, _ in scores)
        names = [n for s, n in scores if s == best]
        if len(names) == 1:
            return names[0]
    return names[0]


def pod_terminating_by_preemption(pod: dict) -> bool:
    if not (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(c.get("type") == DISRUPTION_TARGET and c.get("reason") == REASON_PREEMPTION_BY_SCHEDULER
               for c in (pod.get("status") or {}).get("conditions") or [])


class Evaluator:
    """The preemption evaluator of one PostFilter call."""

    def __init__(self, plugin_name: str, fw, args: dict) -> None:
        self.plugin_name = plugin_name
        self.fw = fw
        self.args = args
        self.last_candidates: list[Candidate] = []

    def pod_eligible_to_preempt_others(self, pod: dict, nominated_status: Status | None) -> tuple[bool, str]:
        spec = pod.get("spec") or {}
        if spec.get("preemptionPolicy") == "Never":
            return False, "not eligible due to preemptionPolicy=Never."
        nom = (pod.get("status") or {}).get("nominatedNodeName")
        if nom:
            if nominated_status is not None and nominated_status.code == Code.UnschedulableAndUnresolvable:
                return True, ""
            for ni in self.fw.snapshot:
                if ni.name == nom:
                    prio = pod_priority(pod)
                    for p in ni.pods:
                        if pod_priority(p.pod) < prio and pod_terminating_by_preemption(p.pod):
                            return False, "not eligible due to a terminating pod on the nominated node."
        return True, ""

    def _pdbs(self) -> list[dict]:
        lister = getattr(self.fw, "list_objects", None)
        return list(lister("poddisruptionbudgets", None)) if lister is not None else []

    def find_candidates(self, state: CycleState, pod: dict, node_to_status):
        from k8slab.scheduler.algorithm import NodeToStatus
        all_nodes = self.fw.snapshot
        potential = node_to_status.nodes_for_status_code(all_nodes, Code.Unschedulable)
        if not potential:
            return [], NodeToStatus()
        pdbs = self._pdbs()
        rng = getattr(self.fw, "rng", None)
        offset = rng.randrange(len(potential)) if rng is not None else 0
        num_candidates = calculate_num_candidates(len(potential), self.args["minCandidateNodesPercentage"],
                                                  self.args["minCandidateNodesAbsolute"])
        non_violating: list[Candidate] = []
        violating: list[Candidate] = []
        statuses = NodeToStatus()
        for i in range(len(potential)):
            ni = potential[(offset + i) % len(potential)].snapshot()
            victims, n_viol, status = select_victims_on_node(self.fw, state.clone(), pod, ni, pdbs)
            if is_success(status) and victims:
                c = Candidate(ni.name, victims, n_viol)
                (non_violating if n_viol == 0 else violating).append(c)
                if non_violating and len(non_violating) + len(violating) >= num_candidates:
                    break
                continue
            if is_success(status):
                status = as_status(SchedulerError(f'expected at least one victim pod on node "{ni.name}"'))
            statuses.set(ni.name, status)
        return non_violating + violating, statuses

    def preempt(self, state: CycleState, pod: dict, node_to_status) -> tuple[PostFilterResult | None, Status]:
        from k8slab.scheduler.algorithm import FitError, Diagnosis
        nom = (pod.get("status") or {}).get("nominatedNodeName") or ""
        ok, msg = self.pod_eligible_to_preempt_others(pod, node_to_status.get(nom) if nom else None)
        if not ok:
            return None, Status(Code.Unschedulable, [msg])
        candidates, statuses = self.find_candidates(state, pod, node_to_status)
        self.last_candidates = candidates
        if not candidates:
            statuses.absent_nodes_status = Status(Code.UnschedulableAndUnresolvable, [NOT_HELPFUL_MSG])
            fit = FitError(pod, len(self.fw.snapshot), Diagnosis(node_to_status=statuses))
            return (PostFilterResult(NominatingInfo("", MODE_OVERRIDE)),
                    Status(Code.Unschedulable, [fit.error()]))
        best = pick_one_node_for_preemption(candidates)
        chosen = next(c for c in candidates if c.name == best)
        status = self.prepare_candidate(chosen, pod)
        if not is_success(status):
            return None, status
        return PostFilterResult(NominatingInfo(best, MODE_OVERRIDE)), Status(Code.Success)

    def prepare_candidate(self, c: Candidate, pod: dict) -> Status | None:
        """Mark and delete the victims; clear lower-priority nominations on the node."""
        client = self.fw.client
        if client is None:
            return None  # a pure run (no API): nothing to delete
        from k8slab.api import errors
        from k8slab.api.objects import deepcopy, rfc3339
        recorder = getattr(self.fw, "recorder", None)
        now = getattr(self.fw, "now", lambda: 0)()
        scheduler_name = (pod.get("spec") or {}).get("schedulerName") or "default-scheduler"
        for victim in c.victims:
            new = deepcopy(victim)
            conds = new.setdefault("status", {}).setdefault("conditions", [])
            cond = {"type": DISRUPTION_TARGET, "status": "True", "lastProbeTime": None,
                    "lastTransitionTime": rfc3339(now), "reason": REASON_PREEMPTION_BY_SCHEDULER,
                    "message": f"{scheduler_name}: preempting to accommodate a higher priority pod"}
            conds[:] = [x for x in conds if x.get("type") != DISRUPTION_TARGET] + [cond]
            meta = victim["metadata"]
            try:
                client.update_status("pods", new)
            except errors.StatusError:
                pass
            try:
                client.delete("pods", meta["name"], meta.get("namespace", "default"))
            except errors.StatusError as err:
                if err.code != 404:
                    return as_status(SchedulerError(str(err)))
            if recorder is not None:
                recorder.normal(victim, "Preempted", f"Preempted by pod {pod['metadata'].get('uid', '')} on node "
                                                     f"{c.name}")
        clear = getattr(self.fw, "clear_nominated_node_name", None)
        lower = getattr(self.fw, "lower_priority_nominated_pods", None)
        if clear is not None and lower is not None:
            for p in lower(pod, c.name):
                clear(p)
        return None
