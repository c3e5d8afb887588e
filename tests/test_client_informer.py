"""Informers: list, then watch; the store, indexes and the trace of each delivery."""

from k8slab.apiserver import APIServer, Credentials
from k8slab.client import Client, Informer
from k8slab.etcd import MVCCStore
from k8slab.sim import Loop


def _server():
    server = APIServer(Loop(), MVCCStore(), seed=1)
    server.bootstrap()
    return server, Client(server, "kubectl", Credentials.x509("kubernetes-admin", "kubeadm:cluster-admins"))


def test_each_informer_traces_each_delivery_with_its_type_and_resource_version():
    server, admin = _server()
    a = Informer(Client(server, "a", admin.creds), "configmaps")
    b = Informer(Client(server, "b", admin.creds), "configmaps", namespace="default")
    seen = []
    a.add_event_handler(add=lambda o: seen.append(("add", o["metadata"]["name"])),
                        update=lambda old, new: seen.append(("update", new["data"]["k"])),
                        delete=lambda o: seen.append(("delete", o["metadata"]["name"])))
    a.start(); b.start()
    cm = admin.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": "x", "namespace": "default"}, "data": {"k": "1"}})
    cm = admin.update("configmaps", {**cm, "data": {"k": "2"}})
    admin.delete("configmaps", "x", "default")
    server.loop.settle()
    assert seen == [("add", "x"), ("update", "2"), ("delete", "x")]
    assert a.get("default/x") is None and b.get("default/x") is None and a.events_received == 3
    watch = [(e.component, e.data) for e in server.loop.trace.filter(kind="watch") if e.ref == "configmaps/default/x"]
    revs = [d["resourceVersion"] for _, d in watch]
    assert [c for c, _ in watch] == ["a", "b"] * 3
    assert [d["type"] for _, d in watch] == ["ADDED"] * 2 + ["MODIFIED"] * 2 + ["DELETED"] * 2
    assert revs[0] == revs[1] == str(int(cm["metadata"]["resourceVersion"]) - 1)
    assert revs[2] == revs[3] == cm["metadata"]["resourceVersion"] and int(revs[4]) > int(revs[2])
