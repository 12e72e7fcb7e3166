"""Images and sentences per second of a trained RISAM on its config's test
images, with the shared image encoding on and off (the user benchmark,
``tools/analysis_tools/benchmark.py``).

Each setting gets a warm-up batch, then ``repeat_times`` timed passes over
every batch (``model.test_step`` without gradients, synchronised on CUDA at
both ends of a pass); the data is loaded before timing, so the figures are
the model's: preprocessing, encoder, text, fusion, decoder, and resizing the
masks to the original image size.
"""
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
from torch import nn

from projects.risam.image_encoding import image_key

from .benchmark_images import load_benchmark_images
from .build import input_size
from .timing import synchronize

__all__ = ['SETTINGS', 'benchmark_model', 'spread', 'summary_lines', 'throughput']

#: result key -> ``share_image_encoding`` of that setting
SETTINGS = dict(shared=True, per_sentence=False)


def spread(values: Sequence[float]) -> Dict[str, object]:
    """``mean``, ``std`` (sample standard deviation; 0 for one value) and
    the values (``runs``), rounded to 4 decimals."""
    std = statistics.stdev(values) if len(values) > 1 else 0.
    return dict(mean=round(statistics.fmean(values), 4), std=round(std, 4),
                runs=[round(v, 4) for v in values])


class _EncodeCounter:
    """Counts the images that ``backbone.encode`` receives while installed
    (an instance attribute over the method; removed by :meth:`remove`)."""

    def __init__(self, backbone: nn.Module) -> None:
        self.backbone, self.images = backbone, 0
        self._encode = backbone.encode
        backbone.encode = self

    def __call__(self, inputs: torch.Tensor, *args, **kwargs):
        self.images += int(inputs.shape[0])
        return self._encode(inputs, *args, **kwargs)

    def remove(self) -> None:
        del self.backbone.encode


def throughput(model: nn.Module, batches: List[dict], *, share: bool,
               repeat_times: int = 3, log: Callable[[str], None] = print,
               log_interval: int = 50) -> Dict[str, object]:
    """Time ``repeat_times`` passes of ``model.test_step`` over ``batches``
    with ``model.share_image_encoding = share`` (restored afterwards).

    Returns ``images_per_s`` and ``sentences_per_s`` (:func:`spread` over
    the passes), ``seconds`` per pass and ``encoded_images``: the images
    the frozen encoder ran on in one pass (the distinct images of each
    batch when sharing, one per sentence otherwise). Logs ``Done image
    [k/N], fps: X img / s`` every ``log_interval`` images of a pass and at
    its end.
    """
    if repeat_times < 1:
        raise ValueError(f'repeat_times must be >= 1, got {repeat_times}')
    device = next(model.parameters()).device
    keys = [[image_key(ds.metainfo) for ds in b['data_samples']] for b in batches]
    n_images = len({k for ks in keys for k in ks})
    n_sentences = sum(len(ks) for ks in keys)
    old_share = model.share_image_encoding
    model.share_image_encoding = share
    counter = None
    try:
        with torch.no_grad():
            model.test_step(batches[0])  # warm-up
            counter = _EncodeCounter(model.backbone)
            seconds = []
            for _ in range(repeat_times):
                counter.images, seen, next_log = 0, set(), log_interval
                synchronize(device)
                start = time.perf_counter()
                for i, (batch, batch_keys) in enumerate(zip(batches, keys)):
                    model.test_step(batch)
                    seen.update(batch_keys)
                    if len(seen) >= next_log or i == len(batches) - 1:
                        synchronize(device)
                        fps = len(seen) / (time.perf_counter() - start)
                        log(f'Done image [{len(seen):<3}/ {n_images}], '
                            f'fps: {fps:.2f} img / s')
                        next_log = (len(seen) // log_interval + 1) * log_interval
                synchronize(device)
                seconds.append(time.perf_counter() - start)
    finally:
        if counter is not None:
            counter.remove()
        model.share_image_encoding = old_share
    return dict(images_per_s=spread([n_images / s for s in seconds]),
                sentences_per_s=spread([n_sentences / s for s in seconds]),
                seconds=[round(s, 4) for s in seconds],
                encoded_images=counter.images)


def benchmark_model(model: nn.Module, *, num_images: int = 100, repeat_times: int = 3,
                    log: Callable[[str], None] = print, log_interval: int = 50,
                    settings: Optional[Dict[str, bool]] = None) -> Dict[str, object]:
    """:func:`throughput` of ``model`` (from
    :func:`~projects.risam.apis.init_refer_model`, which keeps its config as
    ``model.cfg``) on the first ``num_images`` test images, for each of
    ``settings`` (default :data:`SETTINGS`: ``shared`` and
    ``per_sentence``), with the run's ``device``, ``input_size`` (the
    config's square model input), ``num_images``, ``num_sentences`` and
    ``repeat_times``."""
    data = load_benchmark_images(model.cfg, num_images)
    device = next(model.parameters()).device
    res = dict(device=str(device), input_size=input_size(model.cfg.model),
               num_images=data.images, num_sentences=data.sentences,
               repeat_times=repeat_times)
    for name, share in (settings or SETTINGS).items():
        log(f'share_image_encoding={share}: {data.images} images, '
            f'{data.sentences} sentences, {repeat_times} timed passes')
        res[name] = throughput(model, data.batches, share=share,
                               repeat_times=repeat_times, log=log,
                               log_interval=log_interval)
    return res


def summary_lines(res: Dict[str, object]) -> List[str]:
    """Per setting of a :func:`benchmark_model` result: ``images/s``,
    ``sentences/s`` (mean +/- std of the passes) and the images the encoder
    ran on per pass."""
    lines = [f'{res["num_images"]} images, {res["num_sentences"]} sentences, '
             f'{res["input_size"]} px input, {res["device"]}, mean +/- std of '
             f'{res["repeat_times"]} passes']
    for name, share in SETTINGS.items():
        if name not in res:
            continue
        r, tag = res[name], f'(share_image_encoding={share})'
        for unit in ('images', 'sentences'):
            s = r[f'{unit}_per_s']
            lines.append(f'{unit}/s {tag}: {s["mean"]:.2f} +/- {s["std"]:.2f}')
        lines.append(f'encoded images per pass {tag}: {r["encoded_images"]}')
    return lines
