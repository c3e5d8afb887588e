import base64
import json

import pytest

from k8slab.etcd import (
    Compare,
    ErrCompacted,
    ErrDuplicateKey,
    ErrEmptyKey,
    ErrFutureRev,
    EtcdError,
    Event,
    KeyValue,
    MVCCStore,
    Op,
    prefix_end,
)


def test_fresh_store_is_at_revision_1_and_first_put_gets_2():
    s = MVCCStore()
    assert s.revision == 1
    assert s.compact_revision == -1
    assert s.put("foo", "bar").revision == 2
    assert s.revision == 2


def test_create_mod_revision_and_version():
    s = MVCCStore()
    s.put("a", "1")  # rev 2
    s.put("other", "x")  # rev 3
    s.put("a", "2")  # rev 4
    kv = s.get("a")
    assert (kv.create_revision, kv.mod_revision, kv.version, kv.value) == (2, 4, 2, "2")
    s.put("a", "3")
    assert s.get("a") == KeyValue("a", 2, 5, 3, "3", 0)


def test_version_resets_after_delete_and_recreate():
    s = MVCCStore()
    s.put("a", "1")
    s.put("a", "2")
    d = s.delete_range("a")
    assert (d.revision, d.deleted) == (4, 1)
    assert s.get("a") is None
    s.put("a", "new")
    assert s.get("a") == KeyValue("a", 5, 5, 1, "new", 0)


def test_delete_of_nothing_does_not_bump_revision():
    s = MVCCStore()
    s.put("a", "1")
    d = s.delete_range("missing")
    assert (d.revision, d.deleted, d.prev_kvs) == (2, 0, [])
    assert s.revision == 2


def test_put_and_delete_prev_kv():
    s = MVCCStore()
    assert s.put("k", "v1", prev_kv=True).prev_kv is None
    r = s.put("k", "v2", prev_kv=True)
    assert r.prev_kv == KeyValue("k", 2, 2, 1, "v1")
    d = s.delete_range("k", prev_kv=True)
    assert d.prev_kvs == [KeyValue("k", 2, 3, 2, "v2")]


def test_empty_key_rejected():
    s = MVCCStore()
    with pytest.raises(ErrEmptyKey, match="etcdserver: key is not provided"):
        s.put("", "x")


def _fill(s):
    for name in ["b", "a", "c"]:
        s.put(f"/registry/pods/default/{name}", name)
    s.put("/registry/pods/kube-system/dns", "dns")
    s.put("/registry/services/specs/default/web", "svc")
    s.put("/registry/podtemplates/default/t", "tmpl")


def test_prefix_range_is_sorted_and_exact():
    s = MVCCStore()
    _fill(s)
    r = s.range("/registry/pods/", prefix_end("/registry/pods/"))
    assert [kv.key for kv in r.kvs] == [
        "/registry/pods/default/a", "/registry/pods/default/b", "/registry/pods/default/c",
        "/registry/pods/kube-system/dns",
    ]
    assert r.count == 4 and r.more is False and r.revision == s.revision
    assert s.keys("/registry/pods/default/") == [
        "/registry/pods/default/a", "/registry/pods/default/b", "/registry/pods/default/c"]


def test_range_limit_count_keys_only_count_only():
    s = MVCCStore()
    _fill(s)
    r = s.range("/registry/pods/", prefix_end("/registry/pods/"), limit=2)
    assert [kv.key for kv in r.kvs] == ["/registry/pods/default/a", "/registry/pods/default/b"]
    assert r.count == 4 and r.more is True
    r = s.range("/registry/pods/", prefix_end("/registry/pods/"), keys_only=True)
    assert all(kv.value == "" for kv in r.kvs) and r.kvs[0].version == 1
    r = s.range("/registry/", prefix_end("/registry/"), count_only=True)
    assert r.kvs == [] and r.count == 6


def test_range_end_nul_means_from_key():
    s = MVCCStore()
    _fill(s)
    r = s.range("/registry/s", "\0")
    assert [kv.key for kv in r.kvs] == ["/registry/services/specs/default/web"]
    assert s.range("\0", "\0").count == 6


def test_prefix_end():
    # clientv3 GetPrefixRangeEnd
    assert prefix_end("/registry/pods/") == "/registry/pods0"
    assert prefix_end("a") == "b"
    assert prefix_end("") == "\0"


