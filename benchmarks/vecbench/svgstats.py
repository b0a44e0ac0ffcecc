"""What an SVG file holds, counted from its text: outlines, segments, fills and bytes.

Contract (the one definition the vectorizer benchmark uses for every method):
- an *outline* is a subpath: every moveto in path data (``M``/``m``, explicit), plus a
  drawing command straight after ``z`` (the SVG spec starts a new subpath there), plus one
  per ``circle``, ``ellipse``, ``rect``, ``polygon``, ``polyline`` and ``line``;
- a *curve* segment is one ``C c S s Q q T t A a`` step (each implicit repetition counts);
  a *line* segment is one ``L l H h V v`` step, the implicit lines after a moveto, and a
  ``z`` whose closing line has length (a ``z`` at the start point draws nothing);
- shapes count when they paint: inside ``defs``, ``clipPath``, ``mask``, ``symbol``,
  ``pattern`` or ``marker`` they do not, nor with ``fill`` and ``stroke`` both ``none``;
- *fills* are the distinct ``fill`` values of painted shapes (inherited from groups and
  ``style`` attributes and ``.class{fill:...}`` rules too; a gradient is its ``url(#id)``);
- bytes are the file's UTF-8 bytes, raw and gzip-compressed (level 9, no name/time).
"""

from __future__ import annotations

import gzip
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

__all__ = ["PathCounts", "SvgStats", "count_path_data", "svg_stats"]

_CURVES = frozenset("CcSsQqTtAa")
_LINES = frozenset("LlHhVv")
_ARITY = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7, "Z": 0}
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_SEPARATORS = " \t\r\n,"
_HIDDEN_CONTAINERS = frozenset({"defs", "clipPath", "mask", "symbol", "pattern", "marker"})
_SHAPES = frozenset({"path", "circle", "ellipse", "rect", "polygon", "polyline", "line"})
_CLASS_RULE = re.compile(r"\.([A-Za-z_][\w-]*)\s*\{([^}]*)\}")


@dataclass(frozen=True)
class PathCounts:
    """Subpaths and segments of one path-data string."""

    outlines: int = 0
    curves: int = 0
    lines: int = 0

    def __add__(self, other: PathCounts) -> PathCounts:
        return PathCounts(
            self.outlines + other.outlines, self.curves + other.curves, self.lines + other.lines
        )


@dataclass(frozen=True)
class SvgStats:
    """Counts for a whole SVG document (see the module docstring for the rules)."""

    outlines: int
    curves: int
    lines: int
    fills: int
    raw_bytes: int
    gzip_bytes: int

    @property
    def segments(self) -> int:
        return self.curves + self.lines


def _tokens(d: str) -> list[tuple[str, list[float]]]:
    """Split path data into (command letter, flat parameter list); arc flags are 1 char."""
    out: list[tuple[str, list[float]]] = []
    i, n = 0, len(d)
    cmd: str | None = None
    params: list[float] = []
    while i < n:
        ch = d[i]
        if ch in _SEPARATORS:
            i += 1
            continue
        if ch.isalpha() and ch not in "eE":
            if ch.upper() not in _ARITY:
                raise ValueError(f"unknown path command {ch!r} at {i} in {d[:60]!r}")
            if cmd is not None:
                out.append((cmd, params))
            cmd, params = ch, []
            i += 1
            continue
        if cmd is None:
            raise ValueError(f"path data must start with a command: {d[:60]!r}")
        arity = _ARITY[cmd.upper()]
        if cmd in "Aa" and len(params) % arity in (3, 4) and ch in "01":
            params.append(float(ch))  # large-arc / sweep flag: one character, maybe unseparated
            i += 1
            continue
        m = _NUMBER.match(d, i)
        if m is None:
            raise ValueError(f"bad path data at {i}: {d[i : i + 20]!r}")
        params.append(float(m.group()))
        i = m.end()
    if cmd is not None:
        out.append((cmd, params))
    return out


