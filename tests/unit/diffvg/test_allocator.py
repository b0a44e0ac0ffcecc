"""pydiffvg.allocator: render steps stop faulting their memory in again."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pydiffvg.allocator import environment

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")

# Minor page faults of a render step (forward and backward; the median of 7) of a random
# 256-shape fill scene at 256 px, in a fresh process: "kept" calls keep_freed_memory();
# "returned" pins glibc's thresholds at the values its dynamic defaults start from (128 KiB),
# so that freed memory goes back to the system on every step; "default" changes nothing.
# glibc's defaults are no fixed baseline: their thresholds grow with what a process frees,
# and a step faulted between 0 and 3,108 pages in runs of this probe.
_PROBE = """
import ctypes, json, resource, sys, torch
import pydiffvg
from pydiffvg.allocator import keep_freed_memory
from pydiffvg.testing import random_scene
applied = None
if sys.argv[1] == "kept":
    applied = keep_freed_memory()
elif sys.argv[1] == "returned":
    libc = ctypes.CDLL(None)
    applied = bool(libc.mallopt(-3, 128 << 10)) and bool(libc.mallopt(-1, 128 << 10))
torch.set_num_threads(1)
shapes, groups = random_scene(0, width=256, height=256, num_shapes=256, strokes=False)
for s in shapes:
    s.points.requires_grad_(True)
for g in groups:
    g.fill_color.requires_grad_(True)
def step():
    img = pydiffvg.render(shapes, groups, width=192, height=192, samples=2)
    img.square().sum().backward()
for _ in range(3):
    step()
faults = []
for _ in range(7):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "faults": sorted(faults)[3]}))
"""


def _probe(mode: str, env: dict[str, str] | None = None) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def returned_faults() -> float:
    returned = _probe("returned")
    assert returned["applied"] is True
    assert returned["faults"] > 1000  # the probe sees a step fault its memory in again
    return returned["faults"]


def test_kept_memory_removes_the_page_faults_of_a_render_step(returned_faults: float) -> None:
    kept = _probe("kept")
    assert kept["applied"] is True  # glibc accepted the settings
    assert kept["faults"] < returned_faults / 100


def test_environment_does_the_same_for_a_process_started_with_it(returned_faults: float) -> None:
    started = _probe("default", environment())
    assert started["applied"] is None  # no mallopt call: the environment alone
    assert started["faults"] < returned_faults / 100
