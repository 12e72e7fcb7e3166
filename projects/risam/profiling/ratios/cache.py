"""``cache``: one RISAM training iteration (forward, backward, Adam; batch of
2 images) with the live frozen encoder against the same iteration reading
the encoder outputs from a feature cache, in the model or in the dataloader
workers, and where the worker-read iteration's time goes."""
import copy
import tempfile
import time
from contextlib import nullcontext
from typing import Callable, Dict

import torch
from torch import nn

from ..timing import interleaved
from ..training_step import adam, total_loss
from .common import SENTENCES, random_uint8_images, refer_samples, risam_model

__all__ = ['bench_cache', 'stage_breakdown']


def _with_cached_taps(samples, cache_dir: str):
    """The samples as a dataloader worker hands them over: each through
    ``risam.LoadCachedFeatures``, which attaches its image's maps."""
    from projects.risam.datasets.transforms import LoadCachedFeatures
    reader = LoadCachedFeatures(cache_dir)
    for ds in samples:
        reader.transform(dict(data_samples=ds))
    return samples


def stage_breakdown(model: nn.Module, step: Callable,
                    reps: int) -> Dict[str, float]:
    """Mean seconds per stage of ``step(timer)`` over ``reps`` calls,
    rounded to 4 decimals: StageTimer's stages (``encode``, ``enhance``,
    ``text``, ``fusion``, ``decode``, ``loss_backward``, ``optimizer``),
    ``preprocess``, ``loss`` (Eq. 12 on the logits; ``loss_backward`` is
    then the backward and ``zero_grad`` only), ``maps`` (the rest of
    ``extract_visual``: in a cached step the cache check and making the maps
    fp32 on the device), what ``step`` times itself (the harness's
    ``batch_copy``), ``iteration``, and ``other``: the rest of the
    iteration, which no stage covers."""
    from projects.risam.utils.stage_timer import StageTimer
    timer = StageTimer()
    timer.attach_model(model)
    model.data_preprocessor.forward = timer.timed(
        model.data_preprocessor.forward, 'preprocess')
    model.decode_head.loss_by_feat = timer.timed(
        model.decode_head.loss_by_feat, 'loss')
    # extract_visual holds encode and enhance, which are timed on their own
    model.extract_visual = timer.timed(model.extract_visual, 'visual')
    for _ in range(reps):
        timer.phase = 'train'
        timer.iters.append({})
        start = time.perf_counter()
        step(timer)
        timer.iters[-1]['iteration'] = time.perf_counter() - start
    timer.phase = 'idle'
    stages = {k: sum(r.get(k, 0.) for r in timer.iters) / reps
              for k in {k for r in timer.iters for k in r}}
    stages['maps'] = stages.pop('visual', 0.) - stages.get(
        'enhance', 0.) - stages.get('encode', 0.)
    # StageTimer counts the loss forward (loss_by_feat) in loss_backward too
    stages['loss_backward'] = stages.get('loss_backward', 0.) - stages.get(
        'loss', 0.)
    stages['other'] = stages['iteration'] - sum(
        v for k, v in stages.items() if k != 'iteration')
    return {k: round(v, 4) for k, v in sorted(stages.items())}


def _write_cache(model: nn.Module, data: dict, size: int, cache_dir: str) -> None:
    """The frozen encoder's maps of ``data``'s images, as a feature cache."""
    from projects.risam.image_encoding import FeatureCacheWriter
    with torch.no_grad():
        batch = model.data_preprocessor(copy.deepcopy(data), True)
        taps = model.backbone.encode(batch['inputs'])
    writer = FeatureCacheWriter(out_dir=cache_dir,
                                fingerprint=model.backbone.fingerprint(),
                                input_size=(size, size))
    for b in range(len(data['inputs'])):
        writer.add(str(b), [t[b] for t in taps])
    writer.close()


def _train_step(model: nn.Module, data: dict) -> Callable:
    """``step(timer=None)``: one iteration of ``model`` on ``data``, the
    backward and the optimizer step timed as stages when given a timer."""
    optimizer = adam(model)

    def step(timer=None):
        # a fresh batch per iteration (the preprocessor writes into it)
        with timer.timing('batch_copy') if timer else nullcontext():
            fresh = copy.deepcopy(data)
        batch = model.data_preprocessor(fresh, True)
        loss = total_loss(model.loss(**batch))
        with timer.timing('loss_backward') if timer else nullcontext():
            optimizer.zero_grad()
            loss.backward()
        with timer.timing('optimizer') if timer else nullcontext():
            optimizer.step()

    return step


def bench_cache(arch: dict, size: int, reps: int) -> Dict[str, object]:
    """``cache_train_speedup`` (live / cache read by the model),
    ``cache_train_speedup_worker_reader`` (live / cache read in the
    dataloader workers: the maps arrive with the samples),
    ``cache_iter_time_s``, ``cache_worker_iter_stages_s`` (the worker-read
    iteration's :func:`stage_breakdown`) and ``cache_untimed_share``
    (``other`` / ``iteration`` of it)."""
    imgs = random_uint8_images(2, size, seed=2)
    data = dict(inputs=imgs, data_samples=refer_samples(size, [0, 1], SENTENCES))
    with tempfile.TemporaryDirectory() as cache_dir:
        live = risam_model(arch, size).train()
        _write_cache(live, data, size, cache_dir)
        worker_data = dict(inputs=imgs, data_samples=_with_cached_taps(
            copy.deepcopy(data['data_samples']), cache_dir))
        models = [live, risam_model(arch, size, feature_cache=cache_dir),
                  risam_model(arch, size, feature_cache=cache_dir)]
        steps = []
        for model, batch_data in zip(models, (data, data, worker_data)):
            model.train()
            step = _train_step(model, batch_data)
            step()  # warm-up (a cached model also verifies the hash here)
            steps.append(step)
        times = interleaved(*steps, reps=reps)
        stages = stage_breakdown(models[2], steps[2], reps)
    return dict(cache_train_speedup=times[0] / times[1],
                cache_train_speedup_worker_reader=times[0] / times[2],
                cache_iter_time_s=dict(live=times[0], cached=times[1],
                                       cached_worker_reader=times[2]),
                cache_worker_iter_stages_s=stages,
                cache_untimed_share=stages['other'] / stages['iteration'])
