"""Mirrors: pkg/scheduler/apis/config/v1/{defaults.go,default_plugins.go} (SetDefaults_KubeSchedulerConfiguration,
mergePlugins), pkg/scheduler/apis/config/validation/{validation.go,validation_pluginargs.go},
pkg/scheduler/framework/runtime/framework.go (NewFramework's plugin checks)

``KubeSchedulerConfiguration`` (kubescheduler.config.k8s.io/v1), as YAML text or a dict:

    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    percentageOfNodesToScore: 0          # 0 = adaptive (50% - nodes/125, at least 5%)
    profiles:
    - schedulerName: default-scheduler
    - schedulerName: bin-packer
      plugins:
        score:
          disabled: [{name: NodeResourcesBalancedAllocation}]
          enabled: [{name: NodeResourcesFit, weight: 5}]
      pluginConfig:
      - name: NodeResourcesFit
        args: {scoringStrategy: {type: MostAllocated}}

``load_config`` decodes, defaults and validates it as kube-scheduler does at start-up and
returns a ``SchedulerConfig``; ``profiles()`` turns it into framework Profiles.

Defaulting: a configuration without profiles gets one ``default-scheduler`` profile; each
profile's plugins are merged with the default MultiPoint list (a plugin enabled again keeps its
default position with the new weight, ``disabled: [{name: "*"}]`` drops all defaults of that
extension point), and every enabled plugin with arguments gets its defaulted args.
Volume plugins (VolumeBinding, VolumeRestrictions, VolumeZone, NodeVolumeLimits) are not
modelled and are left out of the default list.

Validation reports every problem at once with its field path, e.g.
``profiles[0].percentageOfNodesToScore: Invalid value: 120: not in valid range [0-100]``.
Upstream finds an unknown plugin only when it builds the framework (``ScorePlugin "Foo" does
not exist``); here that message is reported with the field path that names the plugin. Weights
are int32 in the API; k8slab also refuses negative weights (upstream lets a negative weight
subtract), because a score below 0 would silently invert a plugin.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from k8slab.api.errors import FieldError, aggregate_message, duplicate, invalid, not_supported, required
from k8slab.scheduler.framework import (
    DEFAULT_PLUGINS, DEFAULT_SCHEDULER_NAME, MAX_NODE_SCORE, MAX_TOTAL_SCORE, PluginEntry,
    PluginSet, Profile, implements,
)

API_VERSION = "kubescheduler.config.k8s.io/v1"
KIND = "KubeSchedulerConfiguration"
DEFAULT_PARALLELISM = 16
DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE = 0
DEFAULT_POD_INITIAL_BACKOFF_SECONDS = 1
DEFAULT_POD_MAX_BACKOFF_SECONDS = 10
MAX_INT32 = 2**31 - 1

EXTENSION_POINT_FIELDS: dict[str, str] = {
    "preEnqueue": "PreEnqueue", "queueSort": "QueueSort", "preFilter": "PreFilter", "filter": "Filter",
    "postFilter": "PostFilter", "preScore": "PreScore", "score": "Score", "reserve": "Reserve",
    "permit": "Permit", "preBind": "PreBind", "bind": "Bind", "postBind": "PostBind",
}
"""The fields of ``plugins`` in the API (besides ``multiPoint``) and the framework's extension points."""

INVALID_PLUGINS_V1 = ("AzureDiskLimits", "CinderLimits", "EBSLimits", "GCEPDLimits")
"""invalidPluginsByVersion for v1: plugins removed from the API."""


