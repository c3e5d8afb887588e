"""Mirrors: staging/src/k8s.io/api/networking/v1/types.go (the NetworkPolicy semantics its comments define),
kubernetes-sigs/kube-network-policies pkg/networkpolicy (the reference enforcement: evaluatePolicyDirection,
evaluateIPBlocks, evaluateSelectors, evaluatePorts) and test/e2e/network/netpol (the allow/deny cases).

The API server only stores NetworkPolicies; the pod network plugin enforces them (Calico, Cilium, ... ; flannel
alone does not). The rules, per direction:

- A pod is *isolated* for ingress (egress) when at least one policy in its namespace selects it with
  ``Ingress`` (``Egress``) in ``policyTypes``. A pod no policy selects accepts (sends) everything.
- Policies are additive allow-lists: a connection is allowed when any rule of any selecting policy matches it.
  No policy can deny what another allows; "deny" is only the absence of an allow.
- A rule matches when a peer matches (no ``from``/``to``: every peer) and a port matches (no ``ports``: every
  port). Peers: ``podSelector`` (pods of the policy's namespace), ``namespaceSelector`` (every pod of the matching
  namespaces), both in one peer (those pods in those namespaces: AND), or ``ipBlock`` (``cidr`` minus ``except``).
  Ports: number, number range (``port``..``endPort``) or a named container port of the destination pod.
- Both ends are checked: the source pod's egress and the destination pod's ingress must both allow.
- Policy applies to new connections; replies of an allowed connection pass (the plugin tracks connections).
- Two exceptions the API documents: a pod cannot block itself, and traffic between a pod and the node it runs on
  is always allowed (so the kubelet's probes keep working under a default deny).
- Policies see the packet after kube-proxy's DNAT: the destination is a pod IP and the target port, never the
  Service's ClusterIP and port.

Here ``ipBlock`` is matched against any address, pods included, as Calico does; the API leaves pod IPs in
ipBlock rules to the implementation (Cilium, for one, does not match pod IPs with CIDR rules by default).
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field

from ..api.objects import label_selector_as_selector

INGRESS, EGRESS = "Ingress", "Egress"


@dataclass
class Endpoint:
    """One end of a connection: a pod (with its labels and namespace labels) or a bare IP."""

    ip: str
    pod: dict | None = None
    namespace_labels: dict | None = None
    node: str | None = None  # for traffic a node itself sends: which node (its address may be cni0's or flannel.1's)

    @property
    def namespace(self) -> str | None:
        return self.pod["metadata"].get("namespace", "default") if self.pod else None

    @property
    def labels(self) -> dict:
        return (self.pod["metadata"].get("labels") or {}) if self.pod else {}

    def __str__(self) -> str:
        if self.pod:
            return f"{self.namespace}/{self.pod['metadata']['name']} ({self.ip})"
        return self.ip


@dataclass
class Verdict:
    """The decision for one direction at one pod."""

    direction: str
    pod: str
    allowed: bool
    isolated: bool
    selecting: list[str] = field(default_factory=list)  # policies that select the pod for this direction
    allowed_by: str | None = None                       # "ns/policy rule[i]" that allowed it

    def __str__(self) -> str:
        if not self.isolated:
            return f"{self.direction.lower()} at {self.pod}: allowed (no policy selects the pod)"
        if self.allowed:
            return f"{self.direction.lower()} at {self.pod}: allowed by {self.allowed_by}"
        return (f"{self.direction.lower()} at {self.pod}: denied (selected by {', '.join(self.selecting)}; "
                f"no rule allows it)")


def policy_types(policy: dict) -> list[str]:
    """``spec.policyTypes`` as defaulted: Ingress always, Egress when there are egress rules."""
    spec = policy.get("spec") or {}
    if spec.get("policyTypes"):
        return list(spec["policyTypes"])
    return [INGRESS] + ([EGRESS] if spec.get("egress") else [])


def selects(policy: dict, pod: dict) -> bool:
    """The policy's ``podSelector`` selects ``pod`` (same namespace; ``{}`` selects every pod)."""
    if policy["metadata"].get("namespace", "default") != pod["metadata"].get("namespace", "default"):
        return False
    sel = (policy.get("spec") or {}).get("podSelector")
    return label_selector_as_selector(sel if sel is not None else {}).matches(pod["metadata"].get("labels"))


@functools.lru_cache(maxsize=4096)
def _net(cidr: str):
    return ipaddress.ip_network(cidr, strict=False)


def _in_block(ip: str, block: dict) -> bool:
    addr = ipaddress.ip_address(ip)
    if addr not in _net(block["cidr"]):
        return False
    return not any(addr in _net(e) for e in block.get("except") or ())


def peer_matches(peer: dict, policy_ns: str, other: Endpoint) -> bool:
    """One ``NetworkPolicyPeer`` against the other end of the connection."""
    if peer.get("ipBlock") is not None:
        return _in_block(other.ip, peer["ipBlock"])
    if other.pod is None:
        return False  # pod and namespace selectors only ever match pods
    pod_sel, ns_sel = peer.get("podSelector"), peer.get("namespaceSelector")
    if ns_sel is None:
        if other.namespace != policy_ns:
            return False
    elif not label_selector_as_selector(ns_sel).matches(other.namespace_labels or {}):
        return False
    if pod_sel is not None and not label_selector_as_selector(pod_sel).matches(other.labels):
        return False
    return True


