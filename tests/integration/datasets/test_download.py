"""``supersvg datasets download`` end to end against a real HTTP server on loopback."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from supersvg.datasets.cli import main
from supersvg.datasets.fetch import DatasetError, Manifest, atomic_open, download
from supersvg.vectorizer.train.data import ImageFolder, SuperpixelCrops

from .conftest import FileServer

# ----------------------------------------------------------------------------- test


def test_test_dataset_is_generated_verified_and_repaired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["datasets", "download", "test", "--root", str(tmp_path)]) == 0
    files = sorted((tmp_path / "test" / "test_class").glob("*.jpg"))
    assert len(files) == 300
    total = sum(f.stat().st_size for f in files)
    assert 3_000_000 < total < 8_000_000
    assert "300 generated" in capsys.readouterr().out
    # Repeated run: everything verified, nothing rewritten.
    before = files[7].stat().st_mtime_ns
    assert main(["datasets", "download", "test", "--root", str(tmp_path)]) == 0
    assert "0 generated, 300 verified" in capsys.readouterr().out
    assert files[7].stat().st_mtime_ns == before
    # A damaged and a missing file are regenerated identically.
    good = files[3].read_bytes()
    files[3].write_bytes(good[:100])
    files[4].unlink()
    assert main(["datasets", "download", "test", "--root", str(tmp_path)]) == 0
    assert "2 generated, 298 verified" in capsys.readouterr().out
    assert files[3].read_bytes() == good
    assert not list(tmp_path.rglob("*.part"))
    # Any folder of images is a dataset.
    folder = ImageFolder(tmp_path / "test")
    assert len(folder) == 300 and folder.classes == ["test_class"]
    crops = SuperpixelCrops(folder, size=32, per_image=2)
    item = crops[5]
    assert item["image"].shape == (3, 32, 32) and item["mask"].shape == (1, 32, 32)
    assert 0 < float(item["mask"].mean()) <= 1


# ----------------------------------------------------------------------------- quickdraw


def _npy(rows: int, seed: int) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(seed)
    arr = (rng.random((rows, 784)) < 0.15).astype(np.uint8) * 255
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue(), arr.reshape(rows, 28, 28)


def _serve_quickdraw(server: FileServer, cats: list[str], rows: int = 300) -> dict[str, np.ndarray]:
    arrays = {}
    for i, cat in enumerate(cats):
        body, arr = _npy(rows, i)
        server.files[f"/bitmaps/{cat.replace(' ', '%20')}.npy"] = body
        arrays[cat] = arr
    return arrays


def _qd_args(root: Path, server: FileServer, cats: list[str], *extra: str) -> list[str]:
    return [
        "datasets", "download", "quickdraw", "--root", str(root),
        "--quickdraw-url", f"{server.url}/bitmaps", "--categories", ",".join(cats),
        "--limit", "40", "--no-progress", *extra,
    ]  # fmt: skip


def test_quickdraw_downloads_prefix_converts_and_skips_on_rerun(
    tmp_path: Path, file_server: FileServer
) -> None:
    cats = ["cat", "birthday cake", "sun"]
    arrays = _serve_quickdraw(file_server, cats)
    assert main(_qd_args(tmp_path, file_server, cats)) == 0
    for cat in cats:
        pngs = sorted((tmp_path / "quickdraw" / cat).glob("*.png"))
        assert [p.name for p in pngs[:2]] == ["000000.png", "000001.png"] and len(pngs) == 40
        img = np.asarray(Image.open(pngs[17]))
        assert img.shape == (28, 28)
        np.testing.assert_array_equal(img, 255 - arrays[cat][17])
        # Only the needed prefix travelled: every GET was a bounded Range request.
        path = f"/bitmaps/{cat.replace(' ', '%20')}.npy"
        assert all(r is not None and not r.endswith("-") for r in file_server.gets(path))
    manifest = json.loads((tmp_path / "quickdraw" / "manifest.json").read_text())
    assert len(manifest["files"]) == 120 and all(manifest["complete"].values())
    # Repeated run: verified from the manifest, no network.
    file_server.log.clear()
    assert main(_qd_args(tmp_path, file_server, cats)) == 0
    assert file_server.log == []
    # A corrupted PNG invalidates only its category.
    (tmp_path / "quickdraw" / "sun" / "000003.png").write_bytes(b"junk")
    assert main(_qd_args(tmp_path, file_server, cats)) == 0
    fetched = {p for p, _ in file_server.log}
    assert fetched == {"/bitmaps/sun.npy"}
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "quickdraw" / "sun" / "000003.png")),
        255 - arrays["sun"][3],
    )


def test_quickdraw_interrupted_download_resumes_with_range(
    tmp_path: Path, file_server: FileServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cats = ["moon"]
    arrays = _serve_quickdraw(file_server, cats)
    path = "/bitmaps/moon.npy"
    # The first GET (a 4 KiB header probe) is served whole; the body download is cut.
    file_server.drop[path] = [None, 5000]
    rc = main(_qd_args(tmp_path, file_server, cats, "--retries", "0"))
    err = capsys.readouterr().err
    assert rc == 9 and "moon.npy" in err and "re-run to resume" in err
    assert not (tmp_path / "quickdraw" / "moon").exists()
    assert not (tmp_path / "quickdraw" / "manifest.json").exists() or not json.loads(
        (tmp_path / "quickdraw" / "manifest.json").read_text()
    )["complete"].get("moon")
    # Re-run: resumes from the partial file with a Range request that starts past 0.
    file_server.log.clear()
    assert main(_qd_args(tmp_path, file_server, cats)) == 0
    starts = [int(r.removeprefix("bytes=").split("-")[0]) for r in file_server.gets(path) if r]
    assert max(starts) > 0
    pngs = sorted((tmp_path / "quickdraw" / "moon").glob("*.png"))
    assert len(pngs) == 40
    np.testing.assert_array_equal(np.asarray(Image.open(pngs[-1])), 255 - arrays["moon"][39])
    assert not list(tmp_path.rglob("*.part"))


def test_dropped_connection_is_retried_within_one_run(
    tmp_path: Path, file_server: FileServer
) -> None:
    body = bytes(range(256)) * 400
    file_server.files["/blob.bin"] = body
    file_server.drop["/blob.bin"] = [30_000]
    out = download(f"{file_server.url}/blob.bin", tmp_path / "blob.bin", progress=False)
    assert out.read_bytes() == body
    ranges = file_server.gets("/blob.bin")
    assert ranges[0] is None and ranges[1] == "bytes=30000-"


def test_server_without_range_support_restarts_cleanly(
    tmp_path: Path, file_server: FileServer
) -> None:
    body = b"x" * 50_000
    file_server.files["/blob.bin"] = body
    file_server.ranges = False
    (tmp_path / "blob.bin.part").write_bytes(b"y" * 1000)  # stale partial data
    out = download(f"{file_server.url}/blob.bin", tmp_path / "blob.bin", progress=False)
    assert out.read_bytes() == body


def test_network_and_disk_failures_are_clear(tmp_path: Path, file_server: FileServer) -> None:
    url = file_server.url
    with pytest.raises(DatasetError, match="HTTP 404"):
        download(f"{url}/missing.npy", tmp_path / "m.npy", progress=False, retries=0)
    # Nothing listens on port 9 of loopback (discard service is not run here).
    with pytest.raises(DatasetError, match="cannot connect"):
        download("http://127.0.0.1:9/x", tmp_path / "x", progress=False, retries=1)
    assert not (tmp_path / "x").exists()
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(DatasetError, match="cannot write"), atomic_open(blocker / "sub" / "a.png"):
        pass
    # A failure inside the block leaves nothing under the final name.
    with pytest.raises(RuntimeError), atomic_open(tmp_path / "half.png") as fh:
        fh.write(b"partial")
        raise RuntimeError("disk went away")
    assert not (tmp_path / "half.png").exists() and not (tmp_path / "half.png.part").exists()


def test_cli_reports_network_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        ["datasets", "download", "quickdraw", "--root", str(tmp_path), "--categories", "cat",
         "--quickdraw-url", "http://127.0.0.1:9/none", "--no-progress", "--retries", "0"]
    )  # fmt: skip
    assert rc == 9
    assert "error:" in capsys.readouterr().err


# ----------------------------------------------------------------------------- icons

_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24" '
    'fill="none" stroke="currentColor" stroke-width="2">{}</svg>'
)
_ICONS = {
    "package/icons/outline/circle.svg": _SVG.format('<circle cx="12" cy="12" r="9"/>'),
    "package/icons/outline/square.svg": _SVG.format('<rect x="4" y="4" width="16" height="16"/>'),
    "package/icons/outline/line.svg": _SVG.format('<path d="M4 4l16 16"/>'),
    "package/icons/filled/disc.svg": _SVG.format(
        '<circle cx="12" cy="12" r="9" fill="currentColor"/>'
    ),
}


def _tgz(entries: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in {"package/package.json": '{"name": "@tabler/icons"}', **entries}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _serve_npm(server: FileServer, tgz: bytes, integrity: str | None = None) -> None:
    sri = integrity or "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode()
    server.files["/-/icons-3.1.0.tgz"] = tgz
    meta = {
        "name": "@tabler/icons",
        "dist-tags": {"latest": "3.1.0"},
        "versions": {
            "3.1.0": {"dist": {"tarball": f"{server.url}/-/icons-3.1.0.tgz", "integrity": sri}}
        },
    }
    server.files["/@tabler%2Ficons"] = json.dumps(meta).encode()
    server.files["/@tabler/icons"] = server.files["/@tabler%2Ficons"]


def _icons_args(root: Path, server: FileServer, *extra: str) -> list[str]:
    return ["datasets", "download", "icons", "--root", str(root), "--registry", server.url,
            "--no-progress", *extra]  # fmt: skip


def test_icons_from_npm_tarball_render_with_resvg(tmp_path: Path, file_server: FileServer) -> None:
    tgz = _tgz(_ICONS)
    _serve_npm(file_server, tgz)
    file_server.drop["/-/icons-3.1.0.tgz"] = [len(tgz) // 2]  # interrupted once, resumed
    assert main(_icons_args(tmp_path, file_server)) == 0
    out = tmp_path / "tabler_icons" / "png_224"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
        "filled/disc.png", "outline/circle.png", "outline/line.png", "outline/square.png",
    ]  # fmt: skip
    disc = np.asarray(Image.open(out / "filled" / "disc.png").convert("RGB"))
    ring = np.asarray(Image.open(out / "outline" / "circle.png").convert("RGB"))
    assert disc.shape == (224, 224, 3)
    assert disc[112, 112].tolist() == [0, 0, 0]  # filled centre is ink
    assert ring[112, 112].tolist() == [255, 255, 255]  # an outline leaves the centre white
    assert (ring < 128).any()
    assert file_server.gets("/-/icons-3.1.0.tgz")[-1] == f"bytes={len(tgz) // 2}-"
    # Repeated run: the tarball is verified locally, nothing downloaded again.
    file_server.log.clear()
    assert main(_icons_args(tmp_path, file_server)) == 0
    assert file_server.gets("/-/icons-3.1.0.tgz") == []
    manifest = Manifest.load(tmp_path / "tabler_icons" / "manifest.json")
    assert manifest.verify_group("png_224")


def test_icons_integrity_mismatch_is_rejected(
    tmp_path: Path, file_server: FileServer, capsys: pytest.CaptureFixture[str]
) -> None:
    tgz = _tgz(_ICONS)
    wrong = "sha512-" + base64.b64encode(hashlib.sha512(b"other").digest()).decode()
    _serve_npm(file_server, tgz, integrity=wrong)
    assert main(_icons_args(tmp_path, file_server)) == 9
    assert "integrity mismatch" in capsys.readouterr().err
    assert not list((tmp_path / "tabler_icons").rglob("*.tgz"))
    assert not (tmp_path / "tabler_icons" / "png_224").exists()


def test_icons_from_a_local_checkout(tmp_path: Path) -> None:
    checkout = tmp_path / "tabler-icons"
    for name, text in _ICONS.items():
        target = checkout / name.removeprefix("package/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    args = ["datasets", "download", "icons", "--root", str(tmp_path / "data"),
            "--icons-source", str(checkout), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    assert len(list((tmp_path / "data" / "tabler_icons" / "png_224").rglob("*.png"))) == 4
