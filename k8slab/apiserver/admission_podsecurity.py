"""Mirrors: staging/src/k8s.io/pod-security-admission (admission/admission.go, policy/check_*.go, api/helpers.go).

The PodSecurity admission plugin enforces the Pod Security Standards per namespace. A namespace chooses a level
with the label ``pod-security.kubernetes.io/enforce``: ``privileged`` (anything goes), ``baseline`` (no known
privilege escalations: no privileged containers, host namespaces, hostPath volumes, host ports or added
capabilities beyond the default set) or ``restricted`` (baseline plus hardening: no privilege escalation, run as
non-root, drop ALL capabilities, a RuntimeDefault or Localhost seccomp profile, only ordinary volume types). A pod
that breaks its namespace's level is refused with 403 and every failed check: the baseline checks in ID order,
then the restricted ones. The checks here are the ones that matter for the pods the model runs (privileged,
host namespaces and ports, hostPath and other volume types, capabilities, privilege escalation, runAsNonRoot,
runAsUser, seccomp); AppArmor, SELinux, procMount, sysctls and Windows host-process checks are not modelled.
"""

from __future__ import annotations

from ..api import errors

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION_LABEL = "pod-security.kubernetes.io/enforce-version"
LEVELS = ("privileged", "baseline", "restricted")
# check_capabilities_baseline.go: the capabilities a container runtime grants by default
BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                         "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                           "projected", "secret"}


def _containers(spec: dict) -> list[dict]:
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or []) + \
        list(spec.get("ephemeralContainers") or [])


def _plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def _join_quote(names) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _sc(c: dict) -> dict:
    return c.get("securityContext") or {}


# Each check returns (forbidden reason, forbidden detail) or None. IDs as in policy/checks.go, run in ID order.

