"""Mirrors: staging/src/k8s.io/client-go/tools/cache (reflector.go, shared_informer.go, thread_safe_store.go,
index.go) and client-go/informers/factory.go.

An informer keeps a local, indexed copy of one kind of object: it *lists* everything once, then *watches* from the
list's resourceVersion, applying each ADDED / MODIFIED / DELETED event to its store before calling the registered
handlers. Controllers read from this cache, never from the API server, and their handlers only enqueue keys.
Objects in the cache are shared: copy one before changing it.
"""

from __future__ import annotations

from typing import Callable

from ..api.objects import key as object_key


# The reference and data of the last "watch" trace event: the informers an event is sent to receive it one after
# the other, and share them (trace data is never changed after it is recorded).
# [object, type, resourceVersion, resource, ref, data]
_last_watch_data: list = [None, None, None, None, None, None]


def namespace_index(obj: dict) -> list[str]:
    return [obj["metadata"].get("namespace", "")]


class Informer:
    """A shared index informer for one resource (optionally filtered by namespace and selectors)."""

    def __init__(self, client, resource: str, namespace: str | None = None, field_selector: str | None = None,
                 label_selector: str | None = None) -> None:
        self.client = client
        self.loop = client.server.loop
        self.resource = resource
        self.namespace = namespace
        self.field_selector = field_selector
        self.label_selector = label_selector
        self.store: dict[str, dict] = {}
        self.indexers: dict[str, Callable[[dict], list[str]]] = {"namespace": namespace_index}
        self.indices: dict[str, dict[str, set[str]]] = {"namespace": {}}
        self.handlers: list[tuple] = []
        self._by_kind: tuple[list, list, list] = ([], [], [])  # the handlers' add, update and delete functions
        self.has_synced = False
        self.resource_version = ""
        self.watch = None
        self.events_received = 0

    # -- handlers and indexes ---------------------------------------------------------------------------------------
    def add_event_handler(self, add: Callable | None = None, update: Callable | None = None,
                          delete: Callable | None = None) -> None:
        self.handlers.append((add, update, delete))
        for fns, fn in zip(self._by_kind, (add, update, delete)):
            if fn is not None:
                fns.append(fn)
        if self.has_synced and add is not None:
            for obj in list(self.store.values()):
                add(obj)

    def add_indexer(self, name: str, fn: Callable[[dict], list[str]]) -> None:
        self.indexers[name] = fn
        idx = self.indices[name] = {}
        for k, obj in self.store.items():
            for v in fn(obj):
                idx.setdefault(v, set()).add(k)

    def _index_add(self, k: str, obj: dict) -> None:
        for name, fn in self.indexers.items():
            idx = self.indices[name]
            for v in fn(obj):
                s = idx.get(v)
                if s is None:
                    idx[v] = {k}
                else:
                    s.add(k)

    def _index_remove(self, k: str, obj: dict) -> None:
        for name, fn in self.indexers.items():
            idx = self.indices[name]
            for v in fn(obj):
                s = idx.get(v)
                if s is not None:
                    s.discard(k)
                    if not s:
                        del idx[v]

    def _index_update(self, k: str, old: dict, new: dict) -> None:
        """Move ``k`` from ``old``'s index values to ``new``'s; values that stay the same are left alone. (The
        namespace index never moves: the namespace is part of the key.)"""
        for name, fn in self.indexers.items():
            if fn is namespace_index:
                continue
            before, after = fn(old), fn(new)
            if before == after:
                continue
            idx = self.indices[name]
            for v in before:
                s = idx.get(v)
                if s is not None:
                    s.discard(k)
                    if not s:
                        del idx[v]
            for v in after:
                s = idx.get(v)
                if s is None:
                    idx[v] = {k}
                else:
                    s.add(k)

    # -- reading the cache ------------------------------------------------------------------------------------------
    def get(self, key: str) -> dict | None:
        return self.store.get(key)

    def list(self) -> list[dict]:
        return list(self.store.values())

    def by_index(self, index: str, value: str) -> list[dict]:
        keys = self.indices[index].get(value, ())
        return [self.store[k] for k in sorted(keys)]

    def list_namespace(self, namespace: str) -> list[dict]:
        return self.by_index("namespace", namespace)

    # -- list, then watch -------------------------------------------------------------------------------------------
    def start(self) -> None:
        """The reflector's ListAndWatch: list everything, then watch from the list's resourceVersion."""
        if self.watch is not None:
            return
        lst = self.client.list(self.resource, self.namespace, self.label_selector, self.field_selector)
        self.resource_version = lst["metadata"]["resourceVersion"]
        for obj in lst["items"]:
            k = object_key(obj)
            self.store[k] = obj
            self._index_add(k, obj)
        self.watch = self.client.watch(self.resource, self._on_event, self.namespace, self.field_selector,
                                       self.label_selector)
        self.has_synced = True
        for obj in lst["items"]:
            for add in self._by_kind[0]:
                add(obj)

    def stop(self) -> None:
        if self.watch is not None:
            self.watch.stop()
            self.watch = None

    def _on_event(self, etype: str, obj: dict) -> None:
        if self.watch is None:
            return
        self.events_received += 1
        md = obj["metadata"]
        ns = md.get("namespace")
        k = f"{ns}/{md['name']}" if ns else md["name"]
        rv = md.get("resourceVersion", self.resource_version)
        last = _last_watch_data
        if last[0] is not obj or last[1] != etype or last[2] != rv or last[3] != self.resource:
            last[:] = obj, etype, rv, self.resource, f"{self.resource}/{k}", {"type": etype, "resourceVersion": rv}
        self.loop.emit(self.client.component, "watch", last[4], last[5], target="kube-apiserver")
        self.resource_version = rv
        store = self.store
        old = store.get(k)
        if etype == "DELETED":
            if old is not None:
                del store[k]
                self._index_remove(k, old)
            for delete in self._by_kind[2]:
                delete(old if old is not None else obj)
            return
        store[k] = obj
        if old is None:
            self._index_add(k, obj)
            for add in self._by_kind[0]:
                add(obj)
        else:
            self._index_update(k, old, obj)
            for update in self._by_kind[1]:
                update(old, obj)


class SharedInformerFactory:
    """One informer per (resource, filter) for a component, shared by all of its controllers."""

    def __init__(self, client) -> None:
        self.client = client
        self.informers: dict[tuple, Informer] = {}

    def informer(self, resource: str, namespace: str | None = None, field_selector: str | None = None,
                 label_selector: str | None = None) -> Informer:
        k = (resource, namespace, field_selector, label_selector)
        inf = self.informers.get(k)
        if inf is None:
            inf = self.informers[k] = Informer(self.client, resource, namespace, field_selector, label_selector)
        return inf

    def start(self) -> None:
        for inf in list(self.informers.values()):
            inf.start()

    def stop(self) -> None:
        for inf in self.informers.values():
            inf.stop()
