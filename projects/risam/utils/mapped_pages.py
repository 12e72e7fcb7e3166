"""Give back the pages of a memory-mapped checkpoint once they are copied.

Loading with ``mmap=True`` maps a checkpoint file privately and read-only in
use: a tensor's pages come into the process (as page cache) when first read,
and stay counted in its resident set until the whole file is unmapped, i.e.
until the last tensor of the file is gone. A frozen encoder that converts
the file's fp32 weights to bf16 reads every page, so its peak resident set
was the whole file plus the bf16 copies. :func:`release_file_pages` drops a
converted tensor's pages from the mapping at once (``madvise(DONTNEED)``):
the peak is then the bf16 copies plus one tensor.

Only pages that lie wholly inside the tensor, inside a mapping of the named
file, are given back. The mapping is private and never written, so a page
given back holds the file's bytes again if it is ever read; on a mapping that
is not the file (a tensor read into ordinary memory) nothing is done, since
there ``DONTNEED`` would zero the data. On systems without ``madvise`` (not
Linux) it does nothing.
"""
import ctypes
import ctypes.util
import functools
import mmap
import os
from typing import List, Optional, Tuple

from torch import Tensor

__all__ = ['file_mappings', 'release_file_pages']

_PAGE = mmap.PAGESIZE
_MADV_DONTNEED = 4  # Linux <sys/mman.h>


@functools.lru_cache(maxsize=1)
def _madvise() -> Optional[ctypes._CFuncPtr]:
    if not os.path.exists('/proc/self/maps'):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
    fn = getattr(libc, 'madvise', None)
    if fn is not None:
        fn.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        fn.restype = ctypes.c_int
    return fn


def file_mappings(path: str) -> List[Tuple[int, int]]:
    """``(start, end)`` address ranges of this process's mappings of
    ``path`` (``/proc/self/maps``); empty where there are none."""
    real = os.path.realpath(path)
    try:
        with open('/proc/self/maps') as f:
            lines = f.readlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5].rstrip('\n') == real:
            start, end = (int(a, 16) for a in parts[0].split('-'))
            out.append((start, end))
    return out


def release_file_pages(tensor: Tensor,
                       mappings: List[Tuple[int, int]]) -> int:
    """Give back the pages of ``tensor`` that lie in one of ``mappings``
    (from :func:`file_mappings` of its checkpoint file); the tensor must not
    be read afterwards. Returns the number of bytes given back: 0 where the
    tensor is not wholly in the file's mapping, is not contiguous, or there
    is no ``madvise``."""
    madvise = _madvise()
    if (madvise is None or not mappings or tensor.device.type != 'cpu'
            or not tensor.is_contiguous()):
        return 0
    begin = tensor.data_ptr()
    end = begin + tensor.numel() * tensor.element_size()
    if not any(lo <= begin and end <= hi for lo, hi in mappings):
        return 0
    first = -(-begin // _PAGE) * _PAGE  # whole pages only
    last = end // _PAGE * _PAGE
    if last <= first or madvise(first, last - first, _MADV_DONTNEED) != 0:
        return 0
    return last - first