class InvalidConfigurationError(ValueError):
    """The configuration failed validation; ``errors`` holds every FieldError, and the message
    lists them as kube-scheduler prints them at start-up."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__(f"invalid KubeSchedulerConfiguration: {aggregate_message(errors)}")


# --------------------------------------------------------------------------------------------
# Plugin args: defaults and validation per plugin (the *Args kinds)
# --------------------------------------------------------------------------------------------

def set_defaults_default_preemption_args(args: dict | None) -> dict:
    out = dict(args or {})
    if out.get("minCandidateNodesPercentage") is None:
        out["minCandidateNodesPercentage"] = 10
    if out.get("minCandidateNodesAbsolute") is None:
        out["minCandidateNodesAbsolute"] = 100
    return out


def validate_default_preemption_args(args: dict, path: str) -> list[FieldError]:
    errs = []
    pct, absolute = args.get("minCandidateNodesPercentage"), args.get("minCandidateNodesAbsolute")
    if not isinstance(pct, int) or pct < 0 or pct > 100:
        errs.append(invalid(f"{path}.minCandidateNodesPercentage", pct, "not in valid range [0, 100]"))
    if not isinstance(absolute, int) or absolute < 0:
        errs.append(invalid(f"{path}.minCandidateNodesAbsolute", absolute, "not in valid range [0, inf)"))
    if pct == 0 and absolute == 0:
        errs.append(invalid(f"{path}.minCandidateNodesPercentage", pct, "cannot be zero at the same time as "
                            "minCandidateNodesAbsolute"))
        errs.append(invalid(f"{path}.minCandidateNodesAbsolute", absolute, "cannot be zero at the same time as "
                            "minCandidateNodesPercentage"))
    return errs


def _args_handlers() -> dict[str, tuple[Any, Any]]:
    """Plugin name -> (set_defaults(args) -> args, validate(args, path) -> [FieldError])."""
    from k8slab.scheduler.plugins import balancedallocation, interpodaffinity, nodeaffinity, noderesources
    from k8slab.scheduler.plugins import podtopologyspread

    def wrap(fn):
        def validate(args: dict, path: str) -> list[FieldError]:
            try:
                fn(args)
            except noderesources.InvalidPluginArgsError as err:
                return [FieldError(e.type, f"{path}.{e.field}", e.bad_value, e.detail) for e in err.errors]
            return []
        return validate

    return {
        "DefaultPreemption": (set_defaults_default_preemption_args, validate_default_preemption_args),
        "InterPodAffinity": (interpodaffinity.set_defaults_inter_pod_affinity_args,
                             wrap(interpodaffinity.validate_inter_pod_affinity_args)),
        "NodeAffinity": (lambda a: dict(a or {}), wrap(nodeaffinity.validate_node_affinity_args)),
        "NodeResourcesBalancedAllocation": (balancedallocation.set_defaults_balanced_allocation_args,
                                            wrap(balancedallocation.validate_balanced_allocation_args)),
        "NodeResourcesFit": (noderesources.set_defaults_node_resources_fit_args,
                             wrap(noderesources.validate_node_resources_fit_args)),
        "PodTopologySpread": (podtopologyspread.set_defaults_pod_topology_spread_args,
                              wrap(podtopologyspread.validate_pod_topology_spread_args)),
    }


# --------------------------------------------------------------------------------------------
# The configuration
# --------------------------------------------------------------------------------------------

@dataclass
class SchedulerConfig:
    """A defaulted, validated KubeSchedulerConfiguration."""

    raw: dict
    percentage_of_nodes_to_score: int = DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE
    pod_initial_backoff_seconds: int = DEFAULT_POD_INITIAL_BACKOFF_SECONDS
    pod_max_backoff_seconds: int = DEFAULT_POD_MAX_BACKOFF_SECONDS
    parallelism: int = DEFAULT_PARALLELISM
    profile_list: list[Profile] = field(default_factory=list)

    def profiles(self) -> list[Profile]:
        return list(self.profile_list)

    def profile(self, scheduler_name: str) -> Profile:
        for p in self.profile_list:
            if p.scheduler_name == scheduler_name:
                return p
        raise KeyError(scheduler_name)


def _registry(registry: dict[str, type] | None) -> dict[str, type]:
    if registry is None:
        from k8slab.scheduler.plugins import REGISTRY
        return REGISTRY
    return registry


def default_plugin_set(registry: dict[str, type] | None = None) -> list[dict]:
    """getDefaultPlugins().MultiPoint.Enabled: the default list (only plugins k8slab models)."""
    reg = _registry(registry)
    return [{"name": n, **({"weight": w} if w else {})} for n, w in DEFAULT_PLUGINS if n in reg]


def merge_plugin_set(default: dict, custom: dict | None) -> dict:
    """mergePluginSet: defaults minus disabled ("*" for all), a re-enabled default replaced in
    place (order kept, new weight), then the other custom plugins appended."""
    custom = custom or {}
    disabled = [{"name": d.get("name", "")} for d in custom.get("disabled") or []] + \
        [{"name": d.get("name", "")} for d in default.get("disabled") or []]
    disabled_names = {d["name"] for d in disabled}
    custom_enabled = list(custom.get("enabled") or [])
    by_name = {p.get("name"): (i, p) for i, p in enumerate(custom_enabled)}
    replaced: set[int] = set()
    enabled: list[dict] = []
    if "*" not in disabled_names:
        for p in default.get("enabled") or []:
            if p["name"] in disabled_names:
                continue
            if p["name"] in by_name:
                i, p = by_name[p["name"]]
                replaced.add(i)
            enabled.append(dict(p))
    enabled.extend(dict(p) for i, p in enumerate(custom_enabled) if i not in replaced)
    return {"enabled": enabled, "disabled": disabled}


def set_defaults(cfg: dict, registry: dict[str, type] | None = None) -> dict:
    """SetDefaults_KubeSchedulerConfiguration (v1) on a copy."""
    out = copy.deepcopy(cfg)
    out.setdefault("apiVersion", API_VERSION)
    out.setdefault("kind", KIND)
    if out.get("parallelism") is None:
        out["parallelism"] = DEFAULT_PARALLELISM
    if out.get("percentageOfNodesToScore") is None:
        out["percentageOfNodesToScore"] = DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE
    if out.get("podInitialBackoffSeconds") is None:
        out["podInitialBackoffSeconds"] = DEFAULT_POD_INITIAL_BACKOFF_SECONDS
    if out.get("podMaxBackoffSeconds") is None:
        out["podMaxBackoffSeconds"] = DEFAULT_POD_MAX_BACKOFF_SECONDS
    if not out.get("profiles"):
        out["profiles"] = [{}]
    handlers = _args_handlers()
    for prof in out["profiles"]:
        if prof.get("schedulerName") is None:
            prof["schedulerName"] = DEFAULT_SCHEDULER_NAME
        plugins = dict(prof.get("plugins") or {})
        plugins["multiPoint"] = merge_plugin_set({"enabled": default_plugin_set(registry)}, plugins.get("multiPoint"))
        prof["plugins"] = plugins
        configs = list(prof.get("pluginConfig") or [])
        existing = set()
        for pc in configs:
            existing.add(pc.get("name"))
            h = handlers.get(pc.get("name"))
            if h is not None and isinstance(pc.get("args"), dict):
                pc["args"] = h[0]({k: v for k, v in pc["args"].items() if k not in ("apiVersion", "kind")})
        for name in _plugin_names(plugins):
            if name in existing or name not in handlers:
                continue
            configs.append({"name": name, "args": handlers[name][0](None)})
            existing.add(name)
        prof["pluginConfig"] = configs
    return out


def _plugin_names(plugins: dict) -> list[str]:
    names: list[str] = []
    for key in ["multiPoint"] + list(EXTENSION_POINT_FIELDS):
        for p in (plugins.get(key) or {}).get("enabled") or []:
            if p.get("name") not in names:
                names.append(p.get("name"))
    return names


def _validate_percentage(path: str, pct: Any) -> list[FieldError]:
    if pct is not None and (not isinstance(pct, int) or pct < 0 or pct > 100):
        return [invalid(path, pct, "not in valid range [0-100]")]
    return []


def validate(cfg: dict, registry: dict[str, type] | None = None, original: dict | None = None) -> None:
    """ValidateKubeSchedulerConfiguration plus the plugin checks NewFramework makes; raises
    InvalidConfigurationError listing every error. Plugin lists are checked as the user wrote them
    (``original``, before merging with the defaults) so field paths point at the user's entries."""
    reg = _registry(registry)
    written = (original or {}).get("profiles") if original is not None else None
    errs: list[FieldError] = []
    if cfg.get("apiVersion") != API_VERSION:
        errs.append(not_supported("apiVersion", cfg.get("apiVersion"), [API_VERSION]))
    if cfg.get("kind") != KIND:
        errs.append(not_supported("kind", cfg.get("kind"), [KIND]))
    if not isinstance(cfg.get("parallelism"), int) or cfg["parallelism"] <= 0:
        errs.append(invalid("parallelism", cfg.get("parallelism"), "should be an integer value greater than zero"))
    profiles = cfg.get("profiles") or []
    if not profiles:
        errs.append(required("profiles"))
    seen: dict[str, int] = {}
    handlers = _args_handlers()
    for i, prof in enumerate(profiles):
        path = f"profiles[{i}]"
        name = prof.get("schedulerName")
        if not name:
            errs.append(required(f"{path}.schedulerName"))
        elif name in seen:
            errs.append(duplicate(f"{path}.schedulerName", f"profiles[{seen[name]}].schedulerName"))
        else:
            seen[name] = i
        errs.extend(_validate_percentage(f"{path}.percentageOfNodesToScore", prof.get("percentageOfNodesToScore")))
        src = written[i] if written and i < len(written) and isinstance(written[i], dict) else prof
        errs.extend(_validate_plugins(path, src.get("plugins") or {}, reg))
        seen_config: set[str] = set()
        for j, pc in enumerate(prof.get("pluginConfig") or []):
            pc_path = f"{path}.pluginConfig[{j}]"
            pc_name = pc.get("name")
            if pc_name in seen_config:
                errs.append(duplicate(pc_path, pc_name))
            seen_config.add(pc_name)
            if pc_name in INVALID_PLUGINS_V1:
                errs.append(invalid(pc_path, pc_name, f'was invalid in version "{API_VERSION}" '
                                                      f'(KubeSchedulerConfiguration is version "{API_VERSION}")'))
            elif pc_name in handlers:
                if not isinstance(pc.get("args"), dict):
                    errs.append(invalid(f"{pc_path}.args", pc.get("args"), "has to match plugin args"))
                else:
                    errs.extend(handlers[pc_name][1](pc["args"], f"{pc_path}.args"))
    errs.extend(_validate_common_queue_sort(profiles))
    errs.extend(_validate_percentage("percentageOfNodesToScore", cfg.get("percentageOfNodesToScore")))
    initial = cfg.get("podInitialBackoffSeconds")
    if not isinstance(initial, int) or initial <= 0:
        errs.append(invalid("podInitialBackoffSeconds", initial, "must be greater than 0"))
    maximum = cfg.get("podMaxBackoffSeconds")
    if isinstance(initial, int) and (not isinstance(maximum, int) or maximum < initial):
        errs.append(invalid("podMaxBackoffSeconds", maximum,
                            "must be greater than or equal to PodInitialBackoffSeconds"))
    if errs:
        raise InvalidConfigurationError(errs)


