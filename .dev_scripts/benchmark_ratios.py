"""Speed ratios of RISAM's optimised paths against the baselines.

    python tools/analysis_tools/benchmark.py [--json OUT] [--quick]
        [--size 1024] [--model-size 512] [--cache-size 1024] [--reps 2]

Every ratio compares two paths in the same process on the same inputs and
weights (random init; no files are read), so machine load affects both:

* ``shared_encoding_speedup``: RISAM predict of one image with k = 7
  sentences, per-sentence (``share_image_encoding=False``, 7 encoder passes)
  time / shared (1 pass) time; ``shared_identical_predictions`` says
  whether the 7 binary masks are equal.
* ``encoder_time_ratio``, ``encoder_memory_ratio``,
  ``encoder_max_abs_diff``: segment_anything's ``ImageEncoderViT`` (vit_b,
  ``--size`` input, non-zero rel-pos tables) vs the same module with every
  ``attn`` swapped for :class:`SAMSDPAttention` (ours / theirs). Memory is
  the peak resident set during one forward minus the resident set just
  before it, each path measured in a fresh subprocess: ``VmHWM`` of
  ``/proc/self/status`` after resetting it with ``/proc/self/clear_refs``
  (not ``ru_maxrss``: Linux carries the forking parent's high-water mark
  over ``exec``), so neither path's freed pages nor the parent can hide or
  inflate a peak.
* ``encoder_bf16_time_ratio``, ``encoder_bf16_max_rel_err``:
  ``SAMBackbone.encode`` (vit_b, ``--size``) with ``encoder_dtype='bf16'``
  over the same with ``'fp32'`` (time), and the bf16 features' largest
  error relative to the largest fp32 feature. ``encoder_bf16_native``
  says whether bf16 ran (False: this CPU has no native bf16, the encoder
  fell back to fp32).
* A measurement step that fails (e.g. ``/proc/self/clear_refs`` cannot be
  written, so the peak would include model building) leaves its ratio
  None and says why under ``invalid``; nothing is silently skipped.
* ``cache_train_speedup``: one RISAM training iteration (forward, backward,
  Adam step; batch of 2 images) with the live vit_b encoder / the same
  iteration reading the encoder outputs from a feature cache, at
  ``--cache-size`` (default 1024, the paper's input).
  ``cache_train_speedup_worker_reader``: the same with the maps read in
  the dataloader workers (``risam.LoadCachedFeatures``): they arrive with
  the samples, and the training process reads no shard.
  ``cache_worker_iter_stages_s``: where that cached iteration's time goes
  (StageTimer's stages: ``enhance`` = FE, ``text``, ``fusion``, ``decode``,
  ``loss_backward``, ``optimizer``, ``preprocess``, ``maps``: checking the
  cache and making the cached maps fp32 on the device; ``other`` is the
  rest, the segmentor's own bookkeeping), and ``cache_untimed_share``, the
  share of the iteration that ``other`` is (target <= 0.05).

* ``second_sentence_time_ratio_tiny``, ``second_sentence_time_ratio_vit_b``:
  interactive speed (web demo, :class:`RISAMInferencer`): on one image, the
  time of a further sentence (the cached image embedding, text tower,
  fusion and decoder) / the time of the first (preprocessing, encoder and
  the same decoding), with the tiny demo model (128 px) and with the SAM
  ViT-B model (``_base_/models/risam_sam-vit-b.py``: SAM ViT-B encoder,
  CLIP ViT-B/16 text tower; random weights; 1024 px). Target for vit_b:
  <= 0.10.
* ``onnx_decoder_time_ratio``: the exported prompt-decoder graph (text
  tower, fusion, decoder; 7 sentences) under onnxruntime / the same module
  in PyTorch eager, same inputs, SAM ViT-B model at ``--onnx-size`` (1024
  by default, the paper's size), with ``onnx_decoder_peak_mib``, the peak
  RSS growth of one call on each path (the exported graph attends in query
  blocks of bounded size, ``SDPAMultiheadAttention.export_block_bytes``).

The RISAM models of the shared/cache ratios use the vit_b encoder (at
``--model-size`` for the shared ratio, ``--cache-size`` for the cache ratio)
with the tiny config's text encoder, fusion and decoder, so the non-encoder
work is small; with the paper's CLIP/decoder sizes it is still < 1% of a
ViT-H forward. ``--quick`` shrinks everything (for tests: checks keys and
sanity, not speed). ``--only`` runs some groups (shared, encoder, cache,
bf16, interactive). The SAM ViT-B model of the interactive and ONNX
ratios is pinned to ``encoder_dtype='fp32'`` (a comparison of two paths).
"""
import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from functools import partial
from typing import Callable, Dict, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from segment_anything.modeling import ImageEncoderViT
from torch import nn

