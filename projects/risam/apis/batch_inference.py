"""Batch inference: many images, each with its sentences, into one results
file, at a cost per image that does not grow with the images done.

:func:`run_batch_inference` is what ``tools/infer.py`` (and, one process per
GPU or CPU process, ``tools/dist_infer.sh``) runs:

1. read and check the input (:mod:`.infer_inputs`);
2. on ``--resume``, repair the part files (a torn last line is cut off) and
   read which entries are done, in one pass (:mod:`.infer_results`);
3. take this process's share of the images (every ``world_size``-th, from
   its rank), decode and resize them in DataLoader workers
   (:mod:`.infer_loader`), encode ``batch_size`` of them in one encoder
   pass, segment each image for all its sentences, and append its entries
   to this process's part file (flushed per image, fsynced at an interval);
4. after a barrier, rank 0 writes ``--out`` once from all parts, in input
   order, and removes them.
"""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, List, Optional, Set, Tuple

import torch
from mmengine.config import Config
from mmengine.dist import barrier, get_dist_info

from ..utils.progress import RateProgress
from .infer_inputs import InputError, Job, read_jobs
from .infer_loader import infer_loader
from .infer_results import (
    EntryIndex,
    Key,
    PartWriter,
    existing_parts,
    load_done,
    merge_parts,
    part_path,
    repair_part,
    rle_entry,
    seed_part,
)
from .inference import preprocess_packed
from .risam_inferencer import RISAMInferencer


@dataclass
class InferOptions:
    """What to run (the command line's options).

    ``sync_images`` / ``sync_seconds``: fsync the part file after this many
    images / seconds (whichever comes first; None: no such bound).
    ``stop_after``: stop after this many images, as a killed run would
    (tests). ``progress_every``: seconds between progress lines without a
    terminal.
    """
    config: str
    checkpoint: Optional[str]
    input: str
    out: str
    sentences: Optional[str] = None
    resume: bool = False
    overwrite: bool = False
    threshold: Optional[float] = None
    device: str = 'cpu'
    batch_size: int = 1
    num_workers: int = 0
    format: str = 'json'
    sync_images: Optional[int] = None
    sync_seconds: Optional[float] = 10.0
    progress_every: float = 5.0
    stop_after: Optional[int] = None


class Stopped(Exception):
    """The run stopped after ``stop_after`` images (a simulated kill)."""


def start_processes(launcher: str, device: Optional[str]) -> str:
    """Create the process group of a distributed run as training does
    (:func:`projects.risam.utils.launch.configure_launcher`: gloo for
    ``--device cpu``, NCCL otherwise) and return this process's device:
    ``cpu``, or ``cuda:LOCAL_RANK``. ``--launcher none``: ``device`` or
    ``cpu``."""
    if launcher == 'none':
        return device or 'cpu'
    from ..utils.launch import configure_launcher
    configure_launcher(Config(), launcher, 'cpu' if device == 'cpu' else None)
    if device == 'cpu':
        return 'cpu'
    local_rank = int(os.environ.get(
        'SLURM_LOCALID' if launcher == 'slurm' else 'LOCAL_RANK', 0))
    torch.cuda.set_device(local_rank)
    return f'cuda:{local_rank}'


def finish_processes() -> None:
    """Leave the process group of :func:`start_processes`, if any."""
    if torch.distributed.is_available() and \
            torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _prepare_parts(opts: InferOptions, index: EntryIndex, threshold: float,
                   rank: int, world: int) -> Set[Key]:
    """On ``--overwrite`` remove the parts; on ``--resume`` repair them
    (rank 0) and read what is done (every rank, after a barrier)."""
    parts = existing_parts(opts.out)
    if rank == 0:
        if opts.overwrite:
            for path in parts:
                os.remove(path)
        elif opts.resume:
            for path in parts:
                repair_part(path)
            if not parts and osp.exists(opts.out):
                seed_part(opts.out, part_path(opts.out, 0, world), threshold)
    if world > 1:
        barrier()
    if not opts.resume:
        return set()
    return load_done(existing_parts(opts.out), index, threshold, opts.input)


