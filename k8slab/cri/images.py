"""Mirrors: github.com/distribution/reference (normalize.go ParseNormalizedNamed, regexp.go), containerd
internal/cri/server/images/image_pull.go (PullImage and its error texts), pkg/kubelet/images/image_manager.go
(applyDefaultImageTag).

Image references and a small model of the registries a node pulls from.

A short reference is normalised the way containerd and docker do: ``nginx`` is
``docker.io/library/nginx:latest``, ``nginx:1.27`` is ``docker.io/library/nginx:1.27``, ``bitnami/redis`` is
``docker.io/bitnami/redis:latest``; a first component with a dot or a port (``registry.k8s.io/pause``) or
``localhost`` names the registry. The :class:`Registry` knows a few common images with their (approximate,
linux/amd64, compressed) sizes; pulling one takes a fixed round-trip latency plus size / bandwidth of virtual
time. An unknown repository or tag fails the way containerd reports it to the kubelet.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field

from .errors import CRIError

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"

# Pull-time model: one registry round trip (resolve the manifest) plus the layers at the node's bandwidth.
PULL_LATENCY_MS = 400
PULL_BANDWIDTH_BYTES_PER_S = 30_000_000

# -- the reference grammar (distribution/reference regexp.go) ----------------------------------------------------
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEPARATOR + _ALNUM + r")*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = r"(?:" + _DOMAIN + r"/)?" + _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_REFERENCE_RE = re.compile(r"^(" + _NAME + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?$")
_ANCHORED_IDENTIFIER_RE = re.compile(r"^[a-f0-9]{64}$")


class InvalidImageName(ValueError):
    """The reference cannot be parsed (the kubelet reports ``InvalidImageName``)."""


@dataclass(frozen=True)
class ImageName:
    """A parsed, normalised reference: ``domain/path[:tag][@digest]``."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        s = self.repository
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s


def split_docker_domain(name: str) -> tuple[str, str]:
    """splitDockerDomain: the registry host and the remainder, with docker.io and library/ filled in."""
    i = name.find("/")
    if i == -1 or ("." not in name[:i] and ":" not in name[:i] and name[:i] != "localhost"
                   and name[:i].lower() == name[:i]):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = name[:i], name[i + 1:]
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


