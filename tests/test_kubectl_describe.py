"""`describe` prints Events as kubectl's tabwriter does: columns as wide as their longest cell plus two spaces."""

from k8slab import Cluster


def test_describe_events_columns_fit_the_longest_reason():
    c = Cluster(nodes=1, seed=0)
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
             "spec": {"containers": [{"name": "a", "image": "nginx:1.27"}]}})
    c.settle()
    text = str(c.describe("pod", "p"))
    events = text.split("Events:\n", 1)[1].splitlines()
    assert events[0].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert events[1].split() == ["----", "------", "----", "----", "-------"]
    # every row starts its Age column at the same offset, two spaces after the longest reason
    reasons = [line[2:].split()[1] for line in events[2:]]
    age_col = events[0].index("Age")
    assert age_col == 2 + len("Normal") + 2 + max(len(r) for r in reasons + ["Reason"]) + 2
    for line in events[2:]:
        assert line[age_col - 2:age_col] == "  " and line[age_col] != " "
    assert any("Successfully assigned default/p to node-1" in line for line in events)


def test_describe_shows_a_repeated_event_with_its_count():
    from k8slab.cri import Behavior

    c = Cluster(nodes=1, seed=6)
    c.set_behavior("flaky", "app", Behavior(fail_ms=25_000))
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "flaky"},
             "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                      "livenessProbe": {"httpGet": {"path": "/healthz", "port": 80}}}]}})
    c.run(seconds=130)
    ev = next(e for e in c.admin.list("events", "default")["items"]
              if e["involvedObject"]["name"] == "flaky" and e["reason"] == "Unhealthy")
    assert ev["count"] > 1
    line = next(x for x in str(c.describe("pod", "flaky")).splitlines() if "Unhealthy" in x)
    assert f"(x{ev['count']} over " in line