def test_read_at_past_revision():
    s = MVCCStore()
    s.put("k", "v1")  # 2
    s.put("k", "v2")  # 3
    s.delete_range("k")  # 4
    s.put("k", "v3")  # 5
    assert s.range("k", revision=2).kvs == [KeyValue("k", 2, 2, 1, "v1")]
    assert s.range("k", revision=3).kvs == [KeyValue("k", 2, 3, 2, "v2")]
    assert s.range("k", revision=4).kvs == []
    assert s.range("k", revision=5).kvs == [KeyValue("k", 5, 5, 1, "v3")]
    assert s.range("k", revision=1).kvs == []
    assert s.range("k", revision=3).revision == 5  # the header is the current revision
    with pytest.raises(ErrFutureRev, match="^mvcc: required revision is a future revision$"):
        s.range("k", revision=6)


def test_past_prefix_range_and_limit():
    s = MVCCStore()
    s.put("/p/a", "1")  # 2
    s.put("/p/b", "1")  # 3
    s.delete_range("/p/a")  # 4
    s.put("/p/c", "1")  # 5
    r = s.range("/p/", prefix_end("/p/"), revision=3, limit=1)
    assert [kv.key for kv in r.kvs] == ["/p/a"] and r.count == 2 and r.more
    assert [kv.key for kv in s.range("/p/", prefix_end("/p/"), revision=4).kvs] == ["/p/b"]


def test_compaction():
    s = MVCCStore()
    s.put("k", "v1")  # 2
    s.put("k", "v2")  # 3
    s.put("gone", "x")  # 4
    s.delete_range("gone")  # 5
    s.put("k", "v3")  # 6
    s.compact(4)
    assert s.compact_revision == 4
    # the newest version at or before 4 survives, so reading at 4 still works
    assert s.range("k", revision=4).kvs[0].value == "v2"
    with pytest.raises(ErrCompacted, match="^mvcc: required revision has been compacted$") as e:
        s.range("k", revision=3)
    assert e.value.compact_revision == 4
    assert [h["mod_revision"] for h in s.history("k")] == [3, 6]
    with pytest.raises(ErrCompacted):
        s.compact(4)  # at or below the current compact revision
    with pytest.raises(ErrFutureRev):
        s.compact(7)
    s.compact(6)
    assert s.history("gone") == []  # deleted before the compact revision: gone entirely
    assert s.history("k") == [{"type": "PUT", "mod_revision": 6, "create_revision": 2, "version": 3,
                               "lease": 0, "value": "v3"}]
    assert s.stats()["history_entries"] == 1


def test_compaction_keeps_tombstone_at_compact_revision():
    # key_index.go: put(4); tombstone(5); compact(5) leaves {5.0(t)}; compact(6) removes the key
    s = MVCCStore()
    s.put("x", "pad")  # 2
    s.put("x", "pad")  # 3
    s.put("foo", "1")  # 4
    s.delete_range("foo")  # 5
    s.put("x", "pad")  # 6
    s.compact(5)
    assert [h["type"] for h in s.history("foo")] == ["DELETE"]
    assert s.range("foo", revision=5).kvs == []
    s.compact(6)
    assert s.history("foo") == []


def test_txn_compare_and_swap_on_mod_revision():
    # the API server's GuaranteedUpdate: compare MOD == resourceVersion, then put
    s = MVCCStore()
    key = "/registry/deployments/default/web"
    rv = s.put(key, '{"spec":{"replicas":1}}').revision
    ok = s.txn([Compare(key, Compare.MOD, Compare.EQUAL, rv)],
               [Op.put(key, '{"spec":{"replicas":2}}')],
               [Op.get(key)])
    assert ok.succeeded and ok.revision == rv + 1
    assert s.get(key).value == '{"spec":{"replicas":2}}'
    stale = s.txn([Compare(key, "MOD", "=", rv)], [Op.put(key, "lost update")], [Op.get(key)])
    assert not stale.succeeded
    assert stale.revision == rv + 1  # read-only branch: no new revision
    assert stale.responses[0].kvs[0].mod_revision == rv + 1
    assert s.get(key).value == '{"spec":{"replicas":2}}'


