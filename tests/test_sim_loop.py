"""The event loop: order, cancellation, causes and the foreground count."""

from k8slab.sim import Loop


def test_steps_run_in_time_then_scheduling_order_and_cancelled_ones_are_skipped():
    loop = Loop()
    ran = []
    loop.call_later(5, ran.append, "b")
    loop.call_at(5, ran.append, "c")
    first = loop.call_later(1, ran.append, "a")
    gone = loop.call_later(2, ran.append, "cancelled")
    loop.call_later(-3, ran.append, "now")  # never in the past
    bg = loop.call_later(4, ran.append, "background", background=True)
    gone.cancel()
    assert loop.pending == 4 and first.time == 1 and bg.background
    steps = []
    while (t := loop.step()) is not None:
        steps.append((t.time, t.label))
    assert ran == ["now", "a", "background", "b", "c"]
    assert [s[0] for s in steps] == [0, 1, 4, 5, 5] and loop.now == 5
    assert loop.pending == 0 and loop.step() is None


def test_a_timer_inherits_the_cause_of_the_step_that_scheduled_it():
    loop = Loop()

    def first():
        seq = loop.emit("c", "did", "x")
        loop.call_later(1, second, component="c", label="second")
        loop.call_later(1, lambda: None, cause=seq - 1)

    def second():
        loop.emit("c", "then", "x")

    loop.call_later(0, first, component="c", label="first", cause=None)
    loop.settle()
    did = loop.trace.filter(kind="did")[0]
    then = loop.trace.filter(kind="then")[0]
    assert then.cause == did.seq
    assert [t.label for t in loop.timers()] == []


def test_settle_leaves_background_work_pending():
    loop = Loop()
    loop.call_later(10, lambda: None, background=True)
    loop.call_later(3, lambda: None)
    assert loop.settle() == 1 and loop.now == 3
    assert len(loop.timers()) == 1 and loop.pending == 0
