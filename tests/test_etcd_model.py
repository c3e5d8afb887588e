"""Property test: the MVCC store against a plain dict-per-revision model."""

from hypothesis import given, settings
from hypothesis import strategies as st

from k8slab.etcd import Compare, ErrCompacted, MVCCStore, Op, prefix_end

KEYS = ["/a", "/a/1", "/a/2", "/b", "/b/1", "/c"]

key = st.sampled_from(KEYS)
value = st.sampled_from(["x", "y", "z"])
prefix = st.sampled_from(["/a", "/a/", "/b", "/"])

op = st.one_of(
    st.tuples(st.just("put"), key, value),
    st.tuples(st.just("delete"), key),
    st.tuples(st.just("delete_prefix"), prefix),
    st.tuples(st.just("cas"), key, st.integers(0, 12), value),
    st.tuples(st.just("txn2"), key, key, value),
    st.tuples(st.just("compact"), st.integers(1, 30)),
)


class Model:
    """state[rev] = {key: (value, create, mod, version)}; events[rev] = [(type, key)]."""

    def __init__(self):
        self.rev = 1
        self.states = {1: {}}
        self.events = {}
        self.compacted = -1

    @property
    def cur(self):
        return self.states[self.rev]

    def commit(self, changes):
        """changes: list of ("put", k, v) / ("delete", k) applied at one new revision."""
        if not changes:
            return
        rev = self.rev + 1
        state = dict(self.cur)
        evs = []
        for c in changes:
            if c[0] == "put":
                _, k, v = c
                old = state.get(k)
                state[k] = (v, old[1] if old else rev, rev, old[3] + 1 if old else 1)
                evs.append(("PUT", k))
            else:
                del state[c[1]]
                evs.append(("DELETE", c[1]))
        self.rev = rev
        self.states[rev] = state
        self.events[rev] = evs


def check_state(s, m):
    for rev in range(max(m.compacted, 1), m.rev + 1):
        got = s.range("\0", "\0", revision=rev)
        want = m.states[rev]
        assert [kv.key for kv in got.kvs] == sorted(want)
        for kv in got.kvs:
            assert (kv.value, kv.create_revision, kv.mod_revision, kv.version) == want[kv.key]
    if m.compacted > 1:
        try:
            s.range("/a", revision=m.compacted - 1)
            raise AssertionError("expected ErrCompacted")
        except ErrCompacted:
            pass


@settings(max_examples=150, deadline=None)
@given(st.lists(op, max_size=30))
def test_store_matches_model(ops):
    s, m = MVCCStore(), Model()
    seen = []
    s.watch("\0", "\0", start_revision=0, callback=seen.append)
    for o in ops:
        kind = o[0]
        if kind == "put":
            s.put(o[1], o[2])
            m.commit([("put", o[1], o[2])])
        elif kind == "delete":
            r = s.delete_range(o[1])
            assert r.deleted == (1 if o[1] in m.cur else 0)
            m.commit([("delete", o[1])] if o[1] in m.cur else [])
        elif kind == "delete_prefix":
            end = prefix_end(o[1])
            doomed = sorted(k for k in m.cur if o[1] <= k < end)
            r = s.delete_range(o[1], end)
            assert r.deleted == len(doomed)
            m.commit([("delete", k) for k in doomed])
        elif kind == "cas":
            _, k, expect, v = o
            r = s.txn([Compare(k, "MOD", "EQUAL", expect)], [Op.put(k, v)], [Op.get(k)])
            actual = m.cur[k][2] if k in m.cur else 0
            assert r.succeeded == (actual == expect)
            m.commit([("put", k, v)] if r.succeeded else [])
        elif kind == "txn2":
            _, k1, k2, v = o
            if k1 == k2:
                continue
            present = k2 in m.cur
            r = s.txn([Compare(k2, "VERSION", "GREATER", 0)],
                      [Op.put(k1, v), Op.delete(k2)], [Op.put(k1, v), Op.put(k2, v)])
            assert r.succeeded == present
            m.commit([("put", k1, v), ("delete", k2)] if present else [("put", k1, v), ("put", k2, v)])
        else:
            target = o[1]
            if target <= m.compacted or target > m.rev:
                continue
            s.compact(target)
            m.compacted = target
        assert s.revision == m.rev
    check_state(s, m)
    # the live watcher saw every revision, in order, with the events in op order
    assert [(evs[0].kv.mod_revision, [(e.type, e.kv.key) for e in evs]) for evs in seen] == [
        (rev, m.events[rev]) for rev in sorted(m.events)]
    # a watcher replaying from the oldest readable revision sees the same tail
    start = max(m.compacted, 2)
    replay = []
    s.watch("\0", "\0", start_revision=start, callback=replay.append)
    assert [(evs[0].kv.mod_revision, [(e.type, e.kv.key) for e in evs]) for evs in replay] == [
        (rev, m.events[rev]) for rev in sorted(m.events) if rev >= start]
