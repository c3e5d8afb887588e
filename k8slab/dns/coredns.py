"""Mirrors: coredns/coredns plugin/kubernetes (kubernetes.go, xfr.go, parse.go, controller.go) and the resolv.conf
the kubelet writes for ``dnsPolicy: ClusterFirst`` pods (pkg/kubelet/network/dns/dns.go).

CoreDNS is the cluster's DNS server, running as the ``coredns`` Deployment behind the ``kube-dns`` Service
(10.96.0.10). Its kubernetes plugin watches Services and EndpointSlices (and Namespaces) like any controller and
answers from that cache:

- ``<service>.<namespace>.svc.cluster.local``: A record with the ClusterIP; for a headless Service, one A record
  per ready endpoint.
- ``_<port>._<protocol>.<service>.<namespace>.svc.cluster.local``: SRV records for named ports.
- ``<a-b-c-d>.<namespace>.pod.cluster.local``: A record for a pod IP (``pods insecure``).
- ``<hostname>.<service>.<namespace>.svc.cluster.local``: one endpoint (of any Service), named by the pod's
  ``spec.hostname`` when its ``spec.subdomain`` is the Service (the EndpointSlice carries it), else its dashed IP.
- A name that matches nothing is NXDOMAIN (a headless Service with no ready endpoint too); a name that exists
  but has no record of the asked type is NOERROR with no answer (NODATA).
- An SRV query without ``_port._proto`` lists every port; records of one priority share the weight: each of n
  gets 100/n, rounded down (plugin/backend_lookup.go).
- PTR records in ``in-addr.arpa`` for ClusterIPs and endpoint IPs.

A pod's resolver tries its search list first when a name has fewer than ``ndots`` (5) dots, so ``web`` from
namespace ``default`` becomes ``web.default.svc.cluster.local`` on the first query.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NAME = "coredns"
CLUSTER_DOMAIN = "cluster.local"
NDOTS = 5
DNS_TTL = 5  # the kubernetes plugin's default ttl
KUBEADM_TTL = 30  # kubeadm's Corefile sets "ttl 30" in the kubernetes block

# kubeadm's CoreDNS ConfigMap (cmd/kubeadm/app/phases/addons/dns/manifests.go), for the cluster domain
COREFILE = """.:53 {{
    errors
    health {{
       lameduck 5s
    }}
    ready
    kubernetes {domain} in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl {ttl}
    }}
    prometheus :9153
    forward . /etc/resolv.conf {{
       max_concurrent 1000
    }}
    cache 30 {{
       disable success {domain}
       disable denial {domain}
    }}
    loop
    reload
    loadbalance
}}
"""


@dataclass
class Record:
    name: str
    type: str
    value: str
    ttl: int = DNS_TTL

    def __str__(self) -> str:
        return f"{self.name}.\t{self.ttl}\tIN\t{self.type}\t{self.value}"


@dataclass
class Query:
    name: str
    qtype: str
    rcode: str
    answers: list[Record] = field(default_factory=list)


@dataclass
class Lookup:
    """A resolver's lookup of one name: every query it sent, in order, and the answer it kept."""

    name: str
    qtype: str
    queries: list[Query] = field(default_factory=list)

    @property
    def answer(self) -> Query | None:
        for q in self.queries:
            if q.rcode == "NOERROR" and q.answers:
                return q
        return None

    @property
    def addresses(self) -> list[str]:
        a = self.answer
        return [r.value for r in a.answers if r.type == "A"] if a else []

    def __str__(self) -> str:
        lines = [f"{q.name} {q.qtype}: {q.rcode}" + "".join(f"\n  {r}" for r in q.answers) for q in self.queries]
        return "\n".join(lines)


def resolv_conf(namespace: str, nameserver: str, cluster_domain: str = CLUSTER_DOMAIN) -> str:
    """The /etc/resolv.conf the kubelet writes for a ClusterFirst pod."""
    search = f"{namespace}.svc.{cluster_domain} svc.{cluster_domain} {cluster_domain}"
    return f"search {search}\nnameserver {nameserver}\noptions ndots:{NDOTS}\n"


def search_candidates(name: str, namespace: str, cluster_domain: str = CLUSTER_DOMAIN, ndots: int = NDOTS) -> list[str]:
    """The names a glibc/musl resolver queries, in order, for ``name`` with the pod's search list."""
    if name.endswith("."):
        return [name[:-1]]
    search = [f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain]
    expanded = [f"{name}.{s}" for s in search]
    if name.count(".") >= ndots:
        return [name] + expanded
    return expanded + [name]


