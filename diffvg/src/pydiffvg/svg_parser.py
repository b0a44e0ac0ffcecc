"""SVG input: :func:`svg_to_scene` and :func:`from_svg_path` (one job: parsing SVG).

Reads what :mod:`pydiffvg.svg_writer` emits plus the common subset of real files:
``path`` (M/L/H/V/C/S/Q/T/A/Z, absolute and relative), ``rect``, ``circle``, ``ellipse``,
``polygon``, ``polyline``, ``line``, nested ``g`` with transforms and inherited
presentation attributes, ``style`` attributes, and linear/radial gradients in user space.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pydiffvg.shape import (
    Circle,
    Color,
    Ellipse,
    LinearGradient,
    Path,
    Polygon,
    RadialGradient,
    Rect,
    Shape,
    ShapeGroup,
)

__all__ = ["from_svg_path", "svg_to_scene"]

_SVG_NS = "http://www.w3.org/2000/svg"

_NAMED = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "lime": (0, 255, 0),
    "green": (0, 128, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "cyan": (0, 255, 255),
    "aqua": (0, 255, 255),
    "magenta": (255, 0, 255),
    "fuchsia": (255, 0, 255),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "silver": (192, 192, 192),
    "maroon": (128, 0, 0),
    "olive": (128, 128, 0),
    "navy": (0, 0, 128),
    "purple": (128, 0, 128),
    "teal": (0, 128, 128),
    "orange": (255, 165, 0),
    "brown": (165, 42, 42),
    "pink": (255, 192, 203),
}

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TOKEN = re.compile(rf"([MmLlHhVvCcSsQqTtAaZz])|({_NUMBER})")


def _parse_color(text: str) -> tuple[float, float, float] | str | None:
    """RGB in [0, 1], a ``url(#id)`` reference (returned as the id) or None for 'none'."""
    s = text.strip()
    low = s.lower()
    if low in ("none", "transparent"):
        return None
    if low.startswith("url("):
        m = re.match(r"url\(\s*#([^)\s]+)\s*\)", s)
        if not m:
            raise ValueError(f"bad paint reference {text!r}")
        return m.group(1)
    if low.startswith("#"):
        h = low[1:]
        if len(h) in (3, 4):
            h = "".join(ch * 2 for ch in h[:3])
        if len(h) not in (6, 8):
            raise ValueError(f"bad colour {text!r}")
        return tuple(int(h[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]
    m = re.match(r"rgba?\(([^)]*)\)", low)
    if m:
        vals = [v for v in re.split(r"[\s,/]+", m.group(1).strip()) if v]
        out = []
        for v in vals[:3]:
            out.append(float(v[:-1]) / 100.0 if v.endswith("%") else float(v) / 255.0)
        return (out[0], out[1], out[2])
    if low in _NAMED:
        return tuple(c / 255.0 for c in _NAMED[low])  # type: ignore[return-value]
    if low == "currentcolor":
        return (0.0, 0.0, 0.0)
    raise ValueError(f"unsupported colour {text!r}")


def _parse_transform(text: str | None) -> np.ndarray:
    m = np.eye(3)
    if not text:
        return m
    for name, args in re.findall(r"(\w+)\s*\(([^)]*)\)", text):
        v = [float(x) for x in re.findall(_NUMBER, args)]
        t = np.eye(3)
        if name == "matrix" and len(v) == 6:
            t[0, 0], t[1, 0], t[0, 1], t[1, 1], t[0, 2], t[1, 2] = v
        elif name == "translate" and v:
            t[0, 2], t[1, 2] = v[0], (v[1] if len(v) > 1 else 0.0)
        elif name == "scale" and v:
            t[0, 0], t[1, 1] = v[0], (v[1] if len(v) > 1 else v[0])
        elif name == "rotate" and v:
            a = math.radians(v[0])
            r = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
            if len(v) >= 3:
                tr = np.eye(3)
                tr[:2, 2] = v[1:3]
                back = np.eye(3)
                back[:2, 2] = [-v[1], -v[2]]
                r = tr @ r @ back
            t = r
        elif name == "skewX" and v:
            t[0, 1] = math.tan(math.radians(v[0]))
        elif name == "skewY" and v:
            t[1, 0] = math.tan(math.radians(v[0]))
        else:
            raise ValueError(f"unsupported transform {name}({args})")
        m = m @ t
    return m


def _arc_to_cubics(
    p0: np.ndarray,
    p1: np.ndarray,
    *,
    rx: float,
    ry: float,
    phi_deg: float,
    large: bool,
    sweep: bool,
) -> list[np.ndarray]:
    """SVG elliptical arc as cubic control points (each [3, 2]: c1, c2, end)."""
    if np.allclose(p0, p1):
        return []
    rx, ry = abs(rx), abs(ry)
    if rx == 0 or ry == 0:
        return [np.array([p0 + (p1 - p0) / 3, p0 + 2 * (p1 - p0) / 3, p1])]
    phi = math.radians(phi_deg)
    cp, sp = math.cos(phi), math.sin(phi)
    dx, dy = (p0 - p1) / 2
    x1 = cp * dx + sp * dy
    y1 = -sp * dx + cp * dy
    lam = (x1 * x1) / (rx * rx) + (y1 * y1) / (ry * ry)
    if lam > 1:
        rx *= math.sqrt(lam)
        ry *= math.sqrt(lam)
    num = rx * rx * ry * ry - rx * rx * y1 * y1 - ry * ry * x1 * x1
    den = rx * rx * y1 * y1 + ry * ry * x1 * x1
    coef = math.sqrt(max(num, 0.0) / den) if den > 0 else 0.0
    if large == sweep:
        coef = -coef
    cxp = coef * rx * y1 / ry
    cyp = -coef * ry * x1 / rx
    cx = cp * cxp - sp * cyp + (p0[0] + p1[0]) / 2
    cy = sp * cxp + cp * cyp + (p0[1] + p1[1]) / 2

    def ang(ux: float, uy: float, vx: float, vy: float) -> float:
        return math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)

    th1 = ang(1, 0, (x1 - cxp) / rx, (y1 - cyp) / ry)
    dth = ang((x1 - cxp) / rx, (y1 - cyp) / ry, (-x1 - cxp) / rx, (-y1 - cyp) / ry)
    if not sweep and dth > 0:
        dth -= 2 * math.pi
    elif sweep and dth < 0:
        dth += 2 * math.pi
    nseg = max(1, math.ceil(abs(dth) / (math.pi / 2) - 1e-9))
    step = dth / nseg
    k = 4.0 / 3.0 * math.tan(step / 4)
    out = []

    def point(t: float) -> tuple[np.ndarray, np.ndarray]:
        ex, ey = rx * math.cos(t), ry * math.sin(t)
        tx, ty = -rx * math.sin(t), ry * math.cos(t)
        pos = np.array([cp * ex - sp * ey + cx, sp * ex + cp * ey + cy])
        tan = np.array([cp * tx - sp * ty, sp * tx + cp * ty])
        return pos, tan

    t = th1
    for i in range(nseg):
        a_pos, a_tan = point(t)
        b_pos, b_tan = point(t + step)
        if i == nseg - 1:
            b_pos = p1
        out.append(np.array([a_pos + k * a_tan, b_pos - k * b_tan, b_pos]))
        t += step
    return out


@dataclass
class _Sub:
    start: np.ndarray
    ncp: list[int] = field(default_factory=list)
    pts: list[np.ndarray] = field(default_factory=list)
    closed: bool = False


def _parse_path_d(d: str) -> list[_Sub]:
    """Parse path data into sub-paths of line/quadratic/cubic segments."""
    tokens = [(m.group(1), m.group(2)) for m in _TOKEN.finditer(d)]
    subs: list[_Sub] = []
    cur = np.zeros(2)
    start = np.zeros(2)
    last_ctrl: np.ndarray | None = None
    last_cmd = ""
    pos = 0
    cmd = ""

    def nums(n: int) -> list[float]:
        nonlocal pos
        out = []
        for _ in range(n):
            if pos >= len(tokens) or tokens[pos][1] is None:
                raise ValueError(f"path data: command {cmd!r} needs {n} numbers")
            out.append(float(tokens[pos][1]))
            pos += 1
        return out

    def sub() -> _Sub:
        if not subs or subs[-1].closed:
            subs.append(_Sub(start=cur.copy(), pts=[cur.copy()]))
        return subs[-1]

    while pos < len(tokens):
        if tokens[pos][0] is not None:
            cmd = tokens[pos][0]
            pos += 1
        elif not cmd:
            raise ValueError("path data must start with a command")
        elif cmd in "Mm":
            cmd = "L" if cmd == "M" else "l"
        rel = cmd.islower()
        up = cmd.upper()
        base = cur if rel else np.zeros(2)
        if up == "M":
            x, y = nums(2)
            cur = base + np.array([x, y])
            start = cur.copy()
            subs.append(_Sub(start=cur.copy(), pts=[cur.copy()]))
            last_ctrl = None
        elif up == "Z":
            s = sub()
            if not np.allclose(cur, s.start):
                s.ncp.append(0)
                s.pts.append(s.start.copy())
            s.closed = True
            cur = start.copy()
            last_ctrl = None
        elif up in "LHV":
            if up == "L":
                x, y = nums(2)
                nxt = base + np.array([x, y])
            elif up == "H":
                (x,) = nums(1)
                nxt = np.array([x + (cur[0] if rel else 0.0), cur[1]])
            else:
                (y,) = nums(1)
                nxt = np.array([cur[0], y + (cur[1] if rel else 0.0)])
            s = sub()
            s.ncp.append(0)
            s.pts.append(nxt)
            cur = nxt
            last_ctrl = None
        elif up in "CS":
            if up == "C":
                v = nums(6)
                c1 = base + v[0:2]
                c2, end = base + v[2:4], base + v[4:6]
            else:
                v = nums(4)
                c1 = 2 * cur - last_ctrl if last_ctrl is not None and last_cmd in "CcSs" else cur
                c2, end = base + v[0:2], base + v[2:4]
            s = sub()
            s.ncp.append(2)
            s.pts += [np.asarray(c1, dtype=float), c2, end]
            cur = end
            last_ctrl = c2
        elif up in "QT":
            if up == "Q":
                v = nums(4)
                q, end = base + v[0:2], base + v[2:4]
            else:
                v = nums(2)
                q = 2 * cur - last_ctrl if last_ctrl is not None and last_cmd in "QqTt" else cur
                end = base + v[0:2]
            s = sub()
            s.ncp.append(1)
            s.pts += [np.asarray(q, dtype=float), end]
            cur = end
            last_ctrl = q
        elif up == "A":
            rx, ry, rot, large, sweep, x, y = nums(7)
            end = base + np.array([x, y])
            s = sub()
            for c in _arc_to_cubics(
                cur, end, rx=rx, ry=ry, phi_deg=rot, large=bool(large), sweep=bool(sweep)
            ):
                s.ncp.append(2)
                s.pts += list(c)
            cur = end
            last_ctrl = None
        last_cmd = cmd
    out = []
    for s in subs:
        if not s.ncp:
            continue
        if s.closed:
            # The closing segment ends at the first point, which the Path wraps to.
            s.pts.pop()
        elif np.allclose(s.pts[-1], s.pts[0], atol=1e-5) and len(s.ncp) > 1:
            s.pts.pop()
            s.closed = True
        out.append(s)
    return out


def from_svg_path(
    path_str: str, shape_to_canvas: Any = None, force_close: bool = False
) -> list[Path]:
    """DiffVG's ``from_svg_path``: one :class:`Path` per sub-path of SVG path data.

    Points are mapped by the 3x3 ``shape_to_canvas`` (default identity); a sub-path whose
    end meets its start is closed, and ``force_close`` closes the others with a line.
    Arcs become cubics. Stroke widths are DiffVG's default (1.0).
    """
    mat = (
        np.eye(3)
        if shape_to_canvas is None
        else np.asarray(
            torch.as_tensor(shape_to_canvas, dtype=torch.float64).detach().cpu(), dtype=float
        )
    )
    if mat.shape != (3, 3):
        raise ValueError("shape_to_canvas must have shape [3, 3]")
    out: list[Path] = []
    for sub in _parse_path_d(path_str):
        if force_close and not sub.closed:
            sub.ncp.append(0)
            sub.closed = True
        pts = np.array(sub.pts)
        hom = np.concatenate([pts, np.ones((pts.shape[0], 1))], axis=1) @ mat.T
        points = torch.tensor(hom[:, :2] / hom[:, 2:3], dtype=torch.float32)
        out.append(Path(torch.tensor(sub.ncp, dtype=torch.int32), points, sub.closed))
    return out


def _style(node: ET.Element, inherited: dict[str, str]) -> dict[str, str]:
    out = dict(inherited)
    out.pop("opacity", None)
    for key in (
        "fill",
        "fill-opacity",
        "fill-rule",
        "stroke",
        "stroke-width",
        "stroke-opacity",
        "opacity",
        "stop-color",
        "stop-opacity",
        "display",
        "visibility",
    ):
        if key in node.attrib:
            out[key] = node.attrib[key]
    for decl in node.attrib.get("style", "").split(";"):
        if ":" in decl:
            k, v = decl.split(":", 1)
            out[k.strip()] = v.strip()
    if "opacity" in out:
        out["_opacity"] = str(float(inherited.get("_opacity", "1")) * float(out["opacity"]))
    return out


def _length(v: str | None, default: float = 0.0) -> float:
    if v is None:
        return default
    m = re.match(_NUMBER, v.strip())
    if not m:
        raise ValueError(f"bad length {v!r}")
    return float(m.group(0))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def svg_to_scene(source: str | os.PathLike[str]) -> tuple[int, int, list[Shape], list[ShapeGroup]]:
    """Read an SVG file (or an SVG string) into ``(width, height, shapes, shape_groups)``.

    Transforms are applied to the shapes' points (each group's ``shape_to_canvas`` is the
    identity), so gradients refer to canvas coordinates.
    """
    text = os.fspath(source)
    if isinstance(source, str) and text.lstrip().startswith("<"):
        root = ET.fromstring(text)
    else:
        root = ET.parse(text).getroot()
    if _local(root.tag) != "svg":
        raise ValueError("not an SVG document")
    vb = [float(v) for v in re.findall(_NUMBER, root.attrib.get("viewBox", ""))]
    width = _length(root.attrib.get("width"), vb[2] if len(vb) == 4 else 0.0)
    height = _length(root.attrib.get("height"), vb[3] if len(vb) == 4 else 0.0)
    if width <= 0 or height <= 0:
        raise ValueError("SVG needs a positive width/height or viewBox")
    view = np.eye(3)
    if len(vb) == 4 and vb[2] > 0 and vb[3] > 0:
        s = min(width / vb[2], height / vb[3])
        view = np.array(
            [
                [s, 0, -vb[0] * s + (width - vb[2] * s) / 2],
                [0, s, -vb[1] * s + (height - vb[3] * s) / 2],
                [0, 0, 1],
            ]
        )

    gradients = {
        n.attrib["id"]: n
        for n in root.iter()
        if _local(n.tag) in ("linearGradient", "radialGradient") and "id" in n.attrib
    }
    shapes: list[Shape] = []
    groups: list[ShapeGroup] = []

    def walk(node: ET.Element, mat: np.ndarray, inherited: dict[str, str]) -> None:
        tag = _local(node.tag)
        if tag in (
            "defs",
            "linearGradient",
            "radialGradient",
            "clipPath",
            "mask",
            "style",
            "title",
            "desc",
            "metadata",
            "symbol",
        ):
            return
        style = _style(node, inherited)
        if style.get("display") == "none":
            return
        m = mat @ _parse_transform(node.attrib.get("transform"))
        if tag in ("svg", "g", "a"):
            for child in node:
                walk(child, m, style)
            return
        members = _element_shapes(node, tag, m, style)
        if not members:
            return
        first = len(shapes)
        shapes.extend(members)
        ids = torch.arange(first, len(shapes))
        opacity = float(style.get("_opacity", "1"))
        fill = _paint(
            style.get("fill", "black"),
            float(style.get("fill-opacity", "1")) * opacity,
            gradients,
            m,
        )
        stroke = _paint(
            style.get("stroke", "none"),
            float(style.get("stroke-opacity", "1")) * opacity,
            gradients,
            m,
        )
        if tag in ("polyline", "line") or (stroke is None and fill is None):
            fill = fill if tag == "polyline" else None
        if fill is None and stroke is None:
            del shapes[first:]
            return
        groups.append(ShapeGroup(ids, fill, style.get("fill-rule", "nonzero") == "evenodd", stroke))

    walk(root, view, {})
    return round(width), round(height), shapes, groups


def _paint(
    spec: str, opacity: float, gradients: dict[str, ET.Element], mat: np.ndarray
) -> Color | None:
    parsed = _parse_color(spec)
    if parsed is None:
        return None
    if isinstance(parsed, str):
        node = gradients.get(parsed)
        if node is None:
            raise ValueError(f"paint refers to unknown gradient #{parsed}")
        return _gradient(node, opacity, gradients, mat)
    return torch.tensor([*parsed, opacity], dtype=torch.float32)


def _gradient(
    node: ET.Element, opacity: float, gradients: dict[str, ET.Element], mat: np.ndarray
) -> Color:
    stops_node = node
    href = node.attrib.get("{http://www.w3.org/1999/xlink}href", node.attrib.get("href", ""))
    if not list(node) and href.startswith("#") and href[1:] in gradients:
        stops_node = gradients[href[1:]]
    offsets: list[float] = []
    colors: list[list[float]] = []
    for stop in stops_node:
        if _local(stop.tag) != "stop":
            continue
        st = _style(stop, {})
        off = stop.attrib.get("offset", "0").strip()
        o = float(off[:-1]) / 100 if off.endswith("%") else float(off)
        rgb = _parse_color(st.get("stop-color", "black"))
        if not isinstance(rgb, tuple):
            rgb = (0.0, 0.0, 0.0)
        offsets.append(min(max(o, offsets[-1] if offsets else 0.0), 1.0))
        colors.append([*rgb, float(st.get("stop-opacity", "1")) * opacity])
    if not offsets:
        return torch.tensor([0.0, 0.0, 0.0, 0.0])
    if node.attrib.get("gradientUnits", "objectBoundingBox") != "userSpaceOnUse":
        raise ValueError("only gradientUnits='userSpaceOnUse' gradients are supported")
    g = mat @ _parse_transform(node.attrib.get("gradientTransform"))

    def tp(x: float, y: float) -> list[float]:
        v = g @ np.array([x, y, 1.0])
        return [float(v[0]), float(v[1])]

    off_t = torch.tensor(offsets, dtype=torch.float32)
    col_t = torch.tensor(colors, dtype=torch.float32)
    if _local(node.tag) == "linearGradient":
        a = node.attrib
        return LinearGradient(
            torch.tensor(tp(_length(a.get("x1")), _length(a.get("y1")))),
            torch.tensor(tp(_length(a.get("x2"), 1.0), _length(a.get("y2")))),
            off_t,
            col_t,
        )
    a = node.attrib
    cx, cy, r = _length(a.get("cx"), 0.5), _length(a.get("cy"), 0.5), _length(a.get("r"), 0.5)
    rx = float(np.hypot(g[0, 0], g[1, 0])) * r
    ry = float(np.hypot(g[0, 1], g[1, 1])) * r
    return RadialGradient(torch.tensor(tp(cx, cy)), torch.tensor([rx, ry]), off_t, col_t)


def _element_shapes(
    node: ET.Element, tag: str, m: np.ndarray, style: dict[str, str]
) -> list[Shape]:
    a = node.attrib
    half = _length(style.get("stroke-width"), 1.0) / 2 * math.sqrt(abs(np.linalg.det(m[:2, :2])))
    width = torch.tensor(half, dtype=torch.float32)
    identity = np.allclose(m, np.eye(3))
    similarity = np.allclose(m[:2, :2] @ m[:2, :2].T, abs(np.linalg.det(m[:2, :2])) * np.eye(2))
    axis_aligned = abs(m[0, 1]) < 1e-12 and abs(m[1, 0]) < 1e-12

    def tpts(pts: np.ndarray) -> torch.Tensor:
        hom = np.concatenate([pts, np.ones((pts.shape[0], 1))], axis=1) @ m.T
        return torch.tensor(hom[:, :2] / hom[:, 2:3], dtype=torch.float32)

    def from_d(d: str) -> list[Shape]:
        out: list[Shape] = []
        for s in _parse_path_d(d):
            out.append(
                Path(
                    torch.tensor(s.ncp, dtype=torch.int32),
                    tpts(np.array(s.pts)),
                    s.closed,
                    width.clone(),
                )
            )
        return out

    if tag == "path":
        return from_d(a.get("d", ""))
    if tag == "rect":
        x, y = _length(a.get("x")), _length(a.get("y"))
        w, h = _length(a.get("width")), _length(a.get("height"))
        if w <= 0 or h <= 0:
            return []
        if identity or (axis_aligned and m[0, 0] > 0 and m[1, 1] > 0):
            lo = tpts(np.array([[x, y], [x + w, y + h]]))
            return [Rect(lo[0], lo[1], width)]
        return [
            Polygon(tpts(np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])), True, width)
        ]
    if tag in ("circle", "ellipse"):
        cx, cy = _length(a.get("cx")), _length(a.get("cy"))
        if tag == "circle":
            rx = ry = _length(a.get("r"))
        else:
            rx, ry = _length(a.get("rx")), _length(a.get("ry"))
        if rx <= 0 or ry <= 0:
            return []
        if (similarity and axis_aligned) or identity:
            c = tpts(np.array([[cx, cy]]))[0]
            sx, sy = abs(m[0, 0]), abs(m[1, 1])
            if tag == "circle" and abs(sx - sy) < 1e-9:
                return [Circle(torch.tensor(rx * sx), c, width)]
            return [Ellipse(torch.tensor([rx * sx, ry * sy]), c, width)]
        return from_d(
            f"M {cx + rx} {cy} A {rx} {ry} 0 1 1 {cx - rx} {cy} A {rx} {ry} 0 1 1 {cx + rx} {cy} Z"
        )
    if tag in ("polygon", "polyline"):
        vals = [float(v) for v in re.findall(_NUMBER, a.get("points", ""))]
        pts = np.array(vals[: len(vals) // 2 * 2]).reshape(-1, 2)
        if pts.shape[0] < 2:
            return []
        return [Polygon(tpts(pts), tag == "polygon", width)]
    if tag == "line":
        pts = np.array(
            [
                [_length(a.get("x1")), _length(a.get("y1"))],
                [_length(a.get("x2")), _length(a.get("y2"))],
            ]
        )
        return [Polygon(tpts(pts), False, width)]
    return []