def run_batch_inference(
        opts: InferOptions,
        on_image: Optional[Callable[[int], None]] = None) -> dict:
    """Run batch inference in this process (one rank of a distributed run
    when a process group exists).

    Args:
        opts: the options.
        on_image: called with the input position of each image finished
            (after its entries are written); the benchmark times with it.

    Returns:
        ``dict(entries, todo_entries, images, out)``: entries in the input,
        entries this run had to do, images this process did, and the
        output (written by rank 0).

    Raises:
        InputError: a bad input, an unreadable image, an existing output
            without ``--resume``/``--overwrite``, or a part that does not
            belong to this input.
        Stopped: ``opts.stop_after`` images were done.
    """
    if opts.format not in ('json', 'jsonl'):
        raise InputError(f'--format must be json or jsonl, not {opts.format}')
    if opts.batch_size < 1 or opts.num_workers < 0:
        raise InputError('--batch-size must be >= 1, --num-workers >= 0')
    jobs = read_jobs(opts.input, opts.sentences)
    for path in (opts.config, opts.checkpoint):
        if path is not None and not osp.isfile(path):
            raise InputError(f'file not found: {path}')
    rank, world = get_dist_info()
    if not (opts.resume or opts.overwrite):
        if osp.exists(opts.out):
            raise InputError(f'{opts.out} exists; use --resume to continue '
                             f'it or --overwrite to replace it')
        if existing_parts(opts.out):
            raise InputError(f'{existing_parts(opts.out)[0]} is left from an '
                             f'interrupted run; use --resume to continue it '
                             f'or --overwrite')
    inferencer = RISAMInferencer(opts.config, opts.checkpoint, opts.device,
                                 threshold=opts.threshold, cache_size=0)
    threshold = float(inferencer.model.threshold)
    index = EntryIndex(jobs)
    done = _prepare_parts(opts, index, threshold, rank, world)
    left = index.total - sum(index.slot(*key) is not None for key in done)
    todo = [k for k in range(rank, len(jobs), world)
            if any((jobs[k].name, i) not in done
                   for i in range(len(jobs[k].sentences)))]
    if rank == 0:
        print(f'{left} of {index.total} entries to do ({index.total - left} '
              f'already in {opts.out}), {len(jobs)} images'
              + (f', {world} processes' if world > 1 else ''), flush=True)
    writer = PartWriter(part_path(opts.out, rank, world), threshold,
                        sync_images=opts.sync_images,
                        sync_seconds=opts.sync_seconds)
    try:
        _run_images(inferencer, jobs, todo, done, writer, opts,
                    rank == 0, on_image)
    finally:
        writer.close()
    if world > 1:
        barrier()
    if rank == 0:
        merge_parts(existing_parts(opts.out), opts.out, index, threshold,
                    opts.format)
        print(f'{index.total} entries in {opts.out}', flush=True)
    if world > 1:
        barrier()
    return dict(entries=index.total, todo_entries=left, images=len(todo),
                out=opts.out)


def _run_images(inferencer: RISAMInferencer, jobs: List[Job],
                todo: List[int], done: Set[Key], writer: PartWriter,
                opts: InferOptions, show: bool,
                on_image: Optional[Callable[[int], None]]) -> None:
    """Encode the ``todo`` images in batches, segment each for all its
    sentences, and write the entries not yet done."""
    if not todo:
        return
    model = inferencer.model
    loader = infer_loader([(k, jobs[k].disk) for k in todo], model.cfg,
                          batch_size=opts.batch_size,
                          num_workers=opts.num_workers)
    progress = RateProgress(len(todo), every=opts.progress_every) \
        if show else None
    count = 0
    for batch in loader:
        prepared: List[Tuple[torch.Tensor, dict]] = []
        for item in batch:
            if 'error' in item:
                raise InputError(f'{opts.input}: {jobs[item["index"]].name}: '
                                 f'{item["error"]}')
            prepared.append(preprocess_packed(model, dict(
                inputs=item['inputs'], data_samples=item['data_sample'])))
        embeddings = inferencer.encode_prepared(
            torch.cat([p[0] for p in prepared]), [p[1] for p in prepared])
        for item, embedding in zip(batch, embeddings):
            job = jobs[item['index']]
            # every sentence, as an uninterrupted run segments them
            samples = inferencer.segment(embedding, job.sentences)
            writer.write([rle_entry(job.name, i, s, sample)
                          for i, (s, sample) in enumerate(
                              zip(job.sentences, samples))
                          if (job.name, i) not in done])
            count += 1
            if on_image is not None:
                on_image(item['index'])
            if progress is not None:
                progress.update()
            if opts.stop_after is not None and count >= opts.stop_after:
                raise Stopped(f'stopped after {count} images')
    if progress is not None:
        progress.finish()


__all__ = [
    'InferOptions',
    'Stopped',
    'finish_processes',
    'run_batch_inference',
    'start_processes',
]
