"""Mirrors: (no upstream file) a lab bench for etcd's Raft: step the members message by message or tick by tick,
propose entries, and break things.

``RaftLab()`` builds its own 3-member RaftNetwork (``RaftLab(members=5, seed=1)`` for another), or shows the etcd
members of a cluster: ``RaftLab(c)`` with ``c = Cluster(etcd_members=3)``. Buttons: **Step** (one event: a tick or
a delivery), **Next message** (run until a message is delivered), **Tick** (run 100 ms, one heartbeat interval),
**Run 1 s**, **Propose** (an entry at the leader), and the faults: **Crash**, **Restart**, **Isolate** the member
chosen in the drop-down, **Crash leader**, **Isolate leader**, **Lose quorum** (crash followers until fewer than a
quorum are up), **Heal**. The picture shows roles, terms, logs and the messages in flight;
**Timeline** draws terms and leaders over time. Errors are shown in the widget, never raised.
"""

from __future__ import annotations

import functools
import html

import ipywidgets as W

from ..etcd.raft import RaftNetwork
from ..viz.raft import raft_graph, raft_network, raft_timeline


def _guarded(fn):
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except Exception as e:  # noqa: BLE001 - a notebook widget must never raise into the frontend
            self.show_error(e)
            return None

    return wrapper


class RaftLab:
    def __init__(self, target=None, members: int = 3, seed: int = 0, max_delay_ms: int = 20) -> None:
        if target is None:
            target = RaftNetwork(members, seed, max_delay_ms=max_delay_ms)
        self.net = raft_network(target)
        self.etcd = getattr(target, "etcd_cluster", None) or (target if hasattr(target, "net") else None)
        self.proposals = 0
        self.last = ""
        self.graph = W.HTML()
        self.status = W.HTML()
        self.error = W.HTML()
        self.timeline = W.Output()
        self.member = W.Dropdown(options=[self.net.name(i) for i in self.net.ids], description="member",
                                 layout=W.Layout(width="180px"))
        buttons = [("Step", self.step), ("Next message", self.next_message), ("Tick", self.tick),
                   ("Run 1 s", self.run_second), ("Propose", self.propose)]
        faults = [("Crash", self.crash), ("Restart", self.restart), ("Isolate", self.isolate),
                  ("Crash leader", self.crash_leader), ("Isolate leader", self.isolate_leader),
                  ("Lose quorum", self.lose_quorum), ("Heal", self.heal), ("Timeline", self.show_timeline)]
        self.buttons = {}
        rows = []
        for group in (buttons, faults):
            row = []
            for label, fn in group:
                b = W.Button(description=label, layout=W.Layout(width="110px"))
                b.on_click(lambda _b, fn=fn: fn())
                self.buttons[label] = b
                row.append(b)
            rows.append(row)
        rows[1].insert(0, self.member)
        self.widget = W.VBox([W.HBox(rows[0]), W.HBox(rows[1]), self.error, self.status, self.graph, self.timeline])
        self.render()

    # -- actions -------------------------------------------------------------------------------------------------
    @_guarded
    def step(self):
        if self.net.next_time() is None:
            self.last = "nothing pending"
        else:
            ev = None
            while ev is None and self.net.next_time() is not None:
                ev = self.net.step()
            self.last = self._describe(ev)
        self.render()

    @_guarded
    def next_message(self):
        ev = None
        for _ in range(10_000):
            if self.net.next_time() is None:
                break
            ev = self.net.step()
            if ev is not None and ev[0] == "msg":
                break
        self.last = self._describe(ev)
        self.render()

    @_guarded
    def tick(self):
        self.net.run(100)
        self.last = "ran 100 ms (one heartbeat interval)"
        self.render()

    @_guarded
    def run_second(self):
        self.net.run(1000)
        self.last = "ran 1 s"
        self.render()

    @_guarded
    def propose(self):
        lead = self.net.leader()
        if lead is None:
            raise RuntimeError("no leader: a proposal would be dropped (raft proposal dropped); run until one is "
                               "elected")
        self.proposals += 1
        self.net.propose(lead, f"put k{self.proposals}")
        self.last = f"proposed 'put k{self.proposals}' at {self.net.name(lead)}"
        self.render()

    @_guarded
    def crash(self):
        self.net.crash(self.member.value)
        self.last = f"crashed {self.member.value}"
        self.render()

    @_guarded
    def restart(self):
        self.net.restart(self.member.value)
        self.last = f"restarted {self.member.value}"
        self.render()

    @_guarded
    def isolate(self):
        self.net.isolate(self.member.value)
        self.last = f"isolated {self.member.value}"
        self.render()

    @_guarded
    def crash_leader(self):
        lead = self.net.leader()
        if lead is None:
            raise RuntimeError("there is no leader to crash")
        self.net.crash(lead)
        self.last = f"crashed the leader {self.net.name(lead)}"
        self.render()

    @_guarded
    def isolate_leader(self):
        lead = self.net.leader()
        if lead is None:
            raise RuntimeError("there is no leader to isolate")
        self.net.isolate(lead)
        self.last = f"isolated the leader {self.net.name(lead)}"
        self.render()

    @_guarded
    def lose_quorum(self):
        """Crash followers until fewer than a quorum of members are up."""
        n = len(self.net.ids)
        lead = self.net.leader()
        up = [i for i in self.net.ids if self.net.members[i] is not None]
        victims = [i for i in up if i != lead] + ([lead] if lead in up else [])
        crashed = []
        while len(up) >= n // 2 + 1:
            v = victims.pop(0)
            self.net.crash(v)
            up.remove(v)
            crashed.append(self.net.name(v))
        self.last = f"crashed {', '.join(crashed) or 'nobody'}: {len(up)} of {n} up, a quorum is {n // 2 + 1}"
        self.render()

    @_guarded
    def heal(self):
        self.net.heal()
        self.last = "healed every link"
        self.render()

    @_guarded
    def show_timeline(self):
        self.timeline.clear_output()
        with self.timeline:
            from IPython.display import display

            display(raft_timeline(self.net))

    # -- view ----------------------------------------------------------------------------------------------------
    def _describe(self, ev) -> str:
        if ev is None:
            return "nothing happened (an event for a crashed member)"
        if ev[0] == "tick":
            return f"tick at {self.net.name(ev[1])}"
        m = ev[1]
        return f"delivered {html.escape(m.describe())}"

    def render(self) -> None:
        self.error.value = ""
        lead = self.net.leader()
        self.status.value = (f"<b>t = {self.net.now} ms</b> · leader: {self.net.name(lead) if lead else 'none'} · "
                             f"messages in flight: {len(self.net.in_flight())} · last: {self.last}")
        self.graph.value = raft_graph(self.net).pipe(format="svg").decode()

    def show_error(self, e: Exception) -> None:
        self.error.value = (f'<span style="color:#e74c3c">error: {html.escape(type(e).__name__)}: '
                            f'{html.escape(str(e))}</span>')

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
