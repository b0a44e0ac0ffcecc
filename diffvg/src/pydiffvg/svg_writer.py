"""SVG output: :func:`scene_to_svg` and :func:`save_svg`.

The writer emits plain SVG 1.1 that other renderers draw the same way we do (strokes with
round joins and caps, ``stroke-width`` twice DiffVG's half width).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import numpy as np
import torch

from pydiffvg.shape import (
    Circle,
    Color,
    Ellipse,
    LinearGradient,
    Path,
    Polygon,
    Rect,
    Shape,
    ShapeGroup,
)

__all__ = ["save_svg", "scene_to_svg"]

_SVG_NS = "http://www.w3.org/2000/svg"


def _num(v: float) -> str:
    s = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _hex(rgb: np.ndarray) -> str:
    c = np.clip(np.round(np.asarray(rgb[:3], dtype=np.float64) * 255.0), 0, 255).astype(int)
    return "#{:02x}{:02x}{:02x}".format(*c)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy()


def _shape_d(shape: Shape) -> str:
    """Path data for one shape (used when a group holds several shapes)."""
    if isinstance(shape, Path):
        return _path_d(shape)
    if isinstance(shape, Polygon):
        pts = _np(shape.points)
        d = "M " + " L ".join(f"{_num(x)} {_num(y)}" for x, y in pts)
        return d + (" Z" if shape.is_closed else "")
    if isinstance(shape, Rect):
        lo, hi = _np(shape.p_min), _np(shape.p_max)
        return (
            f"M {_num(lo[0])} {_num(lo[1])} L {_num(hi[0])} {_num(lo[1])} "
            f"L {_num(hi[0])} {_num(hi[1])} L {_num(lo[0])} {_num(hi[1])} Z"
        )
    if isinstance(shape, Circle | Ellipse):
        r = _np(shape.radius).reshape(-1)
        rx, ry = (r[0], r[0]) if r.size == 1 else (r[0], r[1])
        cx, cy = _np(shape.center)
        return (
            f"M {_num(cx + rx)} {_num(cy)} A {_num(rx)} {_num(ry)} 0 1 1 {_num(cx - rx)} "
            f"{_num(cy)} A {_num(rx)} {_num(ry)} 0 1 1 {_num(cx + rx)} {_num(cy)} Z"
        )
    raise TypeError(f"unsupported shape type {type(shape).__name__}")


def _path_d(path: Path) -> str:
    ncp = path.num_control_points.detach().cpu().numpy()
    pts = _np(path.points)
    n = pts.shape[0]
    if n == 0:
        return ""

    def p(i: int) -> str:
        x, y = pts[i % n]
        return f"{_num(x)} {_num(y)}"

    parts = [f"M {p(0)}"]
    i = 0
    for c in ncp:
        if c == 0:
            parts.append(f"L {p(i + 1)}")
        elif c == 1:
            parts.append(f"Q {p(i + 1)} {p(i + 2)}")
        else:
            parts.append(f"C {p(i + 1)} {p(i + 2)} {p(i + 3)}")
        i += int(c) + 1
    if path.is_closed:
        parts.append("Z")
    return " ".join(parts)


def scene_to_svg(
    width: int, height: int, shapes: Sequence[Shape], shape_groups: Sequence[ShapeGroup]
) -> str:
    """Serialise a scene to an SVG document string."""
    root = ET.Element(
        "svg",
        {
            "xmlns": _SVG_NS,
            "version": "1.1",
            "width": str(width),
            "height": str(height),
            "viewBox": f"0 0 {width} {height}",
        },
    )
    defs = ET.SubElement(root, "defs")

    def paint(color: Color | None, name: str, prefix: str, node: ET.Element) -> None:
        if color is None:
            node.set(prefix, "none")
            return
        if isinstance(color, torch.Tensor):
            c = _np(color)
            node.set(prefix, _hex(c))
            if c[3] < 1.0:
                node.set(f"{prefix}-opacity", _num(float(c[3])))
            return
        offsets, stops = _np(color.offsets), _np(color.stop_colors)
        if isinstance(color, LinearGradient):
            b, e = _np(color.begin), _np(color.end)
            grad = ET.SubElement(
                defs,
                "linearGradient",
                {
                    "id": name,
                    "gradientUnits": "userSpaceOnUse",
                    "x1": _num(b[0]),
                    "y1": _num(b[1]),
                    "x2": _num(e[0]),
                    "y2": _num(e[1]),
                },
            )
        else:
            c, r = _np(color.center), _np(color.radius).reshape(-1)
            rx, ry = (r[0], r[0]) if r.size == 1 else (r[0], r[1])
            attrs = {
                "id": name,
                "gradientUnits": "userSpaceOnUse",
                "cx": _num(c[0]),
                "cy": _num(c[1]),
                "r": _num(rx),
            }
            if abs(rx - ry) > 1e-9 and rx > 0:
                s = ry / rx
                attrs["gradientTransform"] = f"matrix(1 0 0 {_num(s)} 0 {_num(c[1] * (1 - s))})"
            grad = ET.SubElement(defs, "radialGradient", attrs)
        for off, sc in zip(offsets, stops, strict=True):
            ET.SubElement(
                grad,
                "stop",
                {
                    "offset": _num(float(off)),
                    "stop-color": _hex(sc),
                    "stop-opacity": _num(float(sc[3])),
                },
            )
        node.set(prefix, f"url(#{name})")

    for gi, group in enumerate(shape_groups):
        ids = group.shape_ids.tolist()
        members = [shapes[i] for i in ids]
        if len(members) == 1:
            node = _single_element(root, members[0])
        else:
            node = ET.SubElement(root, "path", {"d": " ".join(_shape_d(s) for s in members)})
        paint(group.fill_color, f"fill{gi}", "fill", node)
        if group.fill_color is not None:
            node.set("fill-rule", "evenodd" if group.use_even_odd_rule else "nonzero")
        paint(group.stroke_color, f"stroke{gi}", "stroke", node)
        if group.stroke_color is not None and members:
            node.set("stroke-width", _num(2.0 * float(_np(members[0].stroke_width).reshape(-1)[0])))
            node.set("stroke-linejoin", "round")
            node.set("stroke-linecap", "round")
        m = _np(group.shape_to_canvas)
        if not np.allclose(m, np.eye(3)):
            node.set(
                "transform",
                "matrix({})".format(
                    " ".join(
                        _num(v) for v in (m[0, 0], m[1, 0], m[0, 1], m[1, 1], m[0, 2], m[1, 2])
                    )
                ),
            )
    if len(defs) == 0:
        root.remove(defs)
    return ET.tostring(root, encoding="unicode")


def _single_element(root: ET.Element, shape: Shape) -> ET.Element:
    if isinstance(shape, Circle):
        c = _np(shape.center)
        return ET.SubElement(
            root,
            "circle",
            {
                "cx": _num(c[0]),
                "cy": _num(c[1]),
                "r": _num(float(_np(shape.radius).reshape(-1)[0])),
            },
        )
    if isinstance(shape, Ellipse):
        c, r = _np(shape.center), _np(shape.radius)
        return ET.SubElement(
            root,
            "ellipse",
            {"cx": _num(c[0]), "cy": _num(c[1]), "rx": _num(r[0]), "ry": _num(r[1])},
        )
    if isinstance(shape, Rect):
        lo, hi = _np(shape.p_min), _np(shape.p_max)
        return ET.SubElement(
            root,
            "rect",
            {
                "x": _num(lo[0]),
                "y": _num(lo[1]),
                "width": _num(hi[0] - lo[0]),
                "height": _num(hi[1] - lo[1]),
            },
        )
    if isinstance(shape, Polygon):
        pts = " ".join(f"{_num(x)},{_num(y)}" for x, y in _np(shape.points))
        return ET.SubElement(root, "polygon" if shape.is_closed else "polyline", {"points": pts})
    return ET.SubElement(root, "path", {"d": _shape_d(shape)})


def save_svg(  # noqa: PLR0917 - DiffVG's signature
    filename: str | os.PathLike[str],
    width: int,
    height: int,
    shapes: Sequence[Shape],
    shape_groups: Sequence[ShapeGroup],
    use_gamma: bool = False,
) -> None:
    """Write the scene as an SVG file (``use_gamma`` is accepted for DiffVG parity)."""
    del use_gamma
    directory = os.path.dirname(os.fspath(filename))
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(filename, "w", encoding="utf-8") as fh:
        fh.write(scene_to_svg(width, height, shapes, shape_groups))
