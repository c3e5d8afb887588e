import pytest

from k8slab.etcd import (
    MAX_LEASE_TTL,
    Compare,
    ErrLeaseExist,
    ErrLeaseNotFound,
    ErrLeaseTTLTooLarge,
    MVCCStore,
    Op,
    min_lease_ttl,
)


def test_min_lease_ttl_from_etcd_defaults():
    # ceil(((3 * 10) / 2) * 100ms) = ceil(1.5s) = 2s
    assert min_lease_ttl() == 2
    assert min_lease_ttl(election_ticks=10, heartbeat_ms=500) == 8


def test_grant_raises_short_ttl_to_minimum():
    s = MVCCStore()
    lid = s.lease_grant(1, now_ms=0)
    assert s.lease_time_to_live(lid, now_ms=0).granted_ttl == 2
    assert s.expire_leases(1_999) == []
    assert s.expire_leases(2_000) == [lid]


def test_lease_ids_look_like_etcd_and_are_deterministic():
    a, b = MVCCStore(), MVCCStore()
    ids_a = [a.lease_grant(60, 0) for _ in range(3)]
    ids_b = [b.lease_grant(60, 0) for _ in range(3)]
    assert ids_a == ids_b
    assert len(set(ids_a)) == 3
    assert all(f"{i:016x}".startswith("694d") for i in ids_a)  # member ID 8e9e05c52164694d


def test_grant_with_id_and_errors():
    s = MVCCStore()
    assert s.lease_grant(30, 0, lease_id=42) == 42
    with pytest.raises(ErrLeaseExist, match="^etcdserver: lease already exists$"):
        s.lease_grant(30, 0, lease_id=42)
    with pytest.raises(ErrLeaseTTLTooLarge, match="^etcdserver: too large lease TTL$"):
        s.lease_grant(MAX_LEASE_TTL + 1, 0)


def test_put_with_unknown_lease_fails_and_changes_nothing():
    s = MVCCStore()
    with pytest.raises(ErrLeaseNotFound, match="^etcdserver: requested lease not found$"):
        s.put("k", "v", lease=1234)
    with pytest.raises(ErrLeaseNotFound):
        s.txn([], [Op.put("a", "1"), Op.put("b", "2", lease=1234)])
    assert s.revision == 1 and s.get("a") is None


def test_keepalive_extends_expiry():
    s = MVCCStore()
    lid = s.lease_grant(10, now_ms=0)
    s.put("k", "v", lease=lid)
    assert s.lease_keepalive(lid, now_ms=8_000) == 10
    assert s.expire_leases(10_000) == []
    assert s.get("k") is not None
    assert s.lease_time_to_live(lid, now_ms=12_500).ttl == 5
    assert s.expire_leases(18_000) == [lid]
    assert s.get("k") is None
    with pytest.raises(ErrLeaseNotFound):
        s.lease_keepalive(lid, now_ms=18_000)


def test_keepalive_of_expired_lease_fails():
    s = MVCCStore()
    lid = s.lease_grant(5, now_ms=0)
    with pytest.raises(ErrLeaseNotFound):
        s.lease_keepalive(lid, now_ms=5_000)


def test_time_to_live():
    s = MVCCStore()
    lid = s.lease_grant(60, now_ms=0)
    s.put("/b", "1", lease=lid)
    s.put("/a", "1", lease=lid)
    t = s.lease_time_to_live(lid, now_ms=1_500, keys=True)
    assert (t.ttl, t.granted_ttl, t.keys) == (58, 60, ("/a", "/b"))  # 58.5s truncated
    gone = s.lease_time_to_live(999, now_ms=0)
    assert (gone.ttl, gone.granted_ttl) == (-1, 0)


def test_revoke_deletes_attached_keys_in_one_revision():
    s = MVCCStore()
    lid = s.lease_grant(60, 0)
    s.put("/l/b", "1", lease=lid)
    s.put("/l/a", "1", lease=lid)
    s.put("/l/c", "1")
    got = []
    s.watch("/l/", "/l0", callback=got.append)
    rev = s.lease_revoke(lid)
    assert rev == 5 and s.revision == 5
    assert [(e.type, e.kv.key) for e in got[0]] == [("DELETE", "/l/a"), ("DELETE", "/l/b")]
    assert s.keys("/l/") == ["/l/c"]
    assert s.leases() == []
    with pytest.raises(ErrLeaseNotFound):
        s.lease_revoke(lid)


def test_revoke_without_keys_makes_no_revision():
    s = MVCCStore()
    lid = s.lease_grant(60, 0)
    assert s.lease_revoke(lid) == 1 and s.revision == 1


def test_rewriting_a_key_moves_it_between_leases():
    s = MVCCStore()
    l1, l2 = s.lease_grant(10, 0), s.lease_grant(100, 0)
    s.put("k", "v", lease=l1)
    s.put("k", "v2", lease=l2)
    assert s.expire_leases(10_000) == [l1]
    assert s.get("k").value == "v2" and s.get("k").lease == l2
    s.put("k", "v3")  # no lease: detached
    assert s.lease_time_to_live(l2, 0, keys=True).keys == ()
    assert s._compare(Compare("k", "LEASE", "EQUAL", 0))


def test_deleted_key_is_detached():
    s = MVCCStore()
    lid = s.lease_grant(10, 0)
    s.put("k", "v", lease=lid)
    s.delete_range("k")
    s.put("k", "again")
    s.expire_leases(10_000)
    assert s.get("k").value == "again"


def test_expire_in_expiry_order_each_its_own_revision():
    s = MVCCStore()
    late = s.lease_grant(20, 0)
    early = s.lease_grant(10, 0)
    s.put("late", "x", lease=late)
    s.put("early", "x", lease=early)
    assert s.next_lease_expiry_ms() == 10_000
    before = s.revision
    assert s.expire_leases(30_000) == [early, late]
    assert s.revision == before + 2
    assert s.next_lease_expiry_ms() is None