def _validate_plugins(path: str, plugins: dict, reg: dict[str, type]) -> list[FieldError]:
    errs: list[FieldError] = []
    total = 0
    weights_seen: set[str] = set()
    for key in ["multiPoint"] + list(EXTENSION_POINT_FIELDS):
        ps = plugins.get(key) or {}
        ep = EXTENSION_POINT_FIELDS.get(key)
        for i, p in enumerate(ps.get("enabled") or []):
            p_path = f"{path}.plugins.{key}.enabled[{i}]"
            name = p.get("name")
            if name in INVALID_PLUGINS_V1:
                errs.append(invalid(p_path, name, f'was invalid in version "{API_VERSION}" '
                                                  f'(KubeSchedulerConfiguration is version "{API_VERSION}")'))
                continue
            cls = reg.get(name)
            if cls is None:
                errs.append(invalid(f"{p_path}.name", name, f"{ep or 'PreFilter'}Plugin {_q(name)} does not exist"))
                continue
            if ep is not None and not implements(cls, ep):
                errs.append(invalid(f"{p_path}.name", name, f"plugin {_q(name)} does not extend {ep} plugin"))
            weight = p.get("weight", 0)
            if not isinstance(weight, int) or weight < 0 or weight > MAX_INT32:
                errs.append(invalid(f"{p_path}.weight", weight, f"not in valid range [0, {MAX_INT32}]"))
                continue
            if key in ("multiPoint", "score") and implements(cls, "Score") and name not in weights_seen:
                weights_seen.add(name)
                w = weight or 1
                if w * MAX_NODE_SCORE > MAX_TOTAL_SCORE - total:
                    errs.append(invalid(f"{p_path}.weight", weight, "total score of Score plugins could overflow"))
                total += w * MAX_NODE_SCORE
    return errs