def _named_port(pod: dict | None, name: str, protocol: str) -> int | None:
    if pod is None:
        return None
    for c in (pod.get("spec") or {}).get("containers") or ():
        for p in c.get("ports") or ():
            if p.get("name") == name and p.get("protocol", "TCP") == protocol:
                return p["containerPort"]
    return None


def port_matches(ports: list | None, port: int, protocol: str, dst_pod: dict | None) -> bool:
    """``ports`` of a rule against the destination port; named ports resolve on the destination pod."""
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        want = p.get("port")
        if want is None:
            return True
        if isinstance(want, str):
            if _named_port(dst_pod, want, protocol) == port:
                return True
            continue
        if want == port or (p.get("endPort") is not None and want <= port <= p["endPort"]):
            return True
    return False


def evaluate_direction(policies: list[dict], pod_end: Endpoint, other: Endpoint, direction: str, port: int,
                       protocol: str, dst_pod: dict | None) -> Verdict:
    """Whether ``pod_end`` may receive from (Ingress) or send to (Egress) ``other`` on ``port``/``protocol``."""
    pod = pod_end.pod
    name = f"{pod_end.namespace}/{pod['metadata']['name']}"
    selecting = [p for p in policies if direction in policy_types(p) and selects(p, pod)]
    if not selecting:
        return Verdict(direction, name, True, False)
    sel_names = [f"{p['metadata'].get('namespace', 'default')}/{p['metadata']['name']}" for p in selecting]
    if other.pod is not None and other.pod["metadata"].get("uid") == pod["metadata"].get("uid") and \
            other.namespace == pod_end.namespace and other.pod["metadata"]["name"] == pod["metadata"]["name"]:
        return Verdict(direction, name, True, True, sel_names, "the pod itself (a pod cannot block itself)")
    if other.pod is None and ((other.node is not None and other.node == (pod.get("spec") or {}).get("nodeName"))
                              or (other.ip and other.ip == (pod.get("status") or {}).get("hostIP"))):
        return Verdict(direction, name, True, True, sel_names, "its own node (always allowed)")
    key, peers_key = ("ingress", "from") if direction == INGRESS else ("egress", "to")
    for p in selecting:
        ns = p["metadata"].get("namespace", "default")
        for i, rule in enumerate((p.get("spec") or {}).get(key) or ()):
            peers = rule.get(peers_key)
            if peers and not any(peer_matches(peer, ns, other) for peer in peers):
                continue
            if not port_matches(rule.get("ports"), port, protocol, dst_pod):
                continue
            return Verdict(direction, name, True, True, sel_names, f"{ns}/{p['metadata']['name']} {key}[{i}]")
    return Verdict(direction, name, False, True, sel_names)


def evaluate(policies: list[dict], src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP") -> list[Verdict]:
    """Egress at the source pod, then ingress at the destination pod (either left out when that end is not a pod).
    The connection is allowed when every verdict allows it."""
    out = []
    if src.pod is not None:
        out.append(evaluate_direction(policies, src, dst, EGRESS, port, protocol, dst.pod))
    if dst.pod is not None:
        out.append(evaluate_direction(policies, dst, src, INGRESS, port, protocol, dst.pod))
    return out


def reachability(policies: list[dict], pods: list[dict], namespace_labels: dict[str, dict], port: int,
                 protocol: str = "TCP") -> dict[tuple[str, str], bool]:
    """Every pod to every pod on ``port``/``protocol``: ``{("ns/from", "ns/to"): allowed}``, as the e2e suite's
    Reachability table (test/e2e/network/netpol/reachability.go). A pod reaching its own IP always connects: the
    packet goes over ``lo`` inside the pod's network namespace and never meets the policy (the suite's
    ``AllowLoopback``)."""
    ends = {}
    for p in pods:
        ns = p["metadata"].get("namespace", "default")
        ends[f"{ns}/{p['metadata']['name']}"] = Endpoint((p.get("status") or {}).get("podIP", ""), p,
                                                         namespace_labels.get(ns, {}))
    by_ns: dict[str, list[dict]] = {}
    for p in policies:
        by_ns.setdefault(p["metadata"].get("namespace", "default"), []).append(p)
    out = {}
    for a, ea in ends.items():
        src_pols = by_ns.get(ea.namespace, [])
        for b, eb in ends.items():
            if a == b:
                out[(a, b)] = True
                continue
            out[(a, b)] = (evaluate_direction(src_pols, ea, eb, EGRESS, port, protocol, eb.pod).allowed and
                           evaluate_direction(by_ns.get(eb.namespace, []), eb, ea, INGRESS, port, protocol,
                                              eb.pod).allowed)
    return out


def truth_table(matrix: dict[tuple[str, str], bool]) -> str:
    """The table the e2e suite prints: ``.`` connected, ``X`` blocked; rows are sources, columns destinations."""
    names = list(dict.fromkeys(a for a, _ in matrix))
    lines = ["-\t" + "\t".join(names)]
    for a in names:
        lines.append(a + "\t" + "\t".join("." if matrix[(a, b)] else "X" for b in names))
    return "\n".join(lines) + "\n"
