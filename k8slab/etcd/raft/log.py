"""Mirrors: etcd-io/raft log.go, log_unstable.go, storage.go

The replicated log of one member. ``entries[0]`` is a dummy entry (term 0, index 0), as in MemoryStorage, so
``entries[i]`` has index ``i``. In this model an entry is durable as soon as it is appended (the member writes its
log before it sends anything, which is what a Ready's ``entries`` and the "persist before send" rule ensure
upstream), so the stable/unstable split of upstream collapses into one list.

``committed``: highest index known to be stored by a quorum. ``applied``: highest index handed to the state
machine. Always ``applied <= committed <= last_index()``.
"""

from __future__ import annotations

from .raftpb import Entry


class RaftLog:
    __slots__ = ("entries", "committed", "applied")

    def __init__(self, entries: list[Entry] | None = None, committed: int = 0, applied: int = 0):
        self.entries: list[Entry] = [Entry(0, 0)] + list(entries or [])
        self.committed = committed
        self.applied = applied

    def last_index(self) -> int:
        return len(self.entries) - 1

    def last_term(self) -> int:
        return self.entries[-1].term

    def term(self, i: int) -> int:
        """Term of entry ``i``; 0 for an index beyond the log (upstream returns ErrUnavailable)."""
        if 0 <= i < len(self.entries):
            return self.entries[i].term
        return 0

    def match_term(self, i: int, term: int) -> bool:
        return 0 <= i < len(self.entries) and self.entries[i].term == term

    def is_up_to_date(self, lasti: int, term: int) -> bool:
        """isUpToDate (Raft §5.4.1): a candidate's log is at least as up to date as ours."""
        lt = self.last_term()
        return term > lt or (term == lt and lasti >= self.last_index())

    def find_conflict(self, ents: list[Entry]) -> int:
        """findConflict: the index of the first entry in ``ents`` whose term differs from ours (or that we do not
        have); 0 if all of them are already in the log."""
        for e in ents:
            if not self.match_term(e.index, e.term):
                return e.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """findConflictByTerm: the largest index <= ``index`` whose term is <= ``term``, and that term. Used for the
        reject hint, so the leader can skip a whole term of mismatching entries at once."""
        index = min(index, self.last_index())
        while index > 0:
            t = self.entries[index].term
            if t <= term:
                return index, t
            index -= 1
        return 0, 0

    def maybe_append(self, index: int, log_term: int, committed: int, ents: list[Entry]) -> tuple[int, bool]:
        """maybeAppend: if our entry at ``index`` has ``log_term`` (the log-matching check), append ``ents`` after
        it, truncating a conflicting suffix, and advance the commit index. Returns (last new index, ok)."""
        if not self.match_term(index, log_term):
            return 0, False
        lastnewi = index + len(ents)
        ci = self.find_conflict(ents)
        if ci:
            if ci <= self.committed:
                raise AssertionError(f"entry {ci} conflicts with committed entry [committed({self.committed})]")
            self.append(ents[ci - index - 1:])
        self.commit_to(min(committed, lastnewi))
        return lastnewi, True

    def append(self, ents: list[Entry]) -> int:
        if not ents:
            return self.last_index()
        after = ents[0].index - 1
        if after < self.committed:
            raise AssertionError(f"after({after}) is out of range [committed({self.committed})]")
        if after + 1 < len(self.entries):
            del self.entries[after + 1:]  # truncateAndAppend
        self.entries.extend(ents)
        return self.last_index()

    def slice(self, lo: int, hi: int) -> list[Entry]:
        """Entries [lo, hi)."""
        return self.entries[lo:hi]

    def entries_from(self, i: int, max_count: int | None = None) -> list[Entry]:
        if i > self.last_index():
            return []
        hi = len(self.entries) if max_count is None else min(len(self.entries), i + max_count)
        return self.entries[i:hi]

    def commit_to(self, tocommit: int) -> None:
        if tocommit > self.committed:
            if tocommit > self.last_index():
                raise AssertionError(f"tocommit({tocommit}) is out of range [lastIndex({self.last_index()})]")
            self.committed = tocommit

    def maybe_commit(self, max_index: int, term: int) -> bool:
        """maybeCommit: commit ``max_index`` only if that entry is from ``term`` (the leader's current term):
        Raft §5.4.2, a leader never commits an entry from an earlier term by counting replicas."""
        if max_index > self.committed and self.term(max_index) == term:
            self.commit_to(max_index)
            return True
        return False

    def next_committed_ents(self) -> list[Entry]:
        """Committed entries not yet applied."""
        if self.committed > self.applied:
            return self.entries[self.applied + 1:self.committed + 1]
        return []

    def has_next_committed_ents(self) -> bool:
        return self.committed > self.applied

    def applied_to(self, i: int) -> None:
        if i:
            if i > self.committed or i < self.applied:
                raise AssertionError(f"applied({i}) is out of range [prevApplied({self.applied}), "
                                     f"committed({self.committed})]")
            self.applied = i

    def __repr__(self) -> str:
        return f"RaftLog(last={self.last_index()}, committed={self.committed}, applied={self.applied})"