def _validate_common_queue_sort(profiles: list[dict]) -> list[FieldError]:
    errs: list[FieldError] = []
    if not profiles:
        return errs
    canon = (profiles[0].get("plugins") or {}).get("queueSort") or {}
    if len(canon.get("enabled") or []) > 1:
        errs.append(invalid("profiles[0].plugins.queueSort.Enabled", len(canon["enabled"]),
                            "only one queue sort plugin can be enabled"))
    for i in range(1, len(profiles)):
        curr = (profiles[i].get("plugins") or {}).get("queueSort") or {}
        if _norm_set(curr) != _norm_set(canon):
            errs.append(invalid(f"profiles[{i}].plugins.queueSort", curr, "must be the same for all profiles"))
    return errs


def _norm_set(ps: dict) -> tuple:
    return (tuple((p.get("name"), p.get("weight", 0)) for p in ps.get("enabled") or []),
            tuple(p.get("name") for p in ps.get("disabled") or []))


def _q(s: Any) -> str:
    from k8slab.api.errors import go_quote
    return go_quote(str(s))


def _profile_from(prof: dict) -> Profile:
    plugins = prof.get("plugins") or {}
    mp = plugins.get("multiPoint") or {}
    eps: dict[str, PluginSet] = {}
    for key, ep in EXTENSION_POINT_FIELDS.items():
        ps = plugins.get(key) or {}
        eps[ep] = PluginSet([PluginEntry(p["name"], int(p.get("weight") or 0)) for p in ps.get("enabled") or []],
                            [p.get("name", "") for p in ps.get("disabled") or []])
    mp_disabled = {p.get("name") for p in mp.get("disabled") or []}
    return Profile(
        scheduler_name=prof["schedulerName"],
        plugins=[PluginEntry(p["name"], int(p.get("weight") or 0)) for p in mp.get("enabled") or []
                 if p["name"] not in mp_disabled],
        plugin_config={pc["name"]: pc.get("args") for pc in prof.get("pluginConfig") or []},
        percentage_of_nodes_to_score=prof.get("percentageOfNodesToScore"),
        extension_points=eps,
    )


