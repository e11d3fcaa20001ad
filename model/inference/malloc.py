"""glibc malloc thresholds for CPU inference (Linux with glibc only; nothing is changed elsewhere).

Measured (BENCHMARKS.md, pipeline overhead 1.19 -> 1.13): glibc's malloc returns freed memory to the OS (trims the
heap, unmaps large blocks) while its adaptive thresholds are still low, so each network pass on the CPU between two
reads of the tiled pipeline page-faulted all its activations afresh, and the same passes ran 5-10 % slower inside
``segment()`` than back to back.  :func:`keep_freed_memory` sets the thresholds to the values the adaptive ones grow
to by themselves in a long-running process (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit, twice that for trimming).

Scope: ``segment()`` calls it only when the network runs on the CPU, the case it was measured on.  It is set once per
process and stays (glibc has no way back to the adaptive thresholds): in QGIS the process then keeps up to 64 MiB of
freed memory for reuse instead of returning it at once, which is what a long-running QGIS reaches by itself anyway.
"""

import ctypes
import ctypes.util
import functools
import platform
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD, TRIM_THRESHOLD = 32 * 1024 * 1024, 64 * 1024 * 1024


@functools.cache
def keep_freed_memory():
    """Set glibc's malloc thresholds once per process (see above); True where it did, False elsewhere (other C
    libraries or systems, where nothing is changed)."""
    if not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
            bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):
        return False
