"""Mirrors: cmd/kube-proxy/app/server.go, pkg/proxy/config/config.go (ServiceConfig, EndpointSliceConfig),
pkg/proxy/apis/config/validation/validation.go (the proxy mode) and pkg/util/async/bounded_frequency_runner.go.

kube-proxy runs on every node. It watches Services and EndpointSlices through the API server, records each change
in the proxier's change trackers, and runs ``sync_proxy_rules()`` no more often than ``--iptables-min-sync-period``
(1 s) allows, plus a periodic full resync (``--iptables-sync-period``, 30 s). ``--proxy-mode`` picks the proxier:
iptables (``k8slab.proxy.iptables``) or ipvs (``k8slab.proxy.ipvs``, with ``--ipvs-scheduler``). It never talks to
the pods or the control plane in any other way: what it writes are the node's kernel tables.

A simulated cluster passes the same ``SharedRuleCache`` to every KubeProxy so that the identical work of its nodes
is done once; each node still gets exactly the rules it would compute alone.
"""

from __future__ import annotations

from .iptables import Proxier, SharedRuleCache

NAME = "kube-proxy"
DEFAULT_IPVS_SCHEDULER = "rr"
MIN_SYNC_PERIOD_MS = 1000
SYNC_PERIOD_MS = 30_000
_VALID_PROXY_MODES = ("iptables", "ipvs", "nftables")


def validate_proxy_mode(mode: str) -> str:
    """pkg/proxy/apis/config/validation validateProxyModeLinux: "" means the default (iptables)."""
    if mode in ("",) + _VALID_PROXY_MODES:
        return mode or "iptables"
    raise ValueError(f'KubeProxyConfiguration.ProxyMode: Invalid value: "{mode}": must be '
                     f'{", ".join(_VALID_PROXY_MODES)} or blank (blank means the best-available proxy '
                     f'[currently iptables])')


# kube-proxy ignores EndpointSlices of headless Services and of Services handled by another proxy.
ENDPOINTSLICE_SELECTOR = "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name"


class KubeProxy:
    def __init__(self, loop, client, factory, node_name: str, node_ip: str, cluster_cidr: str, rng,
                 min_sync_period_ms: int = MIN_SYNC_PERIOD_MS, shared: SharedRuleCache | None = None,
                 mode: str = "iptables", ipvs_scheduler: str = DEFAULT_IPVS_SCHEDULER) -> None:
        self.loop = loop
        self.client = client
        self.node_name = node_name
        self.component = f"{NAME}/{node_name}"
        # --proxy-mode: "iptables" (the default) or "ipvs"; "nftables" is valid upstream but not modelled here.
        self.mode = validate_proxy_mode(mode)
        if self.mode == "nftables":
            raise ValueError("proxy mode nftables is valid in kube-proxy but not modelled by k8slab; "
                             "use iptables or ipvs")
        # ``shared``: one SharedRuleCache for all the kube-proxies of a simulated cluster (see k8slab.proxy.iptables).
        if self.mode == "ipvs":
            from .ipvs import IpvsProxier

            self.proxier = IpvsProxier(node_name, node_ip, cluster_cidr, scheduler=ipvs_scheduler, rng=rng,
                                       shared=shared)
        else:
            self.proxier = Proxier(node_name, node_ip, cluster_cidr, rng=rng, shared=shared)
        self.factory = factory
        self.min_sync_period_ms = min_sync_period_ms
        self.svc_informer = factory.informer("services", label_selector="!service.kubernetes.io/service-proxy-name")
        self.slice_informer = factory.informer("endpointslices", label_selector=ENDPOINTSLICE_SELECTOR)
        self.svc_informer.add_event_handler(lambda s: self._on_service_update(None, s), self._on_service_update,
                                            lambda s: self._on_service_update(s, None))
        # An EndpointSlice change reaches every node's kube-proxy: the handlers stay a few dict operations.
        self.slice_informer.add_event_handler(lambda s: self._on_slice_update(None, s), self._on_slice_update,
                                              lambda s: self._on_slice_update(s, None))
        self._timer = None
        self._last_sync_ms: int | None = None
        self.syncs = 0
        self.last_stats: dict = {}

    def start(self) -> None:
        self.factory.start()
        self._request_sync()
        self.loop.call_later(SYNC_PERIOD_MS, self._periodic, component=self.component,
                             label="periodic resync", background=True)

    def _on_service_update(self, old, new) -> None:
        if self.proxier.on_service_update(old, new):
            self._request_sync()

    def _on_slice_update(self, old, new) -> None:
        if self.proxier.on_endpoint_slice_update(old, new):
            self._request_sync()

    def _request_sync(self) -> None:
        """BoundedFrequencyRunner.Run: at most one sync per min-sync-period."""
        if self._timer is not None:
            return
        earliest = 0 if self._last_sync_ms is None else self._last_sync_ms + self.min_sync_period_ms
        self._schedule(max(0, earliest - self.loop.now))

    def _schedule(self, delay: int) -> None:
        self._timer = self.loop.call_later(delay, self.sync, component=self.component, label="syncProxyRules")

    def _periodic(self) -> None:
        if self._timer is None:
            self.sync()
        self.loop.call_later(SYNC_PERIOD_MS, self._periodic, component=self.component,
                             label="periodic resync", background=True)

    @property
    def pending_changes(self) -> bool:
        return bool(self.proxier._service_changes or self.proxier._endpoint_changes)

    def sync(self) -> None:
        self._timer = None
        self._last_sync_ms = self.loop.now
        stats = self.proxier.sync_proxy_rules(self.loop.now)
        self.syncs += 1
        self.last_stats = stats
        self.loop.emit(self.component, "sync_proxy_rules", f"nodes/{self.node_name}", stats, target=self.mode)

    # -- what learners look at --------------------------------------------------------------------------------------
    def iptables_save(self, table: str | None = None) -> str:
        return self.proxier.iptables_save(table)

    def walk(self, dst_ip: str, dst_port: int, protocol: str = "TCP", src_ip: str | None = None, rng=None,
             hook: str = "OUTPUT"):
        return self.proxier.walk(dst_ip, dst_port, protocol, src_ip, rng=rng, hook=hook, now_ms=self.loop.now)

    def trace_packet(self, src: str, dst: str, port: int, proto: str = "TCP", src_port: int | None = None):
        """Follow one packet of a flow through this node's tables (conntrack first); see k8slab.proxy.trace."""
        return self.proxier.trace_packet(src, dst, port, proto, src_port, now_ms=self.loop.now)

    def ipvsadm_ln(self) -> str:
        """``ipvsadm -Ln`` on this node (IPVS mode)."""
        return self._ipvs().ipvsadm_ln()

    def ipvsadm_lnc(self) -> str:
        """``ipvsadm -Lnc``: IPVS connection entries (IPVS mode)."""
        return self._ipvs().ipvsadm_lnc(self.loop.now)

    def ipset_list(self, name: str | None = None) -> str:
        """``ipset list`` on this node (IPVS mode)."""
        return self._ipvs().ipset_list(name)

    def ip_addr_show(self) -> str:
        """``ip addr show kube-ipvs0``: the Service addresses bound to the dummy interface (IPVS mode)."""
        return self._ipvs().ip_addr_show_dummy()

    def _ipvs(self):
        if self.mode != "ipvs":
            raise RuntimeError(f"kube-proxy on {self.node_name} runs in {self.mode} mode; "
                               'build the cluster with Cluster(..., proxy_mode="ipvs")')
        return self.proxier

    def conntrack(self) -> str:
        """``conntrack -L`` on this node."""
        return self.proxier.conntrack.listing(self.loop.now)
