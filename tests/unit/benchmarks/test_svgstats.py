"""Outline and segment counting of the vectorizer benchmark (benchmarks/vecbench/svgstats)."""

from __future__ import annotations

import gzip

import pytest

from benchmarks.vecbench.svgstats import PathCounts, count_path_data, svg_stats


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        # absolute square: 3 lines drawn, z closes with a 4th line
        ("M0 0 L10 0 L10 10 L0 10 Z", PathCounts(1, 0, 4)),
        # z at the start point draws nothing
        ("M0 0 L10 0 L10 10 L0 0 Z", PathCounts(1, 0, 3)),
        # implicit linetos after a moveto, relative, compact numbers
        ("m0 0 10 0 0 10-10 0z", PathCounts(1, 0, 4)),
        # implicit repetition of curves: two cubics from one letter
        ("M0 0C1 1 2 2 3 3 4 4 5 5 6 6Z", PathCounts(1, 2, 1)),
        # z followed by m: two outlines (a shape with a hole)
        ("M0 0h10v10h-10z m2 2h2v2h-2z", PathCounts(2, 0, 8)),
        # a drawing command straight after z starts a new subpath
        ("M0 0h10v10z l5 5 5-5z", PathCounts(2, 0, 6)),
        # arcs with compact one-character flags: 'a5 5 0 011 1' = flags 0,1 then x=1
        ("M0 0a5 5 0 011 1a5 5 0 1 0 -1 -1z", PathCounts(1, 2, 0)),
        # s/q/t curves, exponent numbers, H/V lines
        ("M1e1 0Q0 0 5 5T10 10S1 1 2 2H0V0", PathCounts(1, 3, 2)),
        ("", PathCounts()),
    ],
)
def test_count_path_data(d: str, expected: PathCounts) -> None:
    assert count_path_data(d) == expected


@pytest.mark.parametrize("d", ["M0 0 L1", "L1 1", "M0 0 X1 1", "M0 0 Z 1"])
def test_bad_path_data_raises(d: str) -> None:
    with pytest.raises(ValueError):
        count_path_data(d)


def test_svg_stats_document() -> None:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
        '<defs><clipPath id="c"><path d="M0 0h1v1z"/></clipPath>'
        '<linearGradient id="g"/></defs>'
        '<g fill="#ff0000"><path d="M0 0h5v5h-5z M6 6h1v1h-1z"/>'
        '<circle cx="5" cy="5" r="2"/></g>'
        '<path style="fill:url(#g)" d="M0 0h2v2z"/>'
        '<rect width="2" height="2" rx="1" fill="#00f"/>'
        '<path fill="none" d="M0 0h9"/>'  # paints nothing: not counted
        '<path fill="none" stroke="#000" d="M0 0l9 9"/>'
        "</svg>"
    )
    s = svg_stats(svg)
    # outlines: 2 + circle + 1 + rect + stroked line
    assert s.outlines == 6
    assert s.curves == 4 + 4
    assert s.lines == 8 + 3 + 4 + 1
    assert s.fills == 3  # #ff0000, url(#g), #00f
    assert s.raw_bytes == len(svg.encode())
    assert s.gzip_bytes == len(gzip.compress(svg.encode(), compresslevel=9, mtime=0))


def test_svg_stats_fill_from_style_sheet_classes() -> None:
    # The vectorizer's writer moves a repeated fill into a <style> class.
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4">'
        "<style>.a{fill:#123456}.b{fill:none}</style>"
        '<path d="M0 0h1v1z" class="a"/><path d="M1 1h1v1z" class="a"/>'
        '<path d="M2 2h1v1z" class="b"/>'  # paints nothing
        '<path d="M3 3h1v1z" fill="#654321"/>'
        "</svg>"
    )
    s = svg_stats(svg)
    assert (s.outlines, s.fills) == (3, 2)
