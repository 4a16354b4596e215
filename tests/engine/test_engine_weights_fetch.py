"""Fetching weight files through a loopback HTTP server (127.0.0.1 only) serving files the test
writes: success, hash mismatch, 404, truncated body, cancel, mirror; the cache is unchanged after
every failure. Nothing here reaches beyond this machine."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest
from weights_server import Server

from engine.errors import EngineInputError, WeightsFetchError
from engine.models import weight_files as F

BODY = os.urandom(300_000)
SHA = hashlib.sha256(BODY).hexdigest()


def spec_for(url: str, *, sha256: str | None = SHA, prefix: str | None = None) -> F.WeightFile:
    name = f"demo-{(prefix or SHA)[:8]}.pth"
    return F.WeightFile("demo.test", url, name, sha256, prefix, len(BODY), "CC0-1.0", "test licence\n", "a test file")


def cache_listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_fetch_success_is_atomic_and_reports_progress(server: Server, torch_home: Path) -> None:
    url = server.put(f"demo-{SHA[:8]}.pth", BODY)
    spec = spec_for(url)
    seen: list[tuple[int, int | None]] = []
    path = F.fetch(spec, progress=lambda done, total: seen.append((done, total)))
    assert path == torch_home / spec.filename == F.cache_path(spec)
    assert path.read_bytes() == BODY and F.is_cached(spec)
    assert F.licence_path(spec).read_text() == "test licence\n"
    assert seen[-1] == (len(BODY), len(BODY)) and len(seen) > 1
    assert cache_listing(torch_home) == sorted([spec.filename, spec.filename + ".LICENSE.txt"])


def test_hash_prefix_only_is_checked_like_torchvision(server: Server, torch_home: Path) -> None:
    url = server.put(f"demo-{SHA[:8]}.pth", BODY)
    path = F.fetch(spec_for(url, sha256=None))  # prefix taken from the file name, as torch.hub does
    assert path.read_bytes() == BODY


@pytest.mark.parametrize("wrong", ["sha256", "prefix"])
def test_hash_mismatch_leaves_cache_unchanged(server: Server, torch_home: Path, wrong: str) -> None:
    url = server.put("demo.pth", BODY)
    spec = spec_for(url, sha256="0" * 64) if wrong == "sha256" else spec_for(url, sha256=None, prefix="deadbeef")
    with pytest.raises(WeightsFetchError, match="mismatch"):
        F.fetch(spec)
    assert cache_listing(torch_home) == []


def test_404_is_a_clear_error(server: Server, torch_home: Path) -> None:
    spec = spec_for(f"{server.base}/models/missing.pth")
    with pytest.raises(WeightsFetchError, match="HTTP 404"):
        F.fetch(spec)
    assert cache_listing(torch_home) == []
    assert issubclass(WeightsFetchError, EngineInputError)  # main.py exits 2


def test_truncated_body_is_refused(server: Server, torch_home: Path) -> None:
    url = server.put("demo.pth", BODY, truncated=True)
    with pytest.raises(WeightsFetchError, match="truncated|broke"):
        F.fetch(spec_for(url))
    assert cache_listing(torch_home) == []


def test_failure_keeps_the_previous_file(server: Server, torch_home: Path) -> None:
    url = server.put(f"demo-{SHA[:8]}.pth", BODY)
    spec = spec_for(url)
    F.fetch(spec)
    broken = replace(spec, url=f"{server.base}/models/gone.pth")
    with pytest.raises(WeightsFetchError):
        F.fetch(broken)
    assert F.cache_path(spec).read_bytes() == BODY


def test_cancel_stores_nothing(server: Server, torch_home: Path) -> None:
    url = server.put("demo.pth", BODY)
    calls = iter(range(1000))
    with pytest.raises(WeightsFetchError, match="cancelled"):
        F.fetch(spec_for(url), cancel=lambda: next(calls) >= 2)
    assert not [n for n in cache_listing(torch_home) if n.startswith("demo")]


def test_mirror_from_argument_and_environment(server: Server, torch_home: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    server.put(f"demo-{SHA[:8]}.pth", BODY)
    spec = spec_for("https://unreachable.invalid/models/x.pth")
    assert F.mirror_url(spec, None) == spec.url
    assert F.mirror_url(spec, server.base + "/m/") == f"{server.base}/m/{spec.filename}"
    monkeypatch.setenv(F.MIRROR_ENV, server.base + "/mirror")
    assert F.mirror_url(spec, None) == f"{server.base}/mirror/{spec.filename}"
    assert F.fetch(spec).read_bytes() == BODY


def test_local_file_source_is_copied_and_checked(tmp_path: Path, torch_home: Path) -> None:
    local = tmp_path / "download.bin"
    local.write_bytes(BODY)
    spec = spec_for("https://unreachable.invalid/x.pth")
    assert F.fetch(spec, local).read_bytes() == BODY
    bad = tmp_path / "bad.bin"
    bad.write_bytes(BODY[:-1])
    with pytest.raises(WeightsFetchError, match="mismatch"):
        F.fetch(replace(spec, filename="other-" + SHA[:8] + ".pth"), bad)
    with pytest.raises(WeightsFetchError, match="no such file"):
        F.fetch(spec, tmp_path / "absent.bin")


def test_catalogue_names_registry_weights_and_unknown_names_are_listed(torch_home: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    names = {e.name for e in F.catalogue()}
    assert "maskrcnn_resnet50_fpn.coco" in names and "resnet50.imagenet" in names
    entry = F.find("fasterrcnn_mobilenet_v3_large_320_fpn")  # a model name finds its weights
    assert entry.filename == "fasterrcnn_mobilenet_v3_large_320_fpn-907ea3f9.pth"
    assert entry.hash_prefix == "907ea3f9" and F.cache_path(entry).parent == torch_home
    with pytest.raises(WeightsFetchError, match="known: .*resnet50.imagenet"):
        F.find("no-such-weights")
    monkeypatch.setattr(F, "_extra", {})
    F.register([spec_for("https://x.invalid/y.pth")])
    assert F.find("demo.test").licence == "CC0-1.0"
