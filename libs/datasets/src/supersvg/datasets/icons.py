"""The ``icons`` dataset: Tabler Icons SVGs rendered to 224 px PNGs with resvg.

Source ``npm`` (default) resolves the ``@tabler/icons`` tarball from the registry
metadata, downloads it (resumable) and checks npm's ``dist.integrity``. Any other source is
a git URL or a local checkout. Each style folder (``outline``, ``filled``) is a category:
``tabler_icons/png_224/<category>/<name>.png``.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import resvg_py
from PIL import Image

from .fetch import DatasetError, Manifest, download, fetch_json, verify_integrity, write_atomic
from .progress import Progress

__all__ = ["NPM_REGISTRY", "TABLER_GIT", "TABLER_PACKAGE", "download_icons", "render_svg"]

NPM_REGISTRY = "https://registry.npmjs.org"
TABLER_PACKAGE = "@tabler/icons"
TABLER_GIT = "https://github.com/tabler/tabler-icons.git"
ICON_SIZE = 224
_SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


def render_svg(svg: str, size: int = ICON_SIZE) -> bytes:
    """PNG bytes of ``svg`` rendered at ``size`` x ``size`` on white (resvg)."""
    try:
        png = bytes(resvg_py.svg_to_bytes(svg_string=svg, width=size, height=size))
    except ValueError as exc:
        raise DatasetError(f"resvg cannot render the SVG: {exc}") from exc
    # resvg honours the viewBox aspect; flatten on white and force the exact square size.
    img = Image.open(io.BytesIO(png)).convert("RGBA")
    canvas = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    canvas.alpha_composite(img.resize((size, size)) if img.size != (size, size) else img)
    out = io.BytesIO()
    canvas.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def _split_icon_path(path: str) -> tuple[str, str] | None:
    """('outline', 'name') for ``.../icons/outline/name.svg`` ('default' when flat)."""
    parts = path.split("/")
    if not parts[-1].endswith(".svg") or "icons" not in parts:
        return None
    rest = parts[parts.index("icons") + 1 :]
    if len(rest) == 1:
        category, name = "default", rest[0]
    elif len(rest) == 2:
        category, name = rest
    else:
        return None
    name = name[: -len(".svg")]
    if not (_SAFE.match(category) and _SAFE.match(name)):
        return None
    return category, name


def _tar_icons(tgz: Path) -> Iterator[tuple[str, str, str]]:
    # Members are read, never extracted, so hostile paths in the archive cannot escape.
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            for member in tar:
                if not member.isfile() or not member.name.startswith("package/icons/"):
                    continue
                split = _split_icon_path(member.name)
                fh = tar.extractfile(member)
                if split is None or fh is None:
                    continue
                yield split[0], split[1], fh.read().decode("utf-8")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetError(f"cannot read {tgz}: {exc}") from exc


def _tree_icons(checkout: Path) -> Iterator[tuple[str, str, str]]:
    icons = checkout / "icons"
    if not icons.is_dir():
        raise DatasetError(f"{checkout} has no icons/ folder (not a Tabler Icons checkout)")
    for svg in sorted(icons.rglob("*.svg")):
        split = _split_icon_path(svg.relative_to(checkout).as_posix())
        if split is not None:
            yield split[0], split[1], svg.read_text(encoding="utf-8")


def _resolve_npm(registry: str, version: str | None) -> tuple[str, str, str]:
    """(version, tarball URL, integrity) from the registry metadata."""
    url = f"{registry.rstrip('/')}/{urllib.parse.quote(TABLER_PACKAGE, safe='@')}"
    meta = fetch_json(url)
    try:
        ver = version or meta["dist-tags"]["latest"]
        dist = meta["versions"][ver]["dist"]
        return ver, dist["tarball"], dist["integrity"]
    except (KeyError, TypeError) as exc:
        raise DatasetError(f"registry metadata at {url} lacks {exc} for version {version}") from exc


def _git_checkout(source: str, cache: Path) -> Path:
    if Path(source).is_dir() and not (Path(source) / ".git").exists():
        return Path(source)
    dest = cache / "tabler-icons"
    if (dest / ".git").exists():
        return dest
    tmp = cache / "tabler-icons.part"
    subprocess.run(["rm", "-rf", str(tmp)], check=False)
    try:
        subprocess.run(
            ["git", "clone", "--depth", "1", "--quiet", source, str(tmp)],
            check=True,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise DatasetError(f"git clone {source} failed: {detail.strip()}") from exc
    tmp.rename(dest)
    return dest


def download_icons(
    root: Path,
    *,
    source: str = "npm",
    registry: str = NPM_REGISTRY,
    version: str | None = None,
    size: int = ICON_SIZE,
    limit: int | None = None,
    progress: bool = True,
    retries: int = 3,
) -> dict[str, int]:
    """Write ``root/tabler_icons/png_224/<category>/<name>.png``; return counts."""
    base = Path(root) / "tabler_icons"
    manifest = Manifest.load(base / "manifest.json")
    cache = base / ".sources"
    group = f"png_{size}"
    if source == "npm":
        ver, tarball, integrity = _resolve_npm(registry, version)
        tgz = cache / f"tabler-icons-{ver}.tgz"
        if tgz.exists():
            try:
                verify_integrity(tgz, integrity)
            except DatasetError:
                tgz.unlink()
        if not tgz.exists():
            download(tarball, tgz, progress=progress, desc=f"@tabler/icons {ver}", retries=retries)
            try:
                verify_integrity(tgz, integrity)
            except DatasetError:
                tgz.unlink(missing_ok=True)  # never keep a corrupt tarball as if complete
                raise
        src_id = {"source": "npm", "version": ver, "tarball": tarball, "integrity": integrity}
        icons: Iterator[tuple[str, str, str]] = _tar_icons(tgz)
    else:
        checkout = _git_checkout(source, cache)
        src_id = {"source": source}
        icons = _tree_icons(checkout)
    if manifest.sources.get(group) == {**src_id, "limit": limit} and manifest.verify_group(group):
        return _counts(manifest, group)
    counts: dict[str, int] = {}
    bar = Progress("render icons", unit="icons", enabled=progress)
    for category, name, svg in icons:
        if limit is not None and counts.get(category, 0) >= limit:
            continue
        rel = f"{group}/{category}/{name}.png"
        counts[category] = counts.get(category, 0) + 1
        bar.update(1)
        if manifest.verify(rel):
            continue
        manifest.record(rel, write_atomic(base / rel, render_svg(svg, size)))
    bar.close()
    if not counts:
        raise DatasetError("the icon source contained no icons/<style>/*.svg files")
    manifest.sources[group] = {**src_id, "limit": limit}
    manifest.complete[group] = True
    manifest.save()
    return counts


def _counts(manifest: Manifest, group: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rel in manifest.files:
        parts = rel.split("/")
        if parts[0] == group and len(parts) == 3:
            counts[parts[1]] = counts.get(parts[1], 0) + 1
    return counts
