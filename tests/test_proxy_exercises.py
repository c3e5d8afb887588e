"""The checked exercises of notebook 07 (k8slab.exercises.proxy): right answers pass, typical wrong ones explain."""

from k8slab.exercises import check, hint
from k8slab.exercises import proxy as P


def test_07_1_sep_chain_for_given_draws():
    walk, kp = P.sep_for_draws()
    svc_chain = next(c for c in walk.chains if c.startswith("KUBE-SVC-"))
    seps = [r.target for r in kp.proxier.rules("nat", svc_chain) if (r.target or "").startswith("KUBE-SEP-")]
    # 0.62 >= 1/3: not the first; 0.41 < 1/2: the second
    assert walk.sep_chain == seps[1]
    assert check("07.1", seps[1]).correct
    first = check("07.1", seps[0])
    assert not first.correct and "below 0.3333333333" in first.message
    assert "KUBE-SEP chains" in check("07.1", "KUBE-SEP-NOTACHAIN00000").message
    assert not check("07.1", None).correct


def test_07_2_recent_module_and_timeout():
    assert check("07.2", ("recent", 10800)).correct
    assert "does not remember" in check("07.2", ("statistic", 10800)).message
    assert "--seconds" in check("07.2", ("recent", 60)).message
    assert not check("07.2", "recent").correct


def test_07_3_lc_and_sed():
    picks = P.scheduler_picks()
    assert picks == {"rr": "10.244.1.5", "lc": "10.244.3.5", "sed": "10.244.2.5", "nq": "10.244.2.5"}
    assert check("07.3", {"lc": "10.244.3.5", "sed": "10.244.2.5"}).correct
    assert "256" in check("07.3", {"lc": "10.244.2.5", "sed": "10.244.2.5"}).message   # forgot << 8
    assert "inactive" in check("07.3", {"lc": "10.244.3.5", "sed": "10.244.3.5"}).message
    assert not check("07.3", ["10.244.3.5"]).correct


def test_07_4_cost():
    ipt, ipvs = P.cost_answer()
    assert ipt > 100 > ipvs
    assert check("07.4", (ipt, ipvs)).correct
    assert "does not depend" in check("07.4", (ipt, ipvs + 1)).message
    assert "KUBE-SERVICES" in check("07.4", (ipt - 1, ipvs)).message


def test_hints():
    for ex in ("07.1", "07.2", "07.3", "07.4"):
        assert hint(ex)


def test_07_5_draining():
    kp, drained, again = P.drain_scenario()
    assert drained.weight == 0 and drained.activeconns == 1
    assert again.conntrack == "ESTABLISHED" and again.dnat == drained.endpoint
    assert check("07.5", (0, True)).correct
    assert "graceful" in check("07.5", (1, True)).message
    assert "connection table" in check("07.5", (0, False)).message