def test_txn_create_only_if_absent():
    # the API server's Create: compare MOD == 0 (key does not exist), then put
    s = MVCCStore()
    create = [Compare("/k", "MOD", "EQUAL", 0)]
    assert s.txn(create, [Op.put("/k", "a")], []).succeeded
    r = s.txn(create, [Op.put("/k", "b")], [Op.get("/k")])
    assert not r.succeeded and r.responses[0].kvs[0].value == "a"


def test_txn_compare_targets_and_missing_keys():
    s = MVCCStore()
    s.put("k", "v")
    s.put("k", "w")
    assert s._compare(Compare("k", "VERSION", "EQUAL", 2))
    assert s._compare(Compare("k", "CREATE", "EQUAL", 2))
    assert s._compare(Compare("k", "MOD", "GREATER", 2))
    assert s._compare(Compare("k", "VALUE", "EQUAL", "w"))
    assert s._compare(Compare("k", "VALUE", "LESS", "x"))
    assert s._compare(Compare("k", "LEASE", "EQUAL", 0))
    assert s._compare(Compare("missing", "VERSION", "EQUAL", 0))
    assert s._compare(Compare("missing", "CREATE", "LESS", 1))
    # a VALUE compare on a missing key always fails, even NOT_EQUAL
    assert not s._compare(Compare("missing", "VALUE", "NOT_EQUAL", "x"))
    with pytest.raises(ValueError):
        Compare("k", "SIZE", "EQUAL", 1)


def test_txn_writes_share_one_revision_in_order():
    s = MVCCStore()
    s.put("old", "x")  # 2
    seen = []
    s.watch("\0", "\0", callback=seen.append)
    r = s.txn([], [Op.put("b", "1"), Op.delete("old"), Op.put("a", "2"), Op.get("a")])
    assert r.succeeded and r.revision == 3
    assert [type(x).__name__ for x in r.responses] == ["PutResult", "DeleteResult", "PutResult", "RangeResult"]
    assert r.responses[1].revision == 3 and r.responses[1].deleted == 1
    assert r.responses[3].kvs[0].value == "2"  # reads see the txn's earlier writes
    assert len(seen) == 1
    assert [(e.type, e.kv.key, e.kv.mod_revision) for e in seen[0]] == [
        ("PUT", "b", 3), ("DELETE", "old", 3), ("PUT", "a", 3)]


def test_read_only_txn_does_not_bump():
    s = MVCCStore()
    s.put("a", "1")
    r = s.txn([Compare("a", "VALUE", "EQUAL", "1")], [Op.get("a"), Op.delete("nothing")], [])
    assert r.succeeded and r.revision == 2 and s.revision == 2
    assert r.responses[1].revision == 2


def test_txn_duplicate_keys_rejected_and_nothing_written():
    s = MVCCStore()
    s.put("/a/x", "1")
    with pytest.raises(ErrDuplicateKey, match="etcdserver: duplicate key given in txn request"):
        s.txn([], [Op.put("k", "1"), Op.put("k", "2")])
    with pytest.raises(ErrDuplicateKey):
        s.txn([], [Op.delete("/a/", prefix_end("/a/")), Op.put("/a/y", "2")])
    s.txn([], [Op.put("k", "1")], [Op.put("k", "2")])  # different branches are fine
    assert s.revision == 3


def test_txn_checks_range_revision_before_writing():
    s = MVCCStore()
    s.put("a", "1")
    with pytest.raises(ErrFutureRev):
        s.txn([], [Op.put("b", "1"), Op.get("a", revision=99)])
    assert s.get("b") is None and s.revision == 2


def test_watch_delivers_live_events_synchronously():
    s = MVCCStore()
    got = []
    wid = s.watch("/registry/pods/", prefix_end("/registry/pods/"), callback=got.append)
    assert wid == 0
    s.put("/registry/pods/default/a", "1")
    s.put("/registry/services/specs/default/a", "svc")  # other prefix: not seen
    s.put("/registry/pods/default/a", "2")
    assert [[(e.type, e.kv.key, e.kv.version) for e in evs] for evs in got] == [
        [("PUT", "/registry/pods/default/a", 1)], [("PUT", "/registry/pods/default/a", 2)]]
    assert all(e.prev_kv is None for evs in got for e in evs)
    assert s.cancel_watch(wid)
    s.put("/registry/pods/default/b", "1")
    assert len(got) == 2
    assert not s.cancel_watch(wid)


