"""Image reference normalisation and the registry model."""

import pytest
from hypothesis import given, strategies as st

from k8slab.cri import ImagePullError, InvalidImageName, Registry, apply_default_image_tag, normalize
from k8slab.cri.images import parse_normalized_named


@pytest.mark.parametrize("ref,want", [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.27", "docker.io/library/nginx:1.27"),
    ("library/nginx", "docker.io/library/nginx:latest"),
    ("docker.io/nginx", "docker.io/library/nginx:latest"),
    ("index.docker.io/nginx:1.27", "docker.io/library/nginx:1.27"),
    ("bitnami/redis", "docker.io/bitnami/redis:latest"),
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
    ("registry.k8s.io/coredns/coredns:v1.12.1", "registry.k8s.io/coredns/coredns:v1.12.1"),
    ("localhost/app", "localhost/app:latest"),
    ("localhost:5000/app:v1", "localhost:5000/app:v1"),
    ("nginx@sha256:" + "ab" * 32, "docker.io/library/nginx@sha256:" + "ab" * 32),
])
def test_normalize(ref, want):
    assert normalize(ref) == want


@pytest.mark.parametrize("ref,msg", [
    ("NGINX", "invalid reference format: repository name (library/NGINX) must be lowercase"),
    ("nginx:", "invalid reference format"),
    ("nginx::1", "invalid reference format"),
    ("a" * 64, "cannot specify 64-byte hexadecimal strings"),
])
def test_invalid_names(ref, msg):
    with pytest.raises(InvalidImageName) as e:
        normalize(ref)
    assert msg in str(e.value)


def test_kubelet_default_tag_keeps_short_name():
    assert apply_default_image_tag("busybox") == "busybox:latest"
    assert apply_default_image_tag("busybox:1.36") == "busybox:1.36"
    with pytest.raises(InvalidImageName, match='couldn\'t parse image name "Busybox:1"'):
        apply_default_image_tag("Busybox:1")


_component = st.from_regex(r"[a-z0-9]{1,8}([._-][a-z0-9]{1,8}){0,2}", fullmatch=True)


@given(st.lists(_component, min_size=1, max_size=3), st.one_of(st.none(), st.from_regex(r"[a-z0-9][a-z0-9.-]{0,8}",
                                                                                         fullmatch=True)))
def test_normalize_is_idempotent_and_fully_qualified(parts, tag):
    ref = "/".join(parts) + (f":{tag}" if tag else "")
    n = normalize(ref)
    assert normalize(n) == n
    name = parse_normalized_named(n)
    assert name.tag == (tag or "latest")
    assert "/" in name.path or name.domain != "docker.io"


def test_registry_errors_match_containerd():
    r = Registry()
    with pytest.raises(ImagePullError) as e:
        r.resolve("nginxx")
    assert e.value.code == "Unknown"
    assert str(e.value) == (
        'rpc error: code = Unknown desc = '
        'failed to pull and unpack image "docker.io/library/nginxx:latest": failed to resolve reference '
        '"docker.io/library/nginxx:latest": pull access denied, repository does not exist or may require '
        'authorization: server message: insufficient_scope: authorization failed')
    assert e.value.duration_ms == r.latency_ms
    with pytest.raises(ImagePullError) as e:
        r.resolve("nginx:1.999")
    assert str(e.value).startswith("rpc error: code = NotFound desc = failed to pull and unpack image")
    assert e.value.message.endswith('failed to resolve reference "docker.io/library/nginx:1.999": '
                                 'docker.io/library/nginx:1.999: not found')


def test_registry_resolve_and_pull_time():
    r = Registry(latency_ms=400, bandwidth=30_000_000)
    img = r.resolve("nginx:1.27")
    assert img.repo_tag == "docker.io/library/nginx:1.27"
    assert img.repo_digest.startswith("docker.io/library/nginx@sha256:") and len(img.repo_digest) == 31 + 64
    assert img.image_id.startswith("sha256:")
    assert r.pull_duration_ms(img.size) == 400 + img.size * 1000 // 30_000_000
    assert r.resolve(img.repo_digest.split("/", 1)[1].replace("library/", "")).image_id == img.image_id
    assert r.add("example.com/shop/api:v2", 1_000_000) == "example.com/shop/api:v2"
    assert r.resolve("example.com/shop/api:v2").size == 1_000_000
