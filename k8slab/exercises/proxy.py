"""Mirrors: (no upstream file) the exercises of notebooks/07-kube-proxy.ipynb.

Each check derives the right answer from the model: the learner's cluster when given (``cluster=c``), otherwise the
notebook's cluster rebuilt from the same seed; the scheduler and cost questions use the kernel schedulers and
``k8slab.proxy.lab`` directly.
"""

from __future__ import annotations

from .core import Exercise, register

_CACHE: dict = {}

STICKY = """\
apiVersion: v1
kind: Service
metadata:
  name: web-sticky
spec:
  selector:
    app: web
  sessionAffinity: ClientIP
  ports:
  - name: http
    port: 80
    targetPort: http
"""

# 07.1: the two random numbers the kernel draws for the -m statistic rules
DRAWS = (0.62, 0.41)
CLIENT = "10.244.1.99"
# 07.3: real servers in the kernel's list order: (address, weight, active, inactive)
REAL_SERVERS = (("10.244.1.5", 1, 1, 10), ("10.244.2.5", 1, 0, 300), ("10.244.3.5", 1, 1, 0))
# 07.4
COST_SERVICES = 200


def _cluster(cluster=None, sticky: bool = False):
    if cluster is not None:
        return cluster
    key = ("07", sticky)
    if key not in _CACHE:
        from ..examples import tour_cluster

        c = tour_cluster()
        if sticky:
            c.apply(STICKY)
            c.settle()
        _CACHE[key] = c
    return _CACHE[key]


class _Draws:
    """A stand-in for the kernel's random numbers: returns the given draws in order."""

    def __init__(self, values):
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0) if self.values else 0.999


# -- 07.1 ---------------------------------------------------------------------------------------------------------

def sep_for_draws(cluster=None, draws=DRAWS):
    c = _cluster(cluster)
    kp = c.node("node-1").kube_proxy
    if kp.mode != "iptables":
        raise ValueError("07.1 is about iptables mode; check it against an iptables-mode cluster")
    ip = c.get("service", "web")["spec"]["clusterIP"]
    walk = kp.proxier.walk(ip, 80, "TCP", src_ip=CLIENT, rng=_Draws(draws), hook="PREROUTING", now_ms=c.now)
    return walk, kp


def _check_sep(answer, cluster):
    walk, kp = sep_for_draws(cluster)
    if not isinstance(answer, str) or not answer.strip():
        return False, "answer with the chain's name, e.g. 'KUBE-SEP-ABCDEFGHIJKLMNOP'"
    answer = answer.strip()
    svc_chain = next(c for c in walk.chains if c.startswith("KUBE-SVC-"))
    seps = [r.target for r in kp.proxier.rules("nat", svc_chain) if (r.target or "").startswith("KUBE-SEP-")]
    if answer == walk.sep_chain:
        return True, (f"the first rule matches only if the draw is below 0.3333333333 ({DRAWS[0]} is not); the "
                      f"second only if it is below 0.5000000000 ({DRAWS[1]} is): {answer}, DNAT to {walk.endpoint}.")
    if answer not in seps:
        return False, (f"{answer} is not one of the KUBE-SEP chains {svc_chain} jumps to: "
                       f"{', '.join(seps)}. Read them with kp.iptables_save('nat').")
    k = seps.index(answer)
    if k == 0:
        return False, f"the first rule needs a draw below 0.3333333333, and {DRAWS[0]} is not below it."
    if k == len(seps) - 1:
        return False, "the last rule has no statistic match, but a rule before it already matched."
    return False, "each rule draws its own number; check every rule in order against its probability."


register(Exercise(
    "07.1", "Which KUBE-SEP chain will this packet take?",
    f"A pod on node-1 ({CLIENT}) opens a new connection to the web Service. The kernel draws {DRAWS[0]} for the "
    f"first '-m statistic' rule it meets and {DRAWS[1]} for the second. Which KUBE-SEP chain does the packet take?",
    _check_sep,
    ["Find the web Service's KUBE-SVC chain: kp.rules('nat', chain) lists its rules in order.",
     "'--probability p' matches when the draw is below p; a rule that does not match passes to the next one.",
     "The first probability is 1/3, the second 1/2 of what is left; the last rule always matches."]))


# -- 07.2 ---------------------------------------------------------------------------------------------------------

def sticky_rule(cluster=None):
    c = _cluster(cluster, sticky=cluster is None)
    kp = c.node("node-1").kube_proxy
    for line in kp.iptables_save("nat").splitlines():
        if "default/web-sticky" in line and "--rcheck" in line:
            from ..proxy.iptables import parse_rule

            return parse_rule("nat", line)
    raise LookupError("no '-m recent --rcheck' rule for default/web-sticky: apply k8slab.exercises.proxy.STICKY "
                      "and settle first")