import projects.risam  # noqa: F401
from projects.risam.apis import RISAMInferencer
from projects.risam.datasets.transforms import LoadCachedFeatures
from projects.risam.deployment import ONNXRISAM, export_onnx
from projects.risam.deployment.onnx_export import PromptDecoderGraph, _export_mode
from projects.risam.image_encoding import FeatureCacheWriter
from projects.risam.models.backbones.sam_backbone import SAM_ARCHS, SAMBackbone
from projects.risam.models.layers.sam_sdpa_attention import swap_sam_attention
from projects.risam.utils.peak_memory import MeasurementError, reset_peak_rss, status_mb
from projects.risam.utils.stage_timer import StageTimer

TINY = 'configs/risam/_base_/models/risam_tiny.py'
DEMO = 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'
VIT_B_MODEL = 'configs/risam/_base_/models/risam_sam-vit-b.py'
VIT_B_LEAF = 'configs/risam/risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py'
QUICK_ARCH = dict(embed_dim=64, depth=4, num_heads=2,
                  global_attn_indexes=(0, 1, 2, 3))
SENTENCES = ['the red square', 'the big circle on the left', 'blue one',
             'the small green triangle', 'top right', 'the shape in the middle',
             'bottom']


def _interleaved(*fns: Callable, reps: int) -> Tuple[float, ...]:
    """Best of ``reps`` wall times of each of ``fns`` (a baseline first),
    taking turns so that load changes hit all of them."""
    best = [float('inf')] * len(fns)
    for _ in range(reps):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return tuple(best)


def sam_encoder(arch: dict, size: int, seed: int = 0) -> ImageEncoderViT:
    """segment_anything's encoder, random weights and rel-pos tables."""
    torch.manual_seed(seed)
    enc = ImageEncoderViT(
        img_size=size, patch_size=16, embed_dim=arch['embed_dim'],
        depth=arch['depth'], num_heads=arch['num_heads'], mlp_ratio=4.0,
        out_chans=256, qkv_bias=True,
        norm_layer=partial(nn.LayerNorm, eps=1e-6), use_rel_pos=True,
        window_size=14, global_attn_indexes=arch['global_attn_indexes'])
    with torch.no_grad():
        for name, p in enc.named_parameters():
            if 'rel_pos' in name or 'pos_embed' in name:
                p.normal_(0, 0.1)
    return enc.eval()


def memory_worker(impl: str, arch: dict, size: int) -> None:
    """Subprocess body: print the forward's peak RSS growth in MB."""
    enc = sam_encoder(arch, size)
    if impl == 'sdpa':
        swap_sam_attention(enc)
    x = torch.randn(1, 3, size, size)
    reset_peak_rss()
    before = status_mb('VmRSS')
    with torch.no_grad():
        enc(x)
    print(json.dumps(dict(peak_mb=status_mb('VmHWM') - before)))


def _memory(impl: str, arch: dict, size: int) -> float:
    """Peak RSS growth of one forward, in a fresh process; raises
    :class:`MeasurementError` with the worker's last line if it failed."""
    out = subprocess.run(
        [sys.executable, __file__, '--_memory-worker', impl, '--size',
         str(size)] + (['--quick'] if arch is QUICK_ARCH else []),
        capture_output=True, text=True)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ['no output'])[-1]
        raise MeasurementError(f'memory worker ({impl}) failed: {last}')
    return json.loads(out.stdout.strip().splitlines()[-1])['peak_mb']


