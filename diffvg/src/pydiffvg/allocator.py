"""The C allocator's settings for rendering on the CPU.

A render step allocates and frees tensors of a few hundred KB to a few MB. With glibc's
defaults, ``malloc`` serves many of them with fresh ``mmap`` s and hands freed memory at the
heap's top back to the system, so every step faults its pages in again (page faults per
step with and without these settings: ``benchmarks/results/diffvg_cpu*.md``). Keeping
freed memory in the heap removes them. Opt-in, once per process (the vectorizer's worker
and CLI call it): the settings hold for the whole process, not only for pydiffvg.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["MMAP_THRESHOLD_BYTES", "TRIM_THRESHOLD_BYTES", "environment", "keep_freed_memory"]

# Blocks up to this size come from the heap (32 MB is the largest glibc accepts); larger
# ones (dense layers of big canvases) keep their own mappings.
MMAP_THRESHOLD_BYTES = 32 << 20
# Free memory at the heap's top kept for the next step instead of returned to the system.
TRIM_THRESHOLD_BYTES = 256 << 20

# mallopt's parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory() -> bool:
    """Apply the settings to this process; False where the C library is not glibc (or
    refuses them), which leaves its defaults."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl has no mallopt)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )


def environment() -> dict[str, str]:
    """The same settings as glibc's environment variables, for a process to be started
    (they take effect before it loads anything)."""
    return {
        "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD_BYTES),
        "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD_BYTES),
    }