def _check_sticky(answer, cluster):
    rule = sticky_rule(cluster)
    if not isinstance(answer, (list, tuple)) or len(answer) != 2:
        return False, "answer with a pair: (match module, seconds), e.g. ('conntrack', 60)"
    module, seconds = str(answer[0]).strip().lower(), answer[1]
    if module in ("statistic", "conntrack", "comment", "mark", "addrtype"):
        return False, (f"'-m {module}' does not remember clients. Look at the rules that come before the "
                       "statistic rules in web-sticky's KUBE-SVC chain.")
    if module != "recent":
        return False, f"there is no '-m {module}' in web-sticky's chains."
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return False, "the timeout is a number of seconds"
    if seconds != rule.recent["seconds"]:
        return False, ("right module; the timeout is the '--seconds' of the --rcheck rule "
                       "(sessionAffinityConfig.clientIP.timeoutSeconds, default 3 hours).")
    return True, (f"'-m recent --name KUBE-SEP-… --set' records the client's IP in the SEP chain it took; "
                  f"'--rcheck --seconds {seconds} --reap' in the SVC chain sends it back there for "
                  f"{seconds} s ({seconds // 3600} h) after its last new connection.")


register(Exercise(
    "07.2", "Why does this client always reach the same pod?",
    "Apply the web-sticky Service (sessionAffinity: ClientIP) and settle. Every new connection from one client "
    "lands on the same pod. Which iptables match module remembers the client, and for how many seconds? Answer "
    "(module, seconds).",
    _check_sticky,
    ["Print the nat rules that mention default/web-sticky.",
     "The rules before the '-m statistic' ones in the KUBE-SVC chain are checked first.",
     "Look for '--rcheck --seconds'."]))


# -- 07.3 ---------------------------------------------------------------------------------------------------------

def scheduler_picks(real_servers=REAL_SERVERS) -> dict:
    from ..proxy.ipvs_schedulers import SCHEDULERS, Dest

    out = {}
    for name in ("rr", "lc", "sed", "nq"):
        dests = []
        for addr, w, a, i in real_servers:
            d = Dest(addr, 80, w)
            d.activeconns, d.inactconns = a, i
            dests.append(d)
        out[name] = SCHEDULERS[name]().schedule(dests, CLIENT, "10.96.0.100").address
    return out


def _check_schedulers(answer, cluster):
    want = scheduler_picks()
    if not isinstance(answer, dict) or not {"lc", "sed"} <= set(answer):
        return False, "answer with a dict: {'lc': '<address>', 'sed': '<address>'}"
    got = {k: str(v).strip() for k, v in answer.items()}
    if got["lc"] != want["lc"]:
        return False, ("lc: the overhead is activeconns*256 + inactconns (include/net/ip_vs.h), "
                       "the least overhead wins and a tie keeps the earlier server.")
    if got["sed"] != want["sed"]:
        return False, ("sed: the expected delay is (activeconns + 1) / weight; inactive connections do not count "
                       "at all.")
    return True, (f"lc picks {want['lc']} (256 beats 266 and 300: one active counts as 256 inactive); sed picks "
                  f"{want['sed']} (1 against 2 and 2). nq would pick {want['nq']} too: it takes an idle server at "
                  "once.")


register(Exercise(
    "07.3", "Least connection against shortest expected delay",
    "Three real servers, in the kernel's list order, all weight 1: 10.244.1.5 (1 active, 10 inactive), "
    "10.244.2.5 (0 active, 300 inactive), 10.244.3.5 (1 active, 0 inactive). Which one does the next connection "
    "go to with the lc scheduler, and with sed? Answer {'lc': address, 'sed': address}.",
    _check_schedulers,
    ["ip_vs_lc.c uses ip_vs_dest_conn_overhead(); ip_vs_sed.c has its own overhead function.",
     "lc: (active << 8) + inactive. sed: active + 1, divided by the weight.",
     "Compute the three overheads for each scheduler; the smallest wins."]))


# -- 07.4 ---------------------------------------------------------------------------------------------------------

def cost_answer(services: int = COST_SERVICES) -> tuple:
    from ..proxy import lab

    last = lab.cluster_ip(services - 1)
    out = []
    for kind in ("iptables", "rr"):
        p = lab.build(kind, services, 1)
        out.append(p.trace_packet("10.244.1.2", last, 80).rules_evaluated)
    return tuple(out)


