"""What ``.dev_scripts/benchmark_ratios.py --only infer`` measures: does batch inference cost the
same per image at the end of a long run as at its start, and how much does
it add to the model's own work?

* ``infer_late_early_ratio``: the runner's time per image over the last
  10 % of the images / over the first 10 % (from the first image finished
  on, so the workers' start is not counted). A writer that rewrote its
  output per image, or a resume index scanned per image, would grow it.
* ``infer_overhead_ratio``: the runner's wall time (input checks, the
  DataLoader, RLE, the JSON Lines part, fsyncs, the final merge) / a bare
  loop of read, preprocess, encode (the same batches) and segment on the
  same images. The bare loop runs half of the images before the run and
  half after it, so a drift in machine load weighs on both sides alike.

The model is the tiny demo config with random weights (no checkpoint), on
small generated images; ``threads`` pins torch's threads (1: the ratio does
not depend on how busy the other cores are).
"""
import json
import os.path as osp
import tempfile
import time
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch

from .batch_inference import InferOptions, run_batch_inference
from .inference import prepare_image
from .risam_inferencer import RISAMInferencer, read_image

DEMO = 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'
SENTENCES = ['the red shape', 'the leftmost shape', 'the biggest circle']


def write_inputs(folder: str, images: int, sentences: int = 2,
                 sizes=(32, 64), seed: int = 0) -> str:
    """``images`` small PNGs (side lengths in ``sizes``) with coloured
    rectangles, and a JSONL input giving each ``sentences`` sentences."""
    rng = np.random.default_rng(seed)
    lines = []
    for k in range(images):
        h, w = (int(v) for v in rng.integers(sizes[0], sizes[1] + 1, size=2))
        img = np.full((h, w, 3), 30, np.uint8)
        y, x = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
        img[y:y + h // 3, x:x + w // 3] = rng.integers(0, 256, size=3)
        name = f'{k:06d}.png'
        cv2.imwrite(osp.join(folder, name), img)
        lines.append(json.dumps(dict(
            image=name, sentences=SENTENCES[:sentences])) + '\n')
    path = osp.join(folder, 'input.jsonl')
    with open(path, 'w', encoding='utf-8') as f:
        f.writelines(lines)
    return path


@torch.no_grad()
def bare_loop(inferencer: RISAMInferencer, jobs: List[tuple],
              batch_size: int) -> float:
    """Seconds of read + preprocess + encode (in batches) + segment."""
    model = inferencer.model
    start = time.perf_counter()
    for b in range(0, len(jobs), batch_size):
        chunk = jobs[b:b + batch_size]
        prepared = [prepare_image(model, read_image(path))
                    for path, _ in chunk]
        embeddings = inferencer.encode_prepared(
            torch.cat([p[0] for p in prepared]), [p[1] for p in prepared])
        for (_, texts), embedding in zip(chunk, embeddings):
            for sample in inferencer.segment(embedding, texts):
                sample.pred_sem_seg.data.cpu()
    return time.perf_counter() - start


def _window_means(stamps: List[float], fraction: float = 0.1):
    """Mean seconds per image in the first and last ``fraction`` of the
    gaps between finished images."""
    gaps = np.diff(np.asarray(stamps))
    n = max(1, int(len(gaps) * fraction))
    return float(gaps[:n].mean()), float(gaps[-n:].mean()), \
        float(np.median(gaps[:n])), float(np.median(gaps[-n:]))


def bench_infer(images: int = 20000, *, sentences: int = 2,
                batch_size: int = 8, num_workers: int = 1,
                threads: Optional[int] = 1,
                config: str = DEMO) -> Dict[str, object]:
    """Run the measurement; returns the two ratios and their details."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _measure(images, sentences, batch_size, num_workers, config)
    finally:
        torch.set_num_threads(before)


def _measure(images: int, sentences: int, batch_size: int, num_workers: int,
             config: str) -> Dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        source = write_inputs(folder, images, sentences)
        with open(source, encoding='utf-8') as f:
            jobs = [(osp.join(folder, item['image']), item['sentences'])
                    for item in map(json.loads, f)]
        torch.manual_seed(0)
        bare = RISAMInferencer(config, None, cache_size=0)
        bare_loop(bare, jobs[:2 * batch_size], batch_size)  # warm-up
        half = len(jobs) // 2
        t_bare = bare_loop(bare, jobs[:half], batch_size)
        stamps: List[float] = []
        opts = InferOptions(config=config, checkpoint=None, input=source,
                            out=osp.join(folder, 'results.json'),
                            batch_size=batch_size, num_workers=num_workers,
                            progress_every=30.0)
        start = time.perf_counter()
        run_batch_inference(opts, on_image=lambda _: stamps.append(
            time.perf_counter()))
        t_run = time.perf_counter() - start
        t_bare += bare_loop(bare, jobs[half:], batch_size)
        size = osp.getsize(opts.out)
    early, late, early_median, late_median = _window_means(stamps)
    return dict(
        infer_late_early_ratio=late / early,
        infer_overhead_ratio=t_run / t_bare,
        infer_detail=dict(
            images=images, sentences_per_image=sentences,
            batch_size=batch_size, num_workers=num_workers,
            threads=torch.get_num_threads(), run_s=round(t_run, 2),
            bare_loop_s=round(t_bare, 2),
            early_ms_per_image=round(1e3 * early, 3),
            late_ms_per_image=round(1e3 * late, 3),
            late_early_median_ratio=late_median / early_median,
            output_bytes=size))


__all__ = ['bare_loop', 'bench_infer', 'write_inputs']
