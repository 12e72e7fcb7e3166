"""Speed ratios of RISAM's optimised paths against the baselines.

    python .dev_scripts/benchmark_ratios.py [--json OUT] [--quick]
        [--size 1024] [--model-size 512] [--cache-size 1024]
        [--onnx-size 1024] [--only GROUP ...] [--reps 2]

Run it from the repository root. The measurements live in
:mod:`projects.risam.profiling.ratios` (one module per group); this file
parses the flags, runs the groups, prints and writes the results.

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
* ``infer_late_early_ratio``, ``infer_overhead_ratio`` (``--only infer``):
  batch inference over 20,000 small images with the tiny demo model; see
  :mod:`projects.risam.apis.infer_benchmark`.

The RISAM models of the shared/cache ratios use the vit_b encoder (at
``--model-size`` for the shared ratio, ``--cache-size`` for the cache ratio)
with the tiny config's text encoder, fusion and decoder, so the non-encoder
work is small; with the paper's CLIP/decoder sizes it is still < 1% of a
ViT-H forward. ``--quick`` shrinks everything (for tests: checks keys and
sanity, not speed). ``--only`` runs some groups (shared, encoder, cache,
bf16, interactive, infer). The SAM ViT-B model of the interactive and ONNX
ratios is pinned to ``encoder_dtype='fp32'`` (a comparison of two paths).
"""
import argparse
import json

import projects.risam  # noqa: F401
from projects.risam.profiling.ratios import GROUPS, ratio_settings, report_lines, run_groups


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
    parser.add_argument('--only', nargs='+', choices=list(GROUPS),
                        help='run only these groups (default: all)')
    parser.add_argument('--reps', type=int, default=2,
                        help='timed repetitions per path (best of)')
    args = parser.parse_args()
    settings = ratio_settings(
        quick=args.quick, size=args.size, model_size=args.model_size,
        cache_size=args.cache_size, onnx_size=args.onnx_size, reps=args.reps)
    res = run_groups(settings, args.only, log=lambda line: print(line, flush=True))
    for line in report_lines(res):
        print(line)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2)
        print(f'written to {args.json}')


if __name__ == '__main__':
    main()
