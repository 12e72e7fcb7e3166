"""Pick the checkpoint to resume from: the newest one that is intact.

mmengine resumes from the file named in ``WORK_DIR/last_checkpoint``. When
that file was cut short (a full disk, a copy interrupted), resuming crashes,
although an older intact checkpoint usually sits beside it.
:func:`find_resume_checkpoint` walks back from the last checkpoint through
the ``iter_<N>.pth`` / ``epoch_<N>.pth`` files of the work dir, newest first,
and returns the first intact one with those it skipped, for a warning
(:func:`resume_warning`).

In a distributed run only rank 0 looks (:func:`choose_resume_checkpoint`)
and broadcasts its choice, so that every rank resumes from the same file even
when the ranks' views of the work dir differ (another node, a copy still
being written).
"""
import glob
import os.path as osp
import re
from typing import List, Optional, Tuple

import torch.distributed as torch_dist

from .checkpoint import CheckpointError, is_intact_checkpoint

__all__ = ['choose_resume_checkpoint', 'find_resume_checkpoint',
           'resume_candidates', 'resume_warning']

_NUMBERED = re.compile(r'^(iter|epoch)_(\d+)\.pth$')


def resume_candidates(work_dir: str) -> List[str]:
    """The last checkpoint, then the numbered ones before it, newest first."""
    numbered = []
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        match = _NUMBERED.match(osp.basename(path))
        if match:
            numbered.append((int(match.group(2)), path))
    numbered.sort(reverse=True)
    out: List[str] = []
    record = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(record):
        with open(record) as f:
            last = f.read().strip()
        if last:
            if not osp.isabs(last) and not osp.exists(last):
                last = osp.join(work_dir, osp.basename(last))
            out.append(last)
            match = _NUMBERED.match(osp.basename(last))
            if match:  # only checkpoints saved before the last one
                numbered = [(n, p) for n, p in numbered
                            if n < int(match.group(2))]
    for _, path in numbered:
        if all(not osp.samefile(path, seen) for seen in out
               if osp.exists(seen)):
            out.append(path)
    return out


def find_resume_checkpoint(work_dir: str) -> Tuple[Optional[str], List[str]]:
    """The newest intact checkpoint of ``work_dir`` and the newer ones that
    were skipped; ``(None, [])`` if there is no checkpoint at all.

    Raises:
        CheckpointError: checkpoints exist but none of them is intact.
    """
    skipped: List[str] = []
    for path in resume_candidates(work_dir):
        if is_intact_checkpoint(path):
            return path, skipped
        skipped.append(path)
    if skipped:
        raise CheckpointError(
            f'cannot resume from {work_dir}: no intact checkpoint '
            f'({", ".join(skipped)} missing, truncated or damaged)')
    return None, []


def resume_warning(path: str, skipped: List[str]) -> str:
    """The one-line warning for checkpoints skipped on the way to ``path``."""
    return (f'resume: skipped {", ".join(skipped)} (missing, truncated or '
            f'damaged); resuming from {path}')


def choose_resume_checkpoint(
        work_dir: str) -> Tuple[Optional[str], List[str]]:
    """:func:`find_resume_checkpoint` on rank 0, broadcast to every rank.

    Outside a process group (or with one process) it is just
    :func:`find_resume_checkpoint`. A :class:`CheckpointError` of rank 0
    is raised on every rank, with rank 0's message.
    """
    if not torch_dist.is_initialized() or torch_dist.get_world_size() == 1:
        return find_resume_checkpoint(work_dir)
    choice: List[object] = [None]
    if torch_dist.get_rank() == 0:
        try:
            choice[0] = ('ok', find_resume_checkpoint(work_dir))
        except CheckpointError as e:
            choice[0] = ('error', str(e))
    torch_dist.broadcast_object_list(choice, src=0)
    status, value = choice[0]
    if status == 'error':
        raise CheckpointError(value)
    path, skipped = value
    return path, list(skipped)