def test_watch_single_key():
    s = MVCCStore()
    got = []
    s.watch("a", callback=got.append)
    s.put("ab", "x")
    s.put("a", "x")
    assert [evs[0].kv.key for evs in got] == ["a"]


def test_watch_from_past_revision_replays_then_goes_live():
    s = MVCCStore()
    s.put("/p/a", "1")  # 2
    s.put("/q/x", "1")  # 3
    s.put("/p/a", "2")  # 4
    s.delete_range("/p/a")  # 5
    got = []
    s.watch("/p/", prefix_end("/p/"), start_revision=3, callback=got.append)
    assert [(e.type, e.kv.mod_revision) for evs in got for e in evs] == [("PUT", 4), ("DELETE", 5)]
    s.put("/p/b", "1")  # 6
    assert [(e.type, e.kv.key, e.kv.mod_revision) for evs in got for e in evs][-1] == ("PUT", "/p/b", 6)
    assert len(got) == 3  # one callback per revision


def test_watch_future_start_revision_waits():
    s = MVCCStore()
    got = []
    s.watch("k", start_revision=4, callback=got.append)
    s.put("k", "a")  # 2
    s.put("k", "b")  # 3
    s.put("k", "c")  # 4
    assert [evs[0].kv.value for evs in got] == ["c"]


def test_delete_event_shape_and_prev_kv():
    s = MVCCStore()
    s.put("k", "v1")
    got, got_prev = [], []
    s.watch("k", callback=got.append)
    s.watch("k", callback=got_prev.append, prev_kv=True)
    s.put("k", "v2")
    s.delete_range("k")
    assert got[1] == [Event("DELETE", KeyValue("k", 0, 4, 0, "", 0))]
    assert got_prev[0][0].prev_kv == KeyValue("k", 2, 2, 1, "v1")
    assert got_prev[1] == [Event("DELETE", KeyValue("k", 0, 4, 0, "", 0), KeyValue("k", 2, 3, 2, "v2"))]


def test_watch_replay_with_prev_kv():
    s = MVCCStore()
    s.put("k", "v1")  # 2
    s.put("k", "v2")  # 3
    got = []
    s.watch("k", start_revision=2, prev_kv=True, callback=got.append)
    assert got[0][0].prev_kv is None  # a create event has no previous version
    assert got[1][0].prev_kv.value == "v1"


def test_watch_compacted_start_revision():
    s = MVCCStore()
    for i in range(5):
        s.put("k", str(i))  # 2..6
    s.compact(5)
    with pytest.raises(ErrCompacted) as e:
        s.watch("k", start_revision=4, callback=lambda evs: None)
    assert e.value.compact_revision == 5
    got = []
    s.watch("k", start_revision=5, callback=got.append)  # the compact revision itself is still there
    assert [evs[0].kv.mod_revision for evs in got] == [5, 6]


def test_writes_inside_a_callback_are_delivered_in_order():
    s = MVCCStore()
    first, second = [], []

    def react(evs):
        first.append(evs[0].kv.mod_revision)
        if evs[0].kv.key == "trigger":
            s.put("reaction", "x")

    s.watch("\0", "\0", callback=react)
    s.watch("\0", "\0", callback=lambda evs: second.append(evs[0].kv.mod_revision))
    s.put("trigger", "1")
    assert first == [2, 3] and second == [2, 3]


def test_lease_expiry_delete_reaches_watchers():
    s = MVCCStore()
    lid = s.lease_grant(10, now_ms=0)
    s.put("/registry/events/default/e1", "{}", lease=lid)
    got = []
    s.watch("/registry/events/", prefix_end("/registry/events/"), callback=got.append)
    assert s.expire_leases(now_ms=9_999) == []
    assert s.expire_leases(now_ms=10_000) == [lid]
    assert got[0][0].type == "DELETE"


def test_history_and_stats():
    s = MVCCStore()
    s.put("k", "a")
    s.put("k", "b")
    s.delete_range("k")
    assert [(h["type"], h["mod_revision"], h["create_revision"], h["version"]) for h in s.history("k")] == [
        ("PUT", 2, 2, 1), ("PUT", 3, 2, 2), ("DELETE", 4, 0, 0)]
    st = s.stats()
    assert st["keys"] == 0 and st["history_entries"] == 3 and st["revision"] == 4