def count_path_data(d: str) -> PathCounts:
    """Outlines, curve and line segments of SVG path data (``d`` attribute)."""
    outlines = curves = lines = 0
    x = y = sx = sy = 0.0
    closed = False  # the last command was z: a drawing command now starts a new subpath
    tokens = _tokens(d)
    if tokens and tokens[0][0] not in "Mm":
        raise ValueError(f"path data must start with a moveto: {d[:60]!r}")
    for cmd, params in tokens:
        up = cmd.upper()
        rel = cmd != up
        arity = _ARITY[up]
        if up == "Z":
            if params:
                raise ValueError("z takes no parameters")
            if abs(x - sx) > 1e-9 or abs(y - sy) > 1e-9:
                lines += 1
            x, y, closed = sx, sy, True
            continue
        if not params or len(params) % arity:
            raise ValueError(f"{cmd} needs a multiple of {arity} numbers, got {len(params)}")
        if up == "M":
            outlines += 1
        elif closed:
            outlines += 1  # implicit subpath at the closed subpath's start
        closed = False
        for k in range(0, len(params), arity):
            p = params[k : k + arity]
            ox, oy = (x, y) if rel else (0.0, 0.0)
            if up == "H":
                x = p[0] + (x if rel else 0.0)
            elif up == "V":
                y = p[0] + (y if rel else 0.0)
            else:
                x, y = p[-2] + ox, p[-1] + oy
            if up == "M" and k == 0:
                sx, sy = x, y
            elif up == "M" or up in _LINES:
                lines += 1  # pairs after a moveto are implicit linetos
            elif up in _CURVES:
                curves += 1
    return PathCounts(outlines, curves, lines)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _declarations(text: str) -> dict[str, str]:
    out = {}
    for decl in text.split(";"):
        key, sep, value = decl.partition(":")
        if sep and key.strip() in ("fill", "stroke"):
            out[key.strip()] = value.strip()
    return out


def _class_rules(root: ET.Element) -> dict[str, dict[str, str]]:
    """``.name{fill:...}`` rules of the document's ``<style>`` sheets (the simple kind)."""
    rules: dict[str, dict[str, str]] = {}
    for el in root.iter():
        if _local(el.tag) == "style" and el.text:
            for name, body in _CLASS_RULE.findall(el.text):
                rules.setdefault(name, {}).update(_declarations(body))
    return rules


def _paint(el: ET.Element, rules: dict[str, dict[str, str]]) -> dict[str, str]:
    """Own fill/stroke: attributes, overridden by class rules, overridden by ``style``."""
    out = {k: v.strip() for k, v in el.attrib.items() if k in ("fill", "stroke")}
    for name in el.attrib.get("class", "").split():
        out.update(rules.get(name, {}))
    out.update(_declarations(el.attrib.get("style", "")))
    return out


def _num(el: ET.Element, name: str) -> float:
    m = _NUMBER.match(el.attrib.get(name, "0").strip())
    return float(m.group()) if m else 0.0


def _shape_counts(el: ET.Element, tag: str) -> PathCounts:
    if tag == "path":
        return count_path_data(el.attrib.get("d", ""))
    if tag in ("circle", "ellipse"):
        return PathCounts(1, 4, 0)  # drawn as four arcs
    if tag == "rect":
        rounded = _num(el, "rx") > 0 or _num(el, "ry") > 0
        return PathCounts(1, 4 if rounded else 0, 4)
    if tag == "line":
        return PathCounts(1, 0, 1)
    pts = _NUMBER.findall(el.attrib.get("points", ""))
    n = len(pts) // 2
    if n == 0:
        return PathCounts()
    closing = 1 if tag == "polygon" and pts[:2] != pts[-2:] else 0
    return PathCounts(1, 0, max(0, n - 1) + closing)


def svg_stats(svg: str | bytes) -> SvgStats:
    """Count what ``svg`` draws; raises ``xml.etree.ElementTree.ParseError`` on bad XML."""
    raw = svg.encode() if isinstance(svg, str) else svg
    root = ET.fromstring(raw)
    total = PathCounts()
    fills: set[str] = set()
    rules = _class_rules(root)

    def walk(el: ET.Element, inherited: dict[str, str]) -> None:
        nonlocal total
        tag = _local(el.tag)
        if tag in _HIDDEN_CONTAINERS:
            return
        paint = {**inherited, **_paint(el, rules)}
        if tag in _SHAPES:
            fill = paint.get("fill", "black")  # SVG's initial fill is black
            stroke = paint.get("stroke", "none")
            if fill != "none" or stroke != "none":
                total = total + _shape_counts(el, tag)
                if fill != "none":
                    fills.add(fill.lower())
        for child in el:
            walk(child, paint)

    walk(root, {})
    return SvgStats(
        outlines=total.outlines,
        curves=total.curves,
        lines=total.lines,
        fills=len(fills),
        raw_bytes=len(raw),
        gzip_bytes=len(gzip.compress(raw, compresslevel=9, mtime=0)),
    )
