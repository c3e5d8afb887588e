"""host-local IPAM and the bridge plugin (containernetworking/plugins behaviour)."""

import re

import pytest

from k8slab.cni import BridgePlugin, CNIError, HostLocalIPAM, IPAMError
from k8slab.sim import Loop


def test_allocates_in_order_from_dot_two_skipping_the_gateway():
    ipam = HostLocalIPAM("10.244.1.0/24")
    assert ipam.range_set_string() == "10.244.1.1-10.244.1.254"
    assert str(ipam.gateway) == "10.244.1.1"
    got = [ipam.allocate(f"c{i}")["address"] for i in range(3)]
    assert got == ["10.244.1.2/24", "10.244.1.3/24", "10.244.1.4/24"]
    assert ipam.allocate("c9")["gateway"] == "10.244.1.1"


def test_exhaustion_error_text():
    ipam = HostLocalIPAM("10.244.1.0/29")  # .1-.6 usable, .1 is the gateway: 5 pods
    for i in range(5):
        ipam.allocate(f"c{i}")
    with pytest.raises(IPAMError) as e:
        ipam.allocate("c5")
    assert str(e.value) == "no IP addresses available in range set: 10.244.1.1-10.244.1.6"


def test_release_then_round_robin_continues_after_last_reserved():
    ipam = HostLocalIPAM("10.244.1.0/29")
    for i in range(3):
        ipam.allocate(f"c{i}")  # .2 .3 .4
    assert ipam.release("c0") == ["10.244.1.2"]
    # the next search starts after the last reserved address (.4), not at the freed .2
    assert ipam.allocate("c3")["address"] == "10.244.1.5/29"
    assert ipam.allocate("c4")["address"] == "10.244.1.6/29"
    assert ipam.allocate("c5")["address"] == "10.244.1.2/29"  # wrapped around, skipping the gateway .1
    assert ipam.release("nobody") == []


def test_duplicate_allocation_refused():
    ipam = HostLocalIPAM("10.244.1.0/24")
    ipam.allocate("c0")
    with pytest.raises(IPAMError, match="has been allocated to c0, duplicate allocation is not allowed"):
        ipam.allocate("c0")


def test_network_too_small():
    with pytest.raises(IPAMError, match="too small to allocate from"):
        HostLocalIPAM("10.0.0.0/31")


def test_bridge_not_initialized_until_pod_cidr():
    loop = Loop()
    cni = BridgePlugin("node-1", loop)
    assert not cni.initialized
    with pytest.raises(CNIError, match="cni plugin not initialized"):
        cni.add("abc", "/var/run/netns/cni-x")
    cni.set_pod_cidr("10.244.1.0/24")
    assert cni.initialized
    assert cni.network_config()["plugins"][0]["ipam"]["ranges"] == [[{"subnet": "10.244.1.0/24"}]]


def test_bridge_add_result_and_delete_releases_ip():
    loop = Loop()
    cni = BridgePlugin("node-1", loop)
    cni.set_pod_cidr("10.244.1.0/24")
    res = cni.add("sb1", "/var/run/netns/cni-1", "eth0", "pods/default/web")
    assert res["cniVersion"] == "1.0.0"
    bridge, veth, eth0 = res["interfaces"]
    assert bridge["name"] == "cni0"
    assert re.fullmatch(r"veth[0-9a-f]{8}", veth["name"])
    assert eth0 == {"name": "eth0", "mac": eth0["mac"], "sandbox": "/var/run/netns/cni-1"}
    assert res["ips"] == [{"interface": 2, "address": "10.244.1.2/24", "gateway": "10.244.1.1"}]
    assert res["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.244.1.1"}]
    assert cni.pod_ips() == {"10.244.1.2": "sb1"}
    cni.delete("sb1", "/var/run/netns/cni-1", "eth0", "pods/default/web")
    assert cni.pod_ips() == {}
    cni.delete("sb1")  # DEL is idempotent
    kinds = [(ev.component, ev.kind, ev.target) for ev in loop.trace]
    assert kinds[0] == ("containerd/node-1", "cni.ADD", "cni/node-1")
    assert kinds[1] == ("containerd/node-1", "cni.DEL", "cni/node-1")
    assert loop.trace[1].data["released"] == ["10.244.1.2"]
