"""Mirrors: containernetworking/plugins plugins/main/bridge/bridge.go, pkg/ip/link_linux.go (RandomVethName),
containerd internal/cri/server/sandbox_run.go (setupPodNetwork) and the CNI SPEC (result format, version 1.0.0).

The pod network on one node. containerd (not the kubelet) runs the CNI plugin when it creates a pod sandbox:
``ADD`` creates a veth pair, puts one end into the sandbox's network namespace as ``eth0``, attaches the other
end (``veth`` + 8 hex digits) to the ``cni0`` bridge, and asks the IPAM plugin (host-local) for an address in the
node's podCIDR, with the bridge (``.1``) as gateway and default route. ``DEL`` undoes it and frees the IP.

Until the node IPAM controller has set ``node.spec.podCIDR`` there is no network configuration: the plugin is
"not initialized", the runtime reports ``NetworkReady=false`` and the kubelet keeps its Node ``NotReady``.
"""

from __future__ import annotations

import random

from .ipam import HostLocalIPAM, IPAMError

CNI_VERSION = "1.0.0"
NOT_INITIALIZED = "cni plugin not initialized"


class CNIError(Exception):
    """A CNI error result (``{"cniVersion", "code", "msg", "details"}``)."""

    def __init__(self, msg: str, code: int = 999, details: str = "") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details

    def result(self) -> dict:
        out = {"cniVersion": CNI_VERSION, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out


def _mac(rng: random.Random) -> str:
    """A random locally administered unicast MAC address."""
    b = [rng.randrange(256) for _ in range(6)]
    b[0] = (b[0] & 0xFC) | 0x02
    return ":".join(f"{x:02x}" for x in b)


class BridgePlugin:
    """The ``bridge`` CNI plugin with ``host-local`` IPAM, as configured for one node."""

    def __init__(self, node_name: str, loop, bridge: str = "cni0", rng: random.Random | None = None,
                 network: str = "cbr0") -> None:
        self.node_name = node_name
        self.loop = loop
        self.bridge = bridge
        self.network = network
        self.rng = rng if rng is not None else random.Random(f"cni/{node_name}")
        self.pod_cidr: str | None = None
        self.ipam: HostLocalIPAM | None = None
        self.bridge_mac = _mac(self.rng)
        self.attachments: dict[str, dict] = {}  # container (sandbox) id -> ADD result
        self.bridge_up = False  # cni0 is created by the first ADD (ensureBridge) and stays

    @property
    def component(self) -> str:
        return f"cni/{self.node_name}"

    # -- configuration ----------------------------------------------------------------------------------------
    def set_pod_cidr(self, cidr: str) -> None:
        """Write the network configuration for ``cidr`` (what a CNI daemonset does once the node has a podCIDR)."""
        if cidr == self.pod_cidr:
            return
        self.pod_cidr = cidr
        self.ipam = HostLocalIPAM(cidr, network=self.network)

    @property
    def initialized(self) -> bool:
        return self.ipam is not None

    def network_config(self) -> dict | None:
        """The network configuration list, as in ``/etc/cni/net.d/10-<network>.conflist``."""
        if self.ipam is None:
            return None
        return {"cniVersion": CNI_VERSION, "name": self.network, "plugins": [{
            "type": "bridge", "bridge": self.bridge, "isGateway": True, "isDefaultGateway": True,
            "hairpinMode": True, "ipMasq": False,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": self.pod_cidr}]],
                     "routes": [{"dst": "0.0.0.0/0"}]}}]}

    # -- ADD / DEL --------------------------------------------------------------------------------------------
    def add(self, container_id: str, netns: str, ifname: str = "eth0", pod_ref: str = "") -> dict:
        """CNI ADD: returns the result (interfaces, ips, routes, dns); raises :class:`CNIError`."""
        data = {"containerID": container_id, "netns": netns, "ifName": ifname}
        if self.ipam is None:
            self.loop.emit(f"containerd/{self.node_name}", "cni.ADD", pod_ref, {**data, "error": NOT_INITIALIZED},
                           target=self.component)
            raise CNIError(NOT_INITIALIZED)
        try:
            ipc = self.ipam.allocate(container_id, ifname)
        except IPAMError as e:
            msg = f"failed to allocate for range 0: {e}"  # host-local's cmdAdd, one range set
            self.loop.emit(f"containerd/{self.node_name}", "cni.ADD", pod_ref, {**data, "error": msg},
                           target=self.component)
            raise CNIError(msg, code=11) from None  # 11: "Try again later"
        host_veth = "veth" + "".join(f"{self.rng.randrange(256):02x}" for _ in range(4))
        result = {
            "cniVersion": CNI_VERSION,
            "interfaces": [{"name": self.bridge, "mac": self.bridge_mac},
                           {"name": host_veth, "mac": _mac(self.rng)},
                           {"name": ifname, "mac": _mac(self.rng), "sandbox": netns}],
            "ips": [{"interface": 2, "address": ipc["address"], "gateway": ipc["gateway"]}],
            "routes": [{"dst": "0.0.0.0/0", "gw": ipc["gateway"]}],
            "dns": {},
        }
        self.attachments[container_id] = result
        self.bridge_up = True
        self.loop.emit(f"containerd/{self.node_name}", "cni.ADD", pod_ref,
                       {**data, "ip": ipc["address"], "hostVeth": host_veth}, target=self.component)
        return result

    def delete(self, container_id: str, netns: str = "", ifname: str = "eth0", pod_ref: str = "") -> None:
        """CNI DEL: remove the veth and release the IP. Idempotent, as the SPEC requires."""
        freed = self.ipam.release(container_id, ifname) if self.ipam is not None else []
        self.attachments.pop(container_id, None)
        self.loop.emit(f"containerd/{self.node_name}", "cni.DEL", pod_ref,
                       {"containerID": container_id, "netns": netns, "ifName": ifname, "released": freed},
                       target=self.component)

    def pod_ips(self) -> dict[str, str]:
        """``{ip: container id}`` of every address handed out."""
        return self.ipam.allocated() if self.ipam is not None else {}

    def veth_of(self, ip: str) -> str | None:
        """The host-side veth of the pod holding ``ip`` on this node."""
        cid = self.pod_ips().get(ip)
        res = self.attachments.get(cid) if cid else None
        return res["interfaces"][1]["name"] if res else None

    def __repr__(self) -> str:
        return f"BridgePlugin({self.node_name}, {self.bridge}, podCIDR={self.pod_cidr})"
