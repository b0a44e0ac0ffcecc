"""Pure-PyTorch differentiable vector graphics renderer with DiffVG's Python API."""

from pydiffvg.compat import OutputType, PixelFilter, RenderFunction, set_print_timing
from pydiffvg.device import get_device, get_use_gpu, set_device, set_use_gpu
from pydiffvg.image import imread, imwrite
from pydiffvg.render import render, render_polygons
from pydiffvg.shape import (
    Circle,
    Ellipse,
    LinearGradient,
    Path,
    Polygon,
    RadialGradient,
    Rect,
    ShapeGroup,
)
from pydiffvg.svg_parser import from_svg_path, svg_to_scene
from pydiffvg.svg_writer import save_svg, scene_to_svg

__all__ = [
    "Circle",
    "Ellipse",
    "LinearGradient",
    "OutputType",
    "Path",
    "PixelFilter",
    "Polygon",
    "RadialGradient",
    "Rect",
    "RenderFunction",
    "ShapeGroup",
    "from_svg_path",
    "get_device",
    "get_use_gpu",
    "imread",
    "imwrite",
    "render",
    "render_polygons",
    "save_svg",
    "scene_to_svg",
    "set_device",
    "set_print_timing",
    "set_use_gpu",
    "svg_to_scene",
]
