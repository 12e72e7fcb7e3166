"""Writing outputs without losing or overwriting anything.

- :func:`check_output_file` runs before any work: a folder, an existing file
  (without ``overwrite``) or an unwritable location is refused at once.
- :func:`write_text` writes next to the target, then renames it into place,
  so an interrupted write never leaves a half file where a good one was.
- :func:`write_image` checks ``cv2.imwrite``'s result, which is only a bool.

OpenCV is imported by :func:`write_image` alone: the text outputs serve
``tools/analysis_tools/gpu_check.py`` on machines without it.
"""
import os
import os.path as osp
import tempfile

import numpy as np

__all__ = ['OutputError', 'check_output_file', 'write_image', 'write_text']


class OutputError(OSError):
    """An output that cannot (or must not) be written, in one line."""


def check_output_file(path: str, overwrite: bool = False) -> str:
    """Validate ``path`` as an output file before any work starts.

    Returns:
        The absolute path.

    Raises:
        OutputError: ``path`` is a folder, exists and ``overwrite`` is
            False, or its folder cannot be created or written to.
    """
    path = osp.abspath(osp.expanduser(str(path)))
    if osp.isdir(path) or str(path).endswith(os.sep):
        raise OutputError(f'{path} is a folder; --out needs a file name')
    if osp.exists(path) and not overwrite:
        raise OutputError(f'{path} exists; use --overwrite to replace it or '
                          'choose another --out')
    folder = osp.dirname(path)
    existing = folder
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    if not osp.isdir(existing):
        raise OutputError(f'cannot create {folder}: {existing} is a file')
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f'cannot write to {existing}')
    return path


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file + rename)."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(path))
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def write_image(path: str, image: np.ndarray) -> None:
    """``cv2.imwrite`` that raises :class:`OutputError` when nothing was
    written (cv2 only returns False)."""
    import cv2
    os.makedirs(osp.dirname(osp.abspath(path)) or '.', exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise OutputError(f'could not write {path}')