@functools.lru_cache(maxsize=4096)
def parse_normalized_named(s: str) -> ImageName:
    """ParseNormalizedNamed: parse a reference as a user would type it; raises :class:`InvalidImageName`.
    Remembered per reference (the result is immutable; a bad reference raises every time): the kubelet and the
    runtime parse the same few references for every pod."""
    if _ANCHORED_IDENTIFIER_RE.match(s):
        raise InvalidImageName(f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = split_docker_domain(s)
    remote = remainder.split(":", 1)[0].split("@", 1)[0]
    if remote.lower() != remote:
        raise InvalidImageName(f"invalid reference format: repository name ({remote}) must be lowercase")
    m = _REFERENCE_RE.match(f"{domain}/{remainder}")
    if not m:
        raise InvalidImageName("invalid reference format")
    name, tag, digest = m.group(1), m.group(2) or "", m.group(3) or ""
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidImageName(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    d, _, path = name.partition("/")
    return ImageName(d, path, tag, digest)


@functools.lru_cache(maxsize=4096)
def normalize(image: str) -> str:
    """The fully qualified reference containerd uses: ``nginx`` -> ``docker.io/library/nginx:latest``."""
    n = parse_normalized_named(image)
    if not n.tag and not n.digest:
        n = ImageName(n.domain, n.path, DEFAULT_TAG)
    return str(n)


def apply_default_image_tag(image: str) -> str:
    """The kubelet's applyDefaultImageTag: ``busybox`` -> ``busybox:latest`` (the name stays short)."""
    try:
        n = parse_normalized_named(image)
    except InvalidImageName as e:
        raise InvalidImageName(f'couldn\'t parse image name "{image}": {e}') from None
    if not n.tag and not n.digest:
        return image + ":" + DEFAULT_TAG
    return image


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# -- the registries -----------------------------------------------------------------------------------------------

@dataclass
class Repository:
    """One repository: the tags it has and their sizes; ``daemon`` images run until stopped by default."""

    name: str  # fully qualified, e.g. "docker.io/library/nginx"
    tags: dict[str, int] = field(default_factory=dict)  # tag -> size in bytes
    daemon: bool = True
    pinned: bool = False  # the sandbox image is pinned: image garbage collection never removes it


def _default_catalog() -> list[Repository]:
    lib = "docker.io/library/"
    k8s = "registry.k8s.io/"
    return [
        Repository(lib + "nginx", {"latest": 72_195_292, "1.29": 72_195_292, "1.28": 72_010_612,
                                   "1.27": 68_857_691, "1.27.4": 68_857_691, "1.26": 67_668_023,
                                   "1.25": 70_544_000, "stable": 72_010_612, "mainline": 72_195_292,
                                   "alpine": 21_198_220, "1.27-alpine": 20_437_114}),
        Repository(lib + "busybox", {"latest": 2_155_146, "1.37": 2_155_146, "1.36": 2_160_406,
                                     "1.35": 2_224_229, "stable": 2_155_146}, daemon=False),
        Repository(lib + "alpine", {"latest": 3_653_068, "3.22": 3_802_452, "3.21": 3_644_146,
                                    "3.20": 3_626_898}, daemon=False),
        Repository(lib + "ubuntu", {"latest": 29_725_034, "24.04": 29_725_034, "22.04": 29_538_961},
                   daemon=False),
        Repository(lib + "redis", {"latest": 49_389_220, "7": 45_985_564, "7.4": 45_985_564,
                                   "8": 49_389_220, "alpine": 17_235_441}),
        Repository(lib + "httpd", {"latest": 45_316_510, "2.4": 45_316_510, "alpine": 23_471_240}),
        Repository(lib + "postgres", {"latest": 161_430_709, "17": 161_430_709, "16": 157_602_818}),
        Repository(lib + "mysql", {"latest": 175_221_614, "8.4": 175_221_614, "8.0": 168_432_511}),
        Repository(lib + "python", {"latest": 385_612_442, "3.13": 385_612_442, "3.12-slim": 43_871_280,
                                    "3.13-slim": 43_120_335}, daemon=False),
        Repository(lib + "traefik", {"latest": 56_120_112, "v3.4": 56_120_112}),
        Repository("docker.io/curlimages/curl", {"latest": 10_436_207, "8.11.1": 10_436_207}, daemon=False),
        Repository("docker.io/hashicorp/http-echo", {"latest": 3_528_131, "1.0": 3_528_131}),
        Repository(k8s + "pause", {"3.10": 320_368, "3.9": 321_520}, pinned=True),
        Repository(k8s + "coredns/coredns", {"v1.12.1": 22_384_805, "v1.11.3": 18_562_039}),
        Repository(k8s + "kube-proxy", {"v1.34.1": 31_927_640, "v1.33.5": 31_237_186}),
        Repository(k8s + "kube-apiserver", {"v1.34.1": 27_061_991}),
        Repository(k8s + "kube-controller-manager", {"v1.34.1": 22_819_474}),
        Repository(k8s + "kube-scheduler", {"v1.34.1": 17_380_000}),
        Repository(k8s + "etcd", {"3.6.4-0": 22_447_213, "3.5.21-0": 58_938_593}),
        Repository(k8s + "e2e-test-images/agnhost", {"2.53": 51_364_710, "2.52": 51_163_206}),
        Repository(k8s + "metrics-server/metrics-server", {"v0.8.0": 20_582_732}),
        Repository("docker.io/flannel/flannel", {"v0.27.0": 32_135_621}),
        Repository("docker.io/flannel/flannel-cni-plugin", {"v1.7.1-flannel1": 4_855_432}, daemon=False),
    ]


class ImagePullError(CRIError):
    """A failed PullImage, with containerd's message and gRPC code (``NotFound`` for a missing tag or repository on
    another registry, ``Unknown`` otherwise, e.g. Docker Hub's "pull access denied"); ``duration_ms`` is how long
    the attempt took."""

    def __init__(self, message: str, duration_ms: int = 0, code: str = "Unknown") -> None:
        super().__init__(message, code)
        self.duration_ms = duration_ms


@dataclass(frozen=True)
class ResolvedImage:
    """What a successful resolve gives: the names, digests and size of one image."""

    repo_tag: str  # docker.io/library/nginx:1.27
    repo_digest: str  # docker.io/library/nginx@sha256:...
    image_id: str  # sha256:... (the config digest, containerd's image id and the PullImage result)
    size: int
    daemon: bool
    pinned: bool


class Registry:
    """The registries a node can reach, as one catalog of repositories."""

    def __init__(self, catalog: list[Repository] | None = None, latency_ms: int = PULL_LATENCY_MS,
                 bandwidth: int = PULL_BANDWIDTH_BYTES_PER_S) -> None:
        self.repositories: dict[str, Repository] = {r.name: r for r in (catalog or _default_catalog())}
        self.latency_ms = latency_ms
        self.bandwidth = bandwidth

    def add(self, image: str, size: int, daemon: bool = True) -> str:
        """Publish an image (e.g. ``add("example.com/shop/api:v2", 40_000_000)``); returns its normalised name."""
        n = parse_normalized_named(image)
        repo = self.repositories.setdefault(n.repository, Repository(n.repository, daemon=daemon))
        repo.tags[n.tag or DEFAULT_TAG] = int(size)
        return normalize(image)

    def pull_duration_ms(self, size: int) -> int:
        """Time to pull an image of ``size`` bytes: one round trip plus the layers at the node's bandwidth."""
        return self.latency_ms + (size * 1000) // self.bandwidth

    def resolve(self, image: str) -> ResolvedImage:
        """Resolve a reference to an image, or raise :class:`ImagePullError` with containerd's text."""
        try:
            ref = normalize(image)
        except InvalidImageName as e:
            raise ImagePullError(f'failed to pull and unpack image "{image}": {e}', 0) from None
        n = parse_normalized_named(ref)
        repo = self.repositories.get(n.repository)
        prefix = f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": '
        if repo is None:
            if n.domain == DEFAULT_DOMAIN:
                # Docker Hub answers 401 for a repository that does not exist
                raise ImagePullError(prefix + "pull access denied, repository does not exist or may require "
                                              "authorization: server message: insufficient_scope: authorization "
                                              "failed", self.latency_ms)
            raise ImagePullError(prefix + f"{ref}: not found", self.latency_ms, "NotFound")
        if n.digest:
            tag = next((t for t in repo.tags if _sha256(f"{repo.name}:{t}/manifest") == n.digest), None)
        else:
            tag = n.tag if n.tag in repo.tags else None
        if tag is None:
            raise ImagePullError(prefix + f"{ref}: not found", self.latency_ms, "NotFound")
        return ResolvedImage(repo_tag=f"{repo.name}:{tag}",
                             repo_digest=f"{repo.name}@{_sha256(f'{repo.name}:{tag}/manifest')}",
                             image_id=_sha256(f"{repo.name}:{tag}/config"), size=repo.tags[tag],
                             daemon=repo.daemon, pinned=repo.pinned)
