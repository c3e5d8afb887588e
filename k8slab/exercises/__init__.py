"""Mirrors: (no upstream file) the checked exercises at the end of every notebook.

    from k8slab.exercises import check, hint
    check("00.1", answer)      # specific feedback on what is wrong, or confirmation
    hint("00.1")               # the next hint, one more each call

Checks compute the right answer from a simulated cluster (the learner's, when passed as ``cluster=``, or a fresh
one built the same deterministic way), so they test understanding, not memory of a string.
"""

from .core import Exercise, Result, check, exercises, hint, register

__all__ = ["Exercise", "Result", "check", "exercises", "hint", "register"]

from . import tour  # noqa: E402,F401  (registers the tour exercises)
from . import apiserver  # noqa: E402,F401  (registers the API server exercises)
from . import proxy  # noqa: E402,F401  (registers the kube-proxy exercises)
from . import networking  # noqa: E402,F401  (registers the pod networking and DNS exercises)
from . import etcd  # noqa: E402,F401  (registers the etcd exercises)
from . import kubelet, addons  # noqa: E402,F401  (registers the 06 and 09 exercises)
from . import cloud, lifecycle  # noqa: E402,F401  (registers the notebook 04 lifecycle and 05 exercises)
from . import scheduler  # noqa: E402,F401  (registers the scheduler exercises)
from . import controllers  # noqa: E402,F401  (registers the notebook 04 exercises)