def bench_encoder(arch: dict, size: int, reps: int) -> Dict[str, float]:
    """SDPA vs segment_anything's attention. A failed memory measurement
    leaves ``encoder_memory_ratio`` None and names the reason under
    ``invalid``, instead of a ratio of wrong peaks."""
    ref = sam_encoder(arch, size)
    ours = copy.deepcopy(ref)
    swap_sam_attention(ours)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        want, got = ref(x), ours(x)
        t_ref, t_ours = _interleaved(lambda: ref(x), lambda: ours(x),
                                     reps=reps)
    res = dict(encoder_time_ratio=t_ours / t_ref,
               encoder_max_abs_diff=(want - got).abs().max().item(),
               encoder_time_s=dict(segment_anything=t_ref, sdpa=t_ours))
    try:
        m_ref, m_ours = _memory('sam', arch, size), _memory('sdpa', arch,
                                                            size)
    except MeasurementError as e:
        res.update(encoder_memory_ratio=None,
                   invalid=dict(encoder_memory_ratio=str(e)))
        return res
    res.update(encoder_memory_ratio=m_ours / m_ref,
               encoder_peak_mb=dict(segment_anything=m_ref, sdpa=m_ours))
    return res


def bench_encoder_bf16(arch: dict, size: int,
                       reps: int) -> Dict[str, float]:
    """``SAMBackbone.encode`` with ``encoder_dtype='bf16'`` / ``'fp32'``
    (same random weights, all four global blocks tapped), and the largest
    error of the bf16 features relative to the largest fp32 feature."""
    kw = dict(arch=dict(arch, img_size=size, patch_size=16, window_size=14),
              out_global_blocks=(0, 1, 2, 3), feature_enhancement=None)
    fp32 = SAMBackbone(**kw, encoder_dtype='fp32')
    with torch.no_grad():
        for name, p in fp32.encoder.named_parameters():
            if 'rel_pos' in name or 'pos_embed' in name:
                p.normal_(0, 0.1)
    bf16 = SAMBackbone(**kw, encoder_dtype='bf16')
    bf16.encoder.load_state_dict(fp32.encoder.state_dict())
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        want, got = fp32.encode(x), bf16.encode(x)
        t_32, t_16 = _interleaved(lambda: fp32.encode(x),
                                  lambda: bf16.encode(x), reps=reps)
    rel = max(((g - w).abs().max() / w.abs().max()).item()
              for w, g in zip(want, got))
    return dict(encoder_bf16_time_ratio=t_16 / t_32,
                encoder_bf16_max_rel_err=rel,
                encoder_bf16_native=bf16.encoder_dtype == 'bf16',
                encoder_bf16_time_s=dict(fp32=t_32, bf16=t_16))