def srv_weight(n: int) -> int:
    """The weight of each of ``n`` SRV records of one priority (plugin/backend_lookup.go: 100 / n, rounded down)."""
    return int(100.0 / (100 * n) * 100) if n else 100


def reverse_name(ip: str) -> str:
    """``1.0.96.10.in-addr.arpa`` for ``10.96.0.1``."""
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


class CoreDNS:
    """The kubernetes plugin's view of the cluster and its answers."""

    def __init__(self, loop, client, factory, cluster_domain: str = CLUSTER_DOMAIN,
                 service_ip: str = "10.96.0.10", ttl: int = KUBEADM_TTL) -> None:
        self.loop = loop
        self.client = client
        self.cluster_domain = cluster_domain
        self.service_ip = service_ip
        self.ttl = ttl
        self.svc_informer = factory.informer("services")
        self.slice_informer = factory.informer("endpointslices")
        self.ns_informer = factory.informer("namespaces")
        self.slice_informer.add_indexer("service", lambda s: [
            f"{s['metadata']['namespace']}/{(s['metadata'].get('labels') or {}).get('kubernetes.io/service-name', '')}"])
        self.queries = 0

    def start(self) -> None:
        pass

    def corefile(self) -> str:
        """The Corefile this server runs with (kubeadm's default)."""
        return COREFILE.format(domain=self.cluster_domain, ttl=self.ttl)

    def query(self, name: str, qtype: str = "A") -> Query:
        """Answer one DNS question (no search list)."""
        self.queries += 1
        name = name.rstrip(".").lower()
        q = self._answer(name, qtype.upper())
        for r in q.answers:
            r.ttl = self.ttl
        self.loop.emit(NAME, "dns.query", name, {"qtype": q.qtype, "rcode": q.rcode,
                                                 "answers": [r.value for r in q.answers]})
        return q

    def resolve(self, name: str, qtype: str = "A", namespace: str = "default") -> Lookup:
        """Resolve ``name`` as a pod in ``namespace`` would: through its search list, ndots:5."""
        lookup = Lookup(name, qtype.upper())
        for cand in search_candidates(name, namespace, self.cluster_domain):
            q = self.query(cand, qtype)
            lookup.queries.append(q)
            if q.rcode == "NOERROR" and q.answers:
                break
        return lookup

    def _answer(self, name: str, qtype: str) -> Query:
        zone = self.cluster_domain
        if name.endswith(".in-addr.arpa"):
            return self._ptr_answer(name, qtype)
        if not name.endswith("." + zone):
            # CoreDNS forwards other names to the node's resolver; the model has no outside world.
            return Query(name, qtype, "NXDOMAIN")
        labels = name[: -len(zone) - 1].split(".")
        if len(labels) >= 2 and labels[-1] == "svc":
            return self._service_answer(name, labels[:-1], qtype)
        if len(labels) == 3 and labels[-1] == "pod":
            ip = labels[0].replace("-", ".")
            if self.ns_informer.get(labels[1]) is None:
                return Query(name, qtype, "NXDOMAIN")
            return Query(name, qtype, "NOERROR", [Record(name, "A", ip)] if qtype == "A" else [])
        return Query(name, qtype, "NXDOMAIN")

    def _ready_endpoints(self, ns: str, svc: str) -> list[tuple[dict, dict]]:
        out = []
        for s in self.slice_informer.by_index("service", f"{ns}/{svc}"):
            for ep in s.get("endpoints") or ():
                if (ep.get("conditions") or {}).get("ready", True):
                    out.append((ep, s))
        return out

    def find_services(self, ns: str, svc_name: str, endpoint: str = "", port: str = "",
                      protocol: str = "") -> list[tuple[str, int, str]] | None:
        """plugin/kubernetes findServices: ``(ip, port, target name)`` per match, None when nothing matches
        (NXDOMAIN). An empty ``port``/``protocol`` matches every port (matchPortAndProtocol); a headless Service, or
        a query naming an endpoint, answers from the ready endpoints, each named by ``endpointHostname``."""
        svc = self.svc_informer.get(f"{ns}/{svc_name}")
        if svc is None or (svc.get("spec") or {}).get("type") == "ExternalName":
            return None
        spec = svc.get("spec") or {}
        zone = self.cluster_domain

        def match(want: str, have: str) -> bool:
            return want == "" or want.lower() == (have or "").lower()

        out = []
        if spec.get("clusterIP") == "None" or endpoint:
            for ep, sl in self._ready_endpoints(ns, svc_name):
                for addr in ep.get("addresses") or ():
                    host = ep.get("hostname") or addr.replace(".", "-")
                    if endpoint and endpoint.lower() != host.lower():
                        continue
                    for p in sl.get("ports") or ():
                        if match(port, p.get("name", "")) and match(protocol, p.get("protocol", "TCP")):
                            out.append((addr, p["port"], f"{host}.{svc_name}.{ns}.svc.{zone}."))
            return out or None
        for p in spec.get("ports") or ():
            if match(port, p.get("name", "")) and match(protocol, p.get("protocol", "TCP")):
                for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                    out.append((ip, p["port"], f"{svc_name}.{ns}.svc.{zone}."))
        return out or None

    def _service_answer(self, name: str, labels: list[str], qtype: str) -> Query:
        """plugin/kubernetes parse.go: ``[_port._protocol.]service.namespace.svc`` or
        ``endpoint.service.namespace.svc``; then the A or SRV answer of plugin/backend_lookup.go."""
        # labels (zone and "svc" removed): [ns], [svc, ns], [endpoint, svc, ns] or [_port, _proto, svc, ns]
        if len(labels) == 1:
            return Query(name, qtype, "NOERROR" if self.ns_informer.get(labels[0]) else "NXDOMAIN")
        ns, svc_name = labels[-1], labels[-2]
        endpoint = port = protocol = ""
        if len(labels) == 4:
            if not (labels[0].startswith("_") and labels[1].startswith("_")):
                return Query(name, qtype, "NXDOMAIN")
            port, protocol = labels[0][1:], labels[1][1:]
        elif len(labels) == 3:
            endpoint = labels[0]
        elif len(labels) > 4:
            return Query(name, qtype, "NXDOMAIN")
        svc = self.svc_informer.get(f"{ns}/{svc_name}")
        spec = (svc or {}).get("spec") or {}
        if spec.get("type") == "ExternalName" and len(labels) == 2:
            return Query(name, qtype, "NOERROR", [Record(name, "CNAME", spec.get("externalName", "") + ".")])
        found = self.find_services(ns, svc_name, endpoint, port, protocol)
        if found is None:
            return Query(name, qtype, "NXDOMAIN")
        if qtype == "A":
            ips = list(dict.fromkeys(ip for ip, _, _ in found if "." in ip))
            return Query(name, qtype, "NOERROR", [Record(name, "A", ip) for ip in ips])
        if qtype == "SRV":
            weight = srv_weight(len(found))
            seen, recs = set(), []
            for _, p, target in sorted(found, key=lambda f: (f[2], f[1])):
                if (target, p) not in seen:
                    seen.add((target, p))
                    recs.append(Record(name, "SRV", f"0 {weight} {p} {target}"))
            return Query(name, qtype, "NOERROR", recs)
        return Query(name, qtype, "NOERROR")  # the name exists: no data of this type

    def _ptr_answer(self, name: str, qtype: str) -> Query:
        """PTR records (the default Corefile's ``kubernetes cluster.local in-addr.arpa ip6.arpa``): a ClusterIP
        gives the Service's name, an endpoint IP ``<hostname or dashed IP>.<service>.<ns>.svc.<zone>``."""
        octets = name[: -len(".in-addr.arpa")].split(".")
        if len(octets) != 4:
            return Query(name, qtype, "NXDOMAIN")
        ip = ".".join(reversed(octets))
        targets = []
        for svc in self.svc_informer.list():
            md, spec = svc["metadata"], svc.get("spec") or {}
            if ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]):
                targets.append(f"{md['name']}.{md['namespace']}.svc.{self.cluster_domain}.")
        for s in self.slice_informer.list():
            svc_name = (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name", "")
            for ep in s.get("endpoints") or ():
                if ip in ep.get("addresses", ()):
                    host = ep.get("hostname") or ip.replace(".", "-")
                    targets.append(f"{host}.{svc_name}.{s['metadata']['namespace']}.svc.{self.cluster_domain}.")
        if not targets:
            return Query(name, qtype, "NXDOMAIN")
        if qtype != "PTR":
            return Query(name, qtype, "NOERROR")
        return Query(name, qtype, "NOERROR", [Record(name, "PTR", t) for t in sorted(set(targets))])