def check_allow_privilege_escalation(spec):
    bad = [c["name"] for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    if bad:
        return ("allowPrivilegeEscalation != false",
                f'{_plural("container", "containers", len(bad))} {_join_quote(bad)} must set '
                f'securityContext.allowPrivilegeEscalation=false')


def check_capabilities_baseline(spec):
    bad, caps = [], []
    for c in _containers(spec):
        for cap in ((_sc(c).get("capabilities") or {}).get("add") or []):
            if cap not in BASELINE_CAPABILITIES:
                if c["name"] not in bad:
                    bad.append(c["name"])
                if cap not in caps:
                    caps.append(cap)
    if bad:
        return ("non-default capabilities",
                f'{_plural("container", "containers", len(bad))} {_join_quote(bad)} must not include '
                f'{_join_quote(sorted(caps))} in securityContext.capabilities.add')


def check_capabilities_restricted(spec):
    no_drop, bad_add, caps = [], [], []
    for c in _containers(spec):
        capabilities = _sc(c).get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            no_drop.append(c["name"])
        for cap in capabilities.get("add") or []:
            if cap != "NET_BIND_SERVICE":
                if c["name"] not in bad_add:
                    bad_add.append(c["name"])
                if cap not in caps:
                    caps.append(cap)
    details = []
    if no_drop:
        details.append(f'{_plural("container", "containers", len(no_drop))} {_join_quote(no_drop)} must set '
                       f'securityContext.capabilities.drop=["ALL"]')
    if bad_add:
        details.append(f'{_plural("container", "containers", len(bad_add))} {_join_quote(bad_add)} must not include '
                       f'{_join_quote(sorted(caps))} in securityContext.capabilities.add')
    if details:
        return "unrestricted capabilities", "; ".join(details)


def check_host_namespaces(spec):
    bad = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    if bad:
        return "host namespaces", ", ".join(bad)


def check_host_path_volumes(spec):
    bad = [v["name"] for v in spec.get("volumes") or [] if "hostPath" in v]
    if bad:
        return "hostPath volumes", f'{_plural("volume", "volumes", len(bad))} {_join_quote(bad)}'


def check_host_ports(spec):
    bad, ports = [], []
    for c in _containers(spec):
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                if c["name"] not in bad:
                    bad.append(c["name"])
                ports.append(str(p["hostPort"]))
    if bad:
        return ("hostPort", f'{_plural("container", "containers", len(bad))} {_join_quote(bad)} '
                            f'{_plural("uses", "use", len(bad))} {_plural("hostPort", "hostPorts", len(ports))} '
                            f'{", ".join(ports)}')


def check_privileged(spec):
    bad = [c["name"] for c in _containers(spec) if _sc(c).get("privileged")]
    if bad:
        return ("privileged", f'{_plural("container", "containers", len(bad))} {_join_quote(bad)} must not set '
                              f'securityContext.privileged=true')


def check_restricted_volumes(spec):
    bad, types = [], []
    for v in spec.get("volumes") or []:
        vtype = next((k for k in v if k != "name"), "")
        if vtype and vtype not in RESTRICTED_VOLUME_TYPES:
            bad.append(v["name"])
            if vtype not in types:
                types.append(vtype)
    if bad:
        return ("restricted volume types",
                f'{_plural("volume", "volumes", len(bad))} {_join_quote(bad)} {_plural("uses", "use", len(bad))} '
                f'restricted volume {_plural("type", "types", len(types))} {_join_quote(sorted(types))}')


def check_run_as_non_root(spec):
    pod_sc = spec.get("securityContext") or {}
    pod_value = pod_sc.get("runAsNonRoot")
    if pod_value is False:
        return "runAsNonRoot != true", "pod must not set securityContext.runAsNonRoot=false"
    explicit_bad = [c["name"] for c in _containers(spec) if _sc(c).get("runAsNonRoot") is False]
    implicit = [c["name"] for c in _containers(spec) if _sc(c).get("runAsNonRoot") is None]
    if explicit_bad:
        return ("runAsNonRoot != true", f'{_plural("container", "containers", len(explicit_bad))} '
                                        f'{_join_quote(explicit_bad)} must not set securityContext.runAsNonRoot=false')
    if pod_value is None and implicit:
        return ("runAsNonRoot != true",
                f'pod or {_plural("container", "containers", len(implicit))} {_join_quote(implicit)} must set '
                f'securityContext.runAsNonRoot=true')


def check_run_as_user(spec):
    pod_sc = spec.get("securityContext") or {}
    if pod_sc.get("runAsUser") == 0:
        return "runAsUser=0", "pod must not set runAsUser=0"
    bad = [c["name"] for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    if bad:
        return "runAsUser=0", f'{_plural("container", "containers", len(bad))} {_join_quote(bad)} must not set runAsUser=0'


def check_seccomp_profile_restricted(spec):
    ok = ("RuntimeDefault", "Localhost")
    pod_type = ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    if pod_type is not None and pod_type not in ok:
        return ("seccompProfile", f'pod must not set securityContext.seccompProfile.type to "{pod_type}"')
    bad = [c["name"] for c in _containers(spec)
           if (_sc(c).get("seccompProfile") or {}).get("type") is not None
           and (_sc(c).get("seccompProfile") or {}).get("type") not in ok]
    if bad:
        return ("seccompProfile", f'{_plural("container", "containers", len(bad))} {_join_quote(bad)} must not set '
                                  f'securityContext.seccompProfile.type to "Unconfined"')
    unset = [c["name"] for c in _containers(spec) if (_sc(c).get("seccompProfile") or {}).get("type") is None]
    if pod_type is None and unset:
        return ("seccompProfile", f'pod or {_plural("container", "containers", len(unset))} {_join_quote(unset)} '
                                  f'must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"')


BASELINE_CHECKS = [("capabilities_baseline", check_capabilities_baseline),
                   ("hostNamespaces", check_host_namespaces),
                   ("hostPathVolumes", check_host_path_volumes),
                   ("hostPorts", check_host_ports),
                   ("privileged", check_privileged)]
RESTRICTED_CHECKS = [("allowPrivilegeEscalation", check_allow_privilege_escalation),
                     ("capabilities_restricted", check_capabilities_restricted),
                     ("restrictedVolumes", check_restricted_volumes),
                     ("runAsNonRoot", check_run_as_non_root),
                     ("runAsUser", check_run_as_user),
                     ("seccompProfile_restricted", check_seccomp_profile_restricted)]


# OverrideCheckIDs: a restricted check that replaces a baseline one at the restricted level
OVERRIDES = {"capabilities_restricted": "capabilities_baseline", "restrictedVolumes": "hostPathVolumes"}


def evaluate_pod(level: str, spec: dict) -> list[tuple[str, str]]:
    """The failed checks of ``level`` for a pod spec (registry.go EvaluatePod): the baseline checks sorted by ID,
    then at ``restricted`` the restricted checks sorted by ID, without the baseline checks they override."""
    if level == "privileged":
        return []
    checks = sorted(BASELINE_CHECKS)
    if level == "restricted":
        overridden = {OVERRIDES[cid] for cid, _ in RESTRICTED_CHECKS if cid in OVERRIDES}
        checks = [c for c in checks if c[0] not in overridden] + sorted(RESTRICTED_CHECKS)
    out = []
    for _, fn in checks:
        r = fn(spec)
        if r:
            out.append(r)
    return out


def violation_message(level: str, version: str, failures) -> str:
    return f'violates PodSecurity "{level}:{version}": ' + ", ".join(f"{r} ({d})" for r, d in failures)


class PodSecurity:
    """Validating admission: refuse pods that break their namespace's enforced Pod Security Standard."""

    NAME = "PodSecurity"
    mutating = False

    def handles(self, ctx) -> bool:
        return ctx.resource == "pods" and ctx.subresource == "" and ctx.verb in ("create", "update")

    def validate(self, ctx, pod: dict) -> None:
        if ctx.verb == "update" and ctx.old is not None and \
                (ctx.old.get("spec") or {}) == (pod.get("spec") or {}):
            return  # metadata-only and status updates are not re-checked
        ns = ctx.lookup("namespaces", None, ctx.namespace) or {}
        labels = ns.get("metadata", {}).get("labels") or {}
        level = labels.get(ENFORCE_LABEL, "privileged")
        if level not in LEVELS:
            level = "restricted"  # an invalid level is treated as the most restrictive
        version = labels.get(ENFORCE_VERSION_LABEL, "latest")
        failures = evaluate_pod(level, pod.get("spec") or {})
        if failures:
            raise errors.new_forbidden("pods", pod.get("metadata", {}).get("name", ""),
                                       violation_message(level, version, failures))