def risam_model(arch: dict, size: int, **kw) -> nn.Module:
    """Tiny-config RISAM with a vit_b-sized random SAM encoder."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(TINY).model
    cfg.backbone.arch = dict(arch, img_size=size, patch_size=16,
                             window_size=14)
    cfg.backbone.init_pos_embed = 'sincos'
    cfg.data_preprocessor.size = (size, size)
    cfg.data_preprocessor.test_cfg = dict(size=(size, size))
    cfg.update(kw)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _samples(size: int, img_ids, texts):
    out = []
    for i, t in zip(img_ids, texts):
        ds = SegDataSample(metainfo=dict(text=t, img_id=i, img_shape=(
            size, size), ori_shape=(size, size)))
        gt = torch.zeros(1, size, size, dtype=torch.uint8)
        gt[:, size // 4:size // 2, size // 8:] = 1
        ds.gt_sem_seg = PixelData(data=gt)
        out.append(ds)
    return out


def bench_shared(arch: dict, size: int, reps: int) -> Dict[str, float]:
    torch.manual_seed(1)
    img = torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
    k = len(SENTENCES)
    preds, steps = [], []
    for share in (False, True):
        model = risam_model(arch, size, share_image_encoding=share).eval()

        def step(m=model):
            data = dict(inputs=[img] * k,
                        data_samples=_samples(size, [0] * k, SENTENCES))
            return m.test_step(data)

        with torch.no_grad():
            preds.append([d.pred_sem_seg.data for d in step()])  # + warm-up
        steps.append(step)
    with torch.no_grad():
        times = _interleaved(*steps, reps=reps)
    same = all(torch.equal(a, b) for a, b in zip(*preds))
    return dict(shared_encoding_speedup=times[0] / times[1],
                shared_identical_predictions=same,
                shared_time_s=dict(per_sentence=times[0], shared=times[1]))


def _with_cached_taps(samples, cache_dir: str):
    """The samples as a dataloader worker hands them over: each through
    ``risam.LoadCachedFeatures``, which attaches its image's maps."""
    reader = LoadCachedFeatures(cache_dir)
    for ds in samples:
        reader.transform(dict(data_samples=ds))
    return samples


def _stage_breakdown(model: nn.Module, step: Callable,
                     reps: int) -> Dict[str, float]:
    """Mean seconds per stage of ``step`` (StageTimer's stages, plus
    ``preprocess``, ``maps``: the cached step's ``extract_visual`` without
    an encoder pass, i.e. the cache check and making the maps fp32 on the
    device, and ``other``: the rest of the iteration)."""
    timer = StageTimer()
    timer.attach_model(model)
    model.data_preprocessor.forward = timer.timed(
        model.data_preprocessor.forward, 'preprocess')
    model.extract_visual = timer.timed(model.extract_visual, 'maps')
    for _ in range(reps):
        timer.phase = 'train'
        timer.iters.append({})
        start = time.perf_counter()
        step(timer)
        timer.iters[-1]['iteration'] = time.perf_counter() - start
    timer.phase = 'idle'
    stages = {k: sum(r.get(k, 0.) for r in timer.iters) / reps
              for k in {k for r in timer.iters for k in r}}
    stages['other'] = stages['iteration'] - sum(
        v for k, v in stages.items() if k != 'iteration')
    return {k: round(v, 4) for k, v in sorted(stages.items())}


def bench_cache(arch: dict, size: int, reps: int) -> Dict[str, float]:
    """Live encoder / cache read by the model / cache read in the
    dataloader workers (the maps arrive with the samples), and where the
    last one's iteration goes."""
    torch.manual_seed(2)
    imgs = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
            for _ in range(2)]
    data = dict(inputs=imgs, data_samples=_samples(size, [0, 1], SENTENCES))
    with tempfile.TemporaryDirectory() as cache_dir:
        live = risam_model(arch, size).train()
        with torch.no_grad():
            batch = live.data_preprocessor(copy.deepcopy(data), True)
            taps = live.backbone.encode(batch['inputs'])
        writer = FeatureCacheWriter(
            out_dir=cache_dir, fingerprint=live.backbone.fingerprint(),
            input_size=(size, size))
        for b in range(2):
            writer.add(str(b), [t[b] for t in taps])
        writer.close()
        worker_data = dict(inputs=imgs, data_samples=_with_cached_taps(
            copy.deepcopy(data['data_samples']), cache_dir))
        models = [live, risam_model(arch, size, feature_cache=cache_dir),
                  risam_model(arch, size, feature_cache=cache_dir)]
        steps = []
        for model, batch_data in zip(models, (data, data, worker_data)):
            model.train()
            opt = torch.optim.Adam(
                [p for p in model.parameters() if p.requires_grad], lr=1e-4)

            def step(timer=None, m=model, o=opt, d=batch_data):
                batch = m.data_preprocessor(copy.deepcopy(d), True)
                loss = sum(m.loss(**batch).values())
                with timer.timing('loss_backward') if timer else nullcontext():
                    o.zero_grad()
                    loss.backward()
                with timer.timing('optimizer') if timer else nullcontext():
                    o.step()

            step()  # warm-up (a cached model also verifies the hash here)
            steps.append(step)
        times = _interleaved(*steps, reps=reps)
        stages = _stage_breakdown(models[2], steps[2], reps)
    return dict(cache_train_speedup=times[0] / times[1],
                cache_train_speedup_worker_reader=times[0] / times[2],
                cache_iter_time_s=dict(live=times[0], cached=times[1],
                                       cached_worker_reader=times[2]),
                cache_worker_iter_stages_s=stages,
                cache_untimed_share=stages['other'] / stages['iteration'])


