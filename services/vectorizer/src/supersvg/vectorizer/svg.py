"""Compact SVG writer: viewBox, rounded relative coordinates, merged styles."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .shapes import VPath

__all__ = ["format_color", "path_data", "straight_segments", "write_svg"]


def format_color(rgb: Sequence[float] | np.ndarray) -> str:
    """``#rgb`` when it is exact, else ``#rrggbb``."""
    v = [round(float(np.clip(c, 0.0, 1.0)) * 255) for c in rgb[:3]]
    h = "".join(f"{c:02x}" for c in v)
    if h[0] == h[1] and h[2] == h[3] and h[4] == h[5]:
        return "#" + h[0] + h[2] + h[4]
    return "#" + h


@lru_cache(maxsize=65536)
def _num(q: int, precision: int) -> str:
    """Fixed-point integer ``q`` (scaled by 10**precision) as the shortest SVG number."""
    if precision == 0:
        return str(q)
    neg = q < 0
    s = str(abs(q)).rjust(precision + 1, "0")
    whole, frac = s[:-precision], s[-precision:].rstrip("0")
    whole = whole.lstrip("0")
    out = f"{whole}.{frac}" if frac else whole or "0"
    return ("-" if neg else "") + out


class _Emitter:
    """Joins commands and numbers with the fewest separators SVG allows."""

    def __init__(self, precision: int) -> None:
        self.precision = precision
        self.parts: list[str] = []
        self.last_cmd = ""
        self.prev_num = ""

    def cmd(self, c: str, nums: Sequence[int]) -> None:
        # A repeated command letter is implicit (after m, implicit repeats mean l).
        if c != self.last_cmd or c in "mMzZ":
            self.parts.append(c)
            self.prev_num = ""
        self.last_cmd = "l" if c == "m" else c
        for q in nums:
            s = _num(q, self.precision)
            if self.prev_num and not (
                s.startswith("-") or (s.startswith(".") and "." in self.prev_num)
            ):
                self.parts.append(" ")
            self.parts.append(s)
            self.prev_num = s

    def text(self) -> str:
        return "".join(self.parts)


def straight_segments(sub: np.ndarray) -> np.ndarray:
    """Per segment of a closed cubic subpath: are its controls on the chord (a line)?"""
    n = len(sub) // 3
    p0 = sub[0::3][:n]
    c1 = sub[1::3][:n]
    c2 = sub[2::3][:n]
    p1 = np.concatenate([p0[1:], p0[:1]], axis=0)
    d = p1 - p0
    tol = 1e-3 + 0.02 * np.abs(d).max(axis=1)
    e1 = np.abs(c1 - (p0 + d / 3.0)).max(axis=1)
    e2 = np.abs(c2 - (p0 + 2.0 * d / 3.0)).max(axis=1)
    return np.asarray((e1 <= tol) & (e2 <= tol))


