"""pydiffvg.allocator: render steps stop faulting their memory in again."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pydiffvg.allocator import environment

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")

# Minor page faults of a render step (forward and backward; the median of 7) of 128
# superpixel-sized blobs at 192 px, in a fresh process, with or without
# keep_freed_memory().
_PROBE = """
import json, resource, sys, torch
import pydiffvg
from pydiffvg.allocator import keep_freed_memory
from pydiffvg.testing import blob_path
applied = keep_freed_memory() if sys.argv[1] == "kept" else None
torch.set_num_threads(1)
gen = torch.Generator().manual_seed(0)
shapes, groups = [], []
for i in range(128):
    path = blob_path(torch.rand(2, generator=gen) * 192, 9.0, generator=gen, segments=4)
    path.points.requires_grad_(True)
    shapes.append(path)
    colour = torch.rand(4, generator=gen).requires_grad_(True)
    groups.append(pydiffvg.ShapeGroup(torch.tensor([i]), colour))
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