def _check_cost(answer, cluster):
    want = cost_answer()
    if not isinstance(answer, (list, tuple)) or len(answer) != 2:
        return False, "answer with a pair of numbers: (iptables mode, IPVS mode)"
    try:
        ipt, ipvs = int(answer[0]), int(answer[1])
    except (TypeError, ValueError):
        return False, "both counts are whole numbers of rules"
    if ipvs != want[1]:
        return False, ("IPVS mode: count every rule trace_packet lists with table nat or filter (the IPVS lookup "
                       "itself is not a rule); it does not depend on the number of Services.")
    if ipt != want[0]:
        return False, (f"iptables mode: KUBE-SERVICES has one rule per Service port and the packet is compared with "
                       f"each until its own, {COST_SERVICES} Services in; count with t.rules_evaluated.")
    return True, (f"{want[0]} rules in iptables mode against {want[1]} in IPVS mode: iptables compares the packet "
                  "with the Services one by one, IPVS finds its virtual server with a hash lookup.")


register(Exercise(
    "07.4", "What a packet costs",
    f"On a node with {COST_SERVICES} Services of one endpoint each (k8slab.proxy.lab.build), how many iptables "
    f"rules does the first packet of a new connection to the last Service "
    f"(lab.cluster_ip({COST_SERVICES - 1}), port 80) evaluate in iptables mode, and in IPVS mode? Answer "
    "(iptables, ipvs).",
    _check_cost,
    [f"p = lab.build('iptables', {COST_SERVICES}, 1); t = p.trace_packet('10.244.1.2', lab.cluster_ip("
     f"{COST_SERVICES - 1}), 80)",
     "t.rules_evaluated counts the rules met; do the same with lab.build('rr', ...) for IPVS mode.",
     "In iptables mode most of them are the KUBE-SERVICES rules of the other Services."]))


# -- 07.5 ---------------------------------------------------------------------------------------------------------

def drain_scenario():
    """IPVS mode: one open connection to each web pod from node-1, then web is scaled from 3 to 2 replicas.

    Returns (kube-proxy on node-1, the drained real server, its connection's trace after the scale-down)."""
    if "drain" not in _CACHE:
        from ..cluster import Cluster
        from ..examples import NGINX

        c = Cluster(nodes=3, seed=0, proxy_mode="ipvs")
        c.apply(NGINX)
        c.settle()
        kp = c.node("node-1").kube_proxy
        ip = c.get("service", "web")["spec"]["clusterIP"]
        opened = {kp.trace_packet(c.node("node-1").ip, ip, 80, src_port=50000 + k).dnat: 50000 + k for k in range(3)}
        c.scale("deployment", "web", 2)
        c.settle()
        vs = kp.proxier.virtual_servers[("TCP", ip, 80)]
        drained = next(d for d in vs.dests if d.weight == 0)
        again = kp.trace_packet(c.node("node-1").ip, ip, 80, src_port=opened[drained.endpoint])
        _CACHE["drain"] = (kp, drained, again)
    return _CACHE["drain"]


def _check_drain(answer, cluster):
    kp, drained, again = drain_scenario()
    if not isinstance(answer, (list, tuple)) or len(answer) != 2:
        return False, "answer with a pair: (weight, True or False)"
    weight, reaches = answer
    try:
        weight = int(weight)
    except (TypeError, ValueError):
        return False, "the weight is a whole number (ipvsadm's Weight column)"
    if weight != drained.weight:
        return False, ("kube-proxy does not delete a real server that still has connections: its graceful "
                       "termination sets the weight so that no new connection is scheduled to it.")
    if bool(reaches) != (again.dnat == drained.endpoint):
        return False, ("look the open connection up in the IPVS connection table (ipvsadm -Lnc): its packets "
                       "follow the entry, not the scheduler.")
    return True, (f"{drained.endpoint} stays with weight 0 (quiesced) while its connection lives; the connection "
                  "keeps going there through the IPVS connection table, and the real server is deleted once its "
                  "active and inactive counts reach 0.")


register(Exercise(
    "07.5", "Draining a real server",
    "In IPVS mode, node-1 holds one open connection to each of web's 3 pods; then web is scaled to 2 replicas. "
    "What Weight does ipvsadm -Ln show for the real server of the removed pod, and does the open connection to "
    "it still reach it? Answer (weight, True/False).",
    _check_drain,
    ["Build the scenario: Cluster(nodes=3, seed=0, proxy_mode='ipvs'), open connections with "
     "kp.trace_packet(node_ip, web_ip, 80, src_port=...), scale, settle, then kp.ipvsadm_ln().",
     "Upstream: pkg/proxy/ipvs/graceful_termination.go.",
     "Send a packet again with the same src_port and look at conntrack / dnat."]))