def load_config(source: Any = None, registry: dict[str, type] | None = None) -> SchedulerConfig:
    """Decode (YAML text or dict), default and validate a KubeSchedulerConfiguration. Raises
    InvalidConfigurationError (a ValueError) naming each bad field."""
    if isinstance(source, SchedulerConfig):
        return source
    if source is None:
        cfg: dict = {}
    elif isinstance(source, str):
        import yaml
        try:
            cfg = yaml.safe_load(source) or {}
        except yaml.YAMLError as err:
            raise InvalidConfigurationError([invalid("", None, f"could not decode YAML: {err}")]) from None
        if not isinstance(cfg, dict):
            raise InvalidConfigurationError([invalid("", cfg, "must be a KubeSchedulerConfiguration object")])
    elif isinstance(source, dict):
        cfg = source
    else:
        raise TypeError(f"scheduler configuration must be YAML text or a dict, not {type(source).__name__}")
    defaulted = set_defaults(cfg, registry)
    validate(defaulted, registry, original=cfg)
    return SchedulerConfig(
        raw=defaulted,
        percentage_of_nodes_to_score=defaulted["percentageOfNodesToScore"],
        pod_initial_backoff_seconds=defaulted["podInitialBackoffSeconds"],
        pod_max_backoff_seconds=defaulted["podMaxBackoffSeconds"],
        parallelism=defaulted["parallelism"],
        profile_list=[_profile_from(p) for p in defaulted["profiles"]],
    )