def test_errors_are_etcd_errors_with_grpc_text():
    e = ErrCompacted(7)
    assert isinstance(e, EtcdError)
    assert e.grpc_message == "etcdserver: mvcc: required revision has been compacted"


# ----------------------------------------------------------------- etcdctl output


def test_etcdctl_get_simple():
    s = MVCCStore()
    s.put("foo", "bar")
    s.put("foo1", "bar1")
    assert s.etcdctl_get("foo") == "foo\nbar\n"
    assert s.etcdctl_get("foo", prefix=True) == "foo\nbar\nfoo1\nbar1\n"
    assert s.etcdctl_get("foo", print_value_only=True) == "bar\n"
    # keys-only prints each key followed by an empty line (the empty value)
    assert s.etcdctl_get("foo", prefix=True, keys_only=True) == "foo\n\nfoo1\n\n"
    assert s.etcdctl_get("missing") == ""
    assert s.etcdctl_get("", prefix=True, keys_only=True) == "foo\n\nfoo1\n\n"
    assert s.etcdctl_get("foo", prefix=True, limit=1) == "foo\nbar\n"
    s.put("foo", "baz")
    assert s.etcdctl_get("foo", rev=2) == "foo\nbar\n"
    assert repr(s.etcdctl_get("foo")) == "foo\nbaz\n"


def test_etcdctl_get_json():
    # `etcdctl put foo bar; etcdctl get foo -w json` on a fresh default etcd
    s = MVCCStore()
    s.put("foo", "bar")
    out = s.etcdctl_get("foo", write_out="json")
    assert out == ('{"header":{"cluster_id":14841639068965178418,"member_id":10276657743932975437,'
                   '"revision":2,"raft_term":2},"kvs":[{"key":"Zm9v","create_revision":2,'
                   '"mod_revision":2,"version":1,"value":"YmFy"}],"count":1}\n')
    missing = json.loads(s.etcdctl_get("nope", write_out="json"))
    assert missing == {"header": {"cluster_id": 14841639068965178418, "member_id": 10276657743932975437,
                                  "revision": 2, "raft_term": 2}}
    lid = s.lease_grant(60, 0)
    s.put("l", "v", lease=lid)
    kv = json.loads(s.etcdctl_get("l", write_out="json"))["kvs"][0]
    assert kv["lease"] == lid and base64.b64decode(kv["value"]) == b"v"


def test_txn_too_many_ops():
    from k8slab.etcd import ErrTooManyOps

    s = MVCCStore()
    with pytest.raises(ErrTooManyOps, match="^etcdserver: too many operations in txn request$"):
        s.txn([], [Op.put(f"k{i}", "v") for i in range(129)])
    assert s.txn([], [Op.put(f"k{i}", "v") for i in range(128)]).revision == 2


def test_single_compare_and_put_txn_matches_the_general_path():
    """The API server's txn (one compare, one put) takes a short path; a store fed the same txns with the compare
    given twice (the general path) must end identical: results, watch events, history."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    compare = st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["MOD", "CREATE", "VERSION", "VALUE", "LEASE"]),
                        st.sampled_from(["=", "!=", "<", ">"]), st.integers(0, 6), st.booleans())
    step = st.tuples(compare, st.sampled_from(["a", "b"]), st.booleans())

    @settings(max_examples=150, deadline=None)
    @given(st.lists(step, max_size=12))
    def check(steps):
        stores = [MVCCStore(), MVCCStore()]
        seen = [[], []]
        for i, s in enumerate(stores):
            s.watch("", "\0", callback=seen[i].extend, prev_kv=True)
        for n, ((key, target, result, value, _), put_key, prev) in enumerate(steps):
            v = f"v{value}" if target == "VALUE" else value
            c = Compare(key, target, result, v)
            op = Op.put(put_key, f"value-{n}", prev_kv=prev)
            fast = stores[0].txn([c], [op], [])
            general = stores[1].txn([c, c], [op], [])
            assert fast == general
        assert seen[0] == seen[1]
        assert stores[0].revision == stores[1].revision
        for k in ("a", "b"):
            assert stores[0].history(k) == stores[1].history(k)

    check()