def interactive_config(name: str, quick: bool) -> Config:
    """Full config (model + test pipeline) of the tiny demo model, or of
    the SAM ViT-B model with random weights (``quick``: the demo model
    with the quick encoder at 64 px stands in for it)."""
    if name == 'tiny':
        return Config.fromfile(DEMO)
    if quick:
        cfg = Config.fromfile(DEMO)
        cfg.model.backbone.arch = dict(QUICK_ARCH, img_size=64,
                                       patch_size=16, window_size=14)
        return cfg
    cfg = Config.fromfile(VIT_B_LEAF)
    cfg.model = Config.fromfile(VIT_B_MODEL).model
    cfg.model.backbone.checkpoint = None
    cfg.model.backbone.encoder_dtype = 'fp32'
    cfg.model.text_encoder.pretrained = None
    return cfg


def bench_second_sentence(name: str, quick: bool,
                          reps: int) -> Tuple[float, Dict[str, float],
                                              RISAMInferencer]:
    """Time of a further sentence on an encoded image / time of the first
    sentence on a new image (encode + decode), with the inferencer."""
    torch.manual_seed(0)
    inferencer = RISAMInferencer(interactive_config(name, quick))
    size = inferencer.model.data_preprocessor.test_cfg['size']
    img = torch.randint(0, 256, (size[0] * 3 // 4, size[1], 3),
                        dtype=torch.uint8).numpy()
    embedding, _ = inferencer.encode(img)
    inferencer.segment(embedding, [SENTENCES[1]])  # warm-up

    def first():
        inferencer.clear_cache()
        inferencer.segment(inferencer.encode(img)[0], [SENTENCES[0]])

    def further():
        inferencer.segment(embedding, [SENTENCES[1]])

    t_first, t_further = _interleaved(first, further, reps=reps)
    return t_further / t_first, dict(first=t_first, further=t_further), \
        inferencer


def bench_onnx_decoder(inferencer: RISAMInferencer, size: int,
                       reps: int) -> Dict[str, float]:
    """onnxruntime / PyTorch eager time of the prompt-decoder graph."""
    model = inferencer.model
    image = torch.randn(1, 3, size, size)
    ids = model.text_encoder.tokenize(SENTENCES)
    with tempfile.TemporaryDirectory() as out_dir:
        export_onnx(model, out_dir, image=image, graphs=('decoder', ))
        runtime = ONNXRISAM(out_dir)
        decoder = PromptDecoderGraph(model=model).eval()
        with _export_mode():  # only for the features (no grad)
            features = tuple(model.extract_visual(image))
        np_features = [f.numpy() for f in features]
        np_ids = ids.numpy()

        def eager():
            with torch.no_grad():
                return decoder(ids, *features)

        def onnx():
            return runtime.decode(np_features, np_ids)

        diff = float((eager() - torch.from_numpy(onnx())).abs().max())
        peak = {}
        for name, run in (('torch_eager', eager), ('onnxruntime', onnx)):
            reset_peak_rss()  # after a warm run: the call's own peak
            before = status_mb('VmRSS')
            run()
            peak[name] = round(status_mb('VmHWM') - before, 1)
        t_eager, t_onnx = _interleaved(eager, onnx, reps=reps)
    return dict(onnx_decoder_time_ratio=t_onnx / t_eager,
                onnx_decoder_max_abs_diff=diff,
                onnx_decoder_time_s=dict(torch_eager=t_eager,
                                         onnxruntime=t_onnx),
                onnx_decoder_peak_mib=peak)


def bench_interactive(quick: bool, onnx_size: int,
                      reps: int) -> Dict[str, float]:
    res = {}
    for name in ('tiny', 'vit_b'):
        ratio, times, inferencer = bench_second_sentence(name, quick, reps)
        res[f'second_sentence_time_ratio_{name}'] = ratio
        res[f'second_sentence_time_s_{name}'] = times
    res.update(bench_onnx_decoder(inferencer, 64 if quick else onnx_size,
                                  reps))
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--json', help='write the results here')
    parser.add_argument('--quick', action='store_true',
                        help='tiny sizes (tests): keys and sanity only')
    parser.add_argument('--size', type=int, default=1024,
                        help='encoder input for the encoder ratios')
    parser.add_argument('--model-size', type=int, default=512,
                        help='RISAM input for the shared/cache ratios')
    parser.add_argument('--cache-size', type=int, default=1024,
                        help='RISAM input for the cache ratio')
    parser.add_argument('--onnx-size', type=int, default=1024,
                        help='input size behind the ONNX decoder ratio')
    parser.add_argument('--only', nargs='+',
                        choices=['shared', 'encoder', 'bf16', 'cache',
                                 'interactive'],
                        help='run only these groups (default: all)')
    parser.add_argument('--reps', type=int, default=2,
                        help='timed repetitions per path (best of)')
    parser.add_argument('--_memory-worker', dest='memory_worker',
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    arch = QUICK_ARCH if args.quick else SAM_ARCHS['vit_b']
    size, model_size, cache_size = (64, 64, 64) if args.quick else (
        args.size, args.model_size, args.cache_size)
    if args.memory_worker:
        memory_worker(args.memory_worker, arch, size)
        return
    torch.set_num_threads(torch.get_num_threads())
    res = dict(config=dict(arch='quick' if args.quick else 'vit_b',
                           encoder_size=size, model_size=model_size,
                           cache_size=cache_size,
                           reps=args.reps, threads=torch.get_num_threads(),
                           loadavg=os.getloadavg()[0]))
    groups = (('shared', partial(bench_shared, arch, model_size)),
              ('encoder', partial(bench_encoder, arch, size)),
              ('bf16', partial(bench_encoder_bf16, arch, size)),
              ('cache', partial(bench_cache, arch, cache_size)),
              ('interactive', partial(bench_interactive, args.quick,
                                      args.onnx_size)))
    for name, fn in groups:
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        res.update(fn(args.reps))
        print(f'[{name}] done in {time.perf_counter() - start:.1f} s',
              flush=True)
    keys = ('shared_encoding_speedup', 'encoder_time_ratio',
            'encoder_memory_ratio', 'encoder_max_abs_diff',
            'encoder_bf16_time_ratio', 'encoder_bf16_max_rel_err',
            'cache_train_speedup', 'cache_train_speedup_worker_reader',
            'cache_untimed_share',
            'second_sentence_time_ratio_tiny',
            'second_sentence_time_ratio_vit_b', 'onnx_decoder_time_ratio',
            'onnx_decoder_max_abs_diff')
    print(f'{"metric":<34}{"value":>12}')
    for k in keys:
        if k in res:
            value = ('invalid' if res[k] is None else f'{res[k]:.4g}')
            print(f'{k:<34}{value:>12}')
    for k, why in res.get('invalid', {}).items():
        print(f'{k} is invalid: {why}')
    if 'cache_worker_iter_stages_s' in res:
        print('cached iteration (worker reader), seconds per stage: ' + ', '.join(
            f'{k} {v:.3f}' for k, v in res['cache_worker_iter_stages_s'].items()))
    if 'shared_identical_predictions' in res:
        print('shared_identical_predictions: '
              f'{res["shared_identical_predictions"]}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2)
        print(f'written to {args.json}')


if __name__ == '__main__':
    main()