def _straight_many(subs: list[np.ndarray]) -> list[list[bool]]:
    """:func:`straight_segments` for many subpaths in one vectorised pass."""
    allp = np.concatenate([s[: 3 * (len(s) // 3)] for s in subs])
    counts = np.array([len(s) // 3 for s in subs])
    p0 = allp[0::3]
    c1 = allp[1::3]
    c2 = allp[2::3]
    starts = np.cumsum(counts) - counts
    nxt = np.arange(len(p0)) + 1
    nxt[np.cumsum(counts) - 1] = starts  # the last segment returns to the ring's start
    d = p0[nxt] - p0
    tol = 1e-3 + 0.02 * np.abs(d).max(axis=1)
    e1 = np.abs(c1 - (p0 + d / 3.0)).max(axis=1)
    e2 = np.abs(c2 - (p0 + 2.0 * d / 3.0)).max(axis=1)
    flat = ((e1 <= tol) & (e2 <= tol)).tolist()
    out = []
    pos = 0
    for n in counts.tolist():
        out.append(flat[pos : pos + n])
        pos += n
    return out


def path_data(subpaths: Sequence[np.ndarray], precision: int = 1) -> str:
    """SVG ``d`` attribute for closed cubic subpaths (see :class:`VPath`).

    Coordinates are rounded to ``precision`` decimals first and written as differences of
    rounded values, so relative commands accumulate no error.
    """
    scale = 10**precision
    em = _Emitter(precision)
    cx, cy = 0, 0
    subs = [np.asarray(s, dtype=np.float64) for s in subpaths if len(s) >= 3]
    if not subs:
        return ""
    flags = _straight_many(subs)
    for arr, straight in zip(subs, flags, strict=True):
        n = len(arr) // 3
        q = np.round(arr * scale).astype(np.int64)
        q = np.concatenate([q, q[:1]], axis=0).tolist()
        sx, sy = q[0]
        if em.parts:
            em.cmd("m", [sx - cx, sy - cy])
        else:
            em.cmd("M", [sx, sy])
        cx, cy = sx, sy
        for i in range(n):
            ex, ey = q[3 * i + 3]
            if straight[i]:
                if i == n - 1:
                    break  # 'z' draws the closing line
                dx, dy = ex - cx, ey - cy
                if dx == 0 and dy == 0:
                    continue
                if dy == 0:
                    em.cmd("h", [dx])
                elif dx == 0:
                    em.cmd("v", [dy])
                else:
                    em.cmd("l", [dx, dy])
            else:
                ax, ay = q[3 * i + 1]
                bx, by = q[3 * i + 2]
                em.cmd("c", [ax - cx, ay - cy, bx - cx, by - cy, ex - cx, ey - cy])
            cx, cy = ex, ey
        em.cmd("z", [])
        cx, cy = sx, sy
    return em.text()


def _style(p: VPath, gradient_id: str | None = None) -> str:
    if gradient_id is not None:
        return f'fill="url(#{gradient_id})"'
    style = f'fill="{format_color(p.color)}"'
    a = float(p.color[3])
    if a < 0.995:
        style += f' fill-opacity="{_num(round(a * 100), 2)}"'
    return style


def _gradient_defs(paths: Sequence[VPath], precision: int) -> tuple[list[str | None], str]:
    """An id per gradient-filled path and the ``<defs>`` that define them."""
    ids: list[str | None] = []
    defs: list[str] = []
    scale = 10**precision
    for p in paths:
        g = p.gradient
        if g is None:
            ids.append(None)
            continue
        gid = "g" + _class_name(len(defs))
        ids.append(gid)
        x1, y1, x2, y2 = (_num(round(float(v) * scale), precision) for v in (*g.begin, *g.end))
        stops = []
        for offset, stop in zip(("", ' offset="1"'), g.stops, strict=True):
            op = float(stop[3])
            alpha = f' stop-opacity="{_num(round(op * 100), 2)}"' if op < 0.995 else ""
            stops.append(f'<stop{offset} stop-color="{format_color(stop)}"{alpha}/>')
        defs.append(
            f'<linearGradient id="{gid}" gradientUnits="userSpaceOnUse" x1="{x1}" y1="{y1}" '
            f'x2="{x2}" y2="{y2}">{"".join(stops)}</linearGradient>'
        )
    return ids, ("<defs>" + "".join(defs) + "</defs>") if defs else ""


def _grouped(
    paths: Sequence[VPath], gradient_ids: Sequence[str | None]
) -> list[tuple[str, list[np.ndarray]]]:
    """Shapes of one fill joined into one element where painter's order allows it.

    A shape moves down to the last earlier shape of its fill when no shape in between
    overlaps its bounding box (it then paints the same pixels in the same order)."""
    styles = [_style(p, gid) for p, gid in zip(paths, gradient_ids, strict=True)]
    boxes = np.array(
        [
            [*np.min(np.concatenate(p.subpaths), 0), *np.max(np.concatenate(p.subpaths), 0)]
            if p.subpaths
            else [np.inf, np.inf, -np.inf, -np.inf]
            for p in paths
        ]
    ).reshape(-1, 4)
    groups: list[tuple[str, list[np.ndarray], list[int]]] = []  # style, subpaths, members
    last: dict[str, int] = {}  # style -> index in groups
    for i, p in enumerate(paths):
        g = last.get(styles[i])
        if g is not None:
            # Every shape drawn after group g's members and before this one.
            between = [j for gg in groups[g + 1 :] for j in gg[2]]
            if between:
                b = boxes[between]
                hit = (
                    (b[:, 0] <= boxes[i, 2])
                    & (b[:, 2] >= boxes[i, 0])
                    & (b[:, 1] <= boxes[i, 3])
                    & (b[:, 3] >= boxes[i, 1])
                )
                if hit.any():
                    g = None
        if g is None:
            groups.append((styles[i], list(p.subpaths), [i]))
            last[styles[i]] = len(groups) - 1
        else:
            groups[g][1].extend(p.subpaths)
            groups[g][2].append(i)
    return [(st, subs) for st, subs, _ in groups]


def write_svg(paths: Sequence[VPath], width: int, height: int, *, precision: int = 1) -> str:
    """Serialise ``paths`` (painter's order) as a compact SVG of ``width`` x ``height``.

    Shapes of one fill share a ``<path>`` element where the order allows it (the outline
    count is unchanged: every shape stays its own subpath)."""
    gradient_ids, defs = _gradient_defs(paths, precision)
    items: list[tuple[str, str]] = []  # (d, style attributes)
    for style, subs in _grouped(paths, gradient_ids):
        d = path_data(subs, precision)
        if d:
            items.append((d, style))
    # A <style> class pays when one style repeats: `class="a"` is shorter than the fill.
    counts = Counter(s for _, s in items)
    classes: dict[str, str] = {}
    css: list[str] = []
    for style, k in counts.most_common():
        name = _class_name(len(classes))
        if "url(" in style:
            continue  # each gradient is used once
        decl = style.replace('fill="', "fill:").replace('" fill-opacity="', ";fill-opacity:")
        decl = decl.rstrip('"')
        cost = len(f".{name}{{{decl}}}") + k * len(f'class="{name}"')
        if k < 2 or cost >= k * len(style):
            continue
        classes[style] = name
        css.append(f".{name}{{{decl}}}")
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
    ]
    if css:
        out.append("<style>" + "".join(css) + "</style>")
    if defs:
        out.append(defs)
    for d, style in items:
        attr = f'class="{classes[style]}"' if style in classes else style
        out.append(f'<path d="{d}" {attr}/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _class_name(i: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = letters[r] + name
    return name
