"""Registry strategy helpers: GetPodQOS."""

import pytest

from k8slab.apiserver.registry import _pod_qos_class, pod_qos_class


def _pod(*resources, init=()):
    return {"spec": {"containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(resources)],
                     "initContainers": [{"name": f"i{i}", "resources": r} for i, r in enumerate(init)]}}


CASES = [
    (_pod({}), "BestEffort"),
    (_pod({"requests": {"cpu": "0"}}), "BestEffort"),
    (_pod({"requests": {"cpu": "100m"}}), "Burstable"),
    (_pod({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}), "Guaranteed"),
    (_pod({"requests": {"cpu": 1, "memory": "1Gi"}, "limits": {"cpu": "1000m", "memory": "1024Mi"}}), "Guaranteed"),
    (_pod({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}}), "Burstable"),
    (_pod({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
          {"limits": {"cpu": "1"}}), "Burstable"),
    (_pod({"limits": {"cpu": "1", "memory": "1Gi"}}, init=[{"requests": {"memory": "1Gi"}}]), "Burstable"),
    (_pod({"requests": {"nvidia.com/gpu": "1"}}), "BestEffort"),
]


@pytest.mark.parametrize("pod,want", CASES)
def test_pod_qos_class(pod, want):
    assert pod_qos_class(pod) == want
    assert pod_qos_class(pod) == want  # the second answer comes from the memo
    containers = pod["spec"]["containers"] + pod["spec"]["initContainers"]
    assert _pod_qos_class(containers) == want


def test_pod_qos_class_memo_tells_json_types_apart():
    # 1 and True hash alike in Python; the memo is keyed on JSON, so a bad value is not answered from a good one
    assert pod_qos_class(_pod({"requests": {"cpu": 1}})) == "Burstable"
    with pytest.raises(Exception):
        _pod_qos_class([{"resources": {"requests": {"cpu": [1]}}}])
    with pytest.raises(Exception):
        pod_qos_class(_pod({"requests": {"cpu": [1]}}))


@pytest.mark.parametrize("alphabet,length", [("bcdfghjklmnpqrstvwxz2456789", 5), ("ab", 40), ("x", 3),
                                             ("abcdefghijklmnopqrstuvwxyz0123456789", 32)])
def test_random_string_draws_as_random_choice(alphabet, length):
    import random

    from k8slab.apiserver.registry import random_string
    for seed in range(50):
        a, b = random.Random(seed), random.Random(seed)
        assert random_string(a, alphabet, length) == "".join(b.choice(alphabet) for _ in range(length))
        assert a.getstate() == b.getstate()  # the generator is left where choice() leaves it


def test_generate_name_suffix():
    import random

    from k8slab.apiserver.registry import NAME_ALPHANUMS, generate_name
    name = generate_name("web-7d4b9c-", random.Random(1))
    assert name.startswith("web-7d4b9c-") and len(name) == len("web-7d4b9c-") + 5
    assert all(ch in NAME_ALPHANUMS for ch in name[-5:])
    assert len(generate_name("x" * 80, random.Random(1))) == 63
