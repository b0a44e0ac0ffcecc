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
# 256-shape fill scene at 256 px, in a fresh process, with or without keep_freed_memory().
_PROBE = """
import json, resource, sys, torch
import pydiffvg
from pydiffvg.allocator import keep_freed_memory
from pydiffvg.testing import random_scene
applied = keep_freed_memory() if sys.argv[1] == "kept" else None
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
def default_faults() -> float:
    faults = _probe("default")["faults"]
    assert faults > 100  # the cost removed below exists with glibc's defaults
    return faults


def test_kept_memory_removes_most_page_faults_of_a_render_step(default_faults: float) -> None:
    kept = _probe("kept")
    assert kept["applied"] is True  # glibc accepted the settings
    assert kept["faults"] < default_faults / 4


def test_environment_does_the_same_for_a_process_started_with_it(default_faults: float) -> None:
    started = _probe("default", environment())
    assert started["applied"] is None  # no mallopt call: the environment alone
    assert started["faults"] < default_faults / 4
