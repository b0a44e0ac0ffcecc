"""One contract for every ArtifactStore backend (local folder and S3 over HTTP)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from supersvg.common.storage import (
    ArtifactNotFoundError,
    ArtifactStore,
    InvalidKeyError,
    LocalArtifactStore,
    S3ArtifactStore,
    StorageSettings,
    create_store,
)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        yield LocalArtifactStore(tmp_path / "artifacts")
    else:
        s3 = request.getfixturevalue("s3")
        yield create_store(
            StorageSettings(
                storage_backend="s3",
                s3_endpoint=s3.endpoint,
                s3_access_key=s3.access_key,
                s3_secret_key=s3.secret_key,
                s3_bucket=s3.bucket,
                s3_region=s3.region,
            )
        )


def test_put_get_exists_list_delete(store: ArtifactStore) -> None:
    store.check()
    store.put("jobs/job_a/input", b"abc", "image/png")
    store.put("jobs/job_a/output.svg", b"<svg/>", "image/svg+xml")
    store.put("jobs/job_b/input", b"x")
    assert store.get("jobs/job_a/input") == b"abc"
    assert store.exists("jobs/job_a/output.svg")
    assert not store.exists("jobs/job_a/result.json")
    assert store.list("jobs/job_a/") == ["jobs/job_a/input", "jobs/job_a/output.svg"]
    store.put("jobs/job_a/input", b"replaced")
    assert store.get("jobs/job_a/input") == b"replaced"
    assert store.delete_prefix("jobs/job_a/") == 2
    assert store.list("jobs/job_a/") == []
    assert store.list("jobs/") == ["jobs/job_b/input"]
    with pytest.raises(ArtifactNotFoundError):
        store.get("jobs/job_a/input")


def test_put_file_streams_exact_length(store: ArtifactStore) -> None:
    data = bytes(range(256)) * 5000
    store.put_file("jobs/job_c/input", io.BytesIO(data + b"trailing"), len(data))
    assert store.get("jobs/job_c/input") == data


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "jobs/../x", "jobs//x", "", "a/./b"])
def test_unsafe_keys_are_refused(store: ArtifactStore, key: str) -> None:
    with pytest.raises(InvalidKeyError):
        store.put(key, b"x")


def test_presigned_urls(store: ArtifactStore) -> None:
    store.put("jobs/job_d/output.svg", b"<svg/>")
    url = store.presigned_get_url("jobs/job_d/output.svg", timedelta(minutes=5))
    if isinstance(store, S3ArtifactStore):
        assert url is not None
        q = parse_qs(urlsplit(url).query)
        assert q["X-Amz-Expires"] == ["300"]
        assert httpx.get(url).content == b"<svg/>"
    else:
        assert url is None  # the gateway signs its own links for the local folder


def test_list_folders(store: ArtifactStore) -> None:
    assert store.list_folders("jobs/") == []
    store.put("jobs/job_a/input", b"1")
    store.put("jobs/job_a/output.svg", b"2")
    store.put("jobs/job_b/input", b"3")
    assert store.list_folders("jobs/") == ["job_a", "job_b"]
    assert store.list_folders("jobs") == ["job_a", "job_b"]
