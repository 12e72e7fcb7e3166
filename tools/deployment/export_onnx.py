"""Export a RISAM checkpoint to ONNX and check it with onnxruntime.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out DIR
        [--image IMG] [--texts "the red shape" "the left one" ...]
        [--opset 17] [--overwrite]

Writes ``DIR/image_encoder.onnx`` (image -> features, once per image),
``DIR/prompt_decoder.onnx`` (features + token ids -> mask logits, a dynamic
number of sentences; text tower inside) and ``DIR/risam_onnx.json``
(pre/post-processing facts). Then runs both graphs under onnxruntime and
PyTorch on the same inputs (``--image``, or a seeded random image of 3/4 of
the input size) and prints the figures. It exits non-zero unless the
logits differ by at most 1e-3 and the masks agree on at least 99.9 % of
the pixels. Existing files are never replaced without ``--overwrite``.

A config whose frozen encoder runs in bf16 (the paper configs) is exported
with the encoder in fp32: ONNX graphs and the check are fp32, and the same
weights give the same model up to bf16 rounding.
"""
import argparse
import os.path as osp
import sys

import numpy as np
from mmengine.config import Config

import projects.risam  # noqa: F401  (registers RISAM)
from projects.risam.apis import init_refer_model, prepare_image
from projects.risam.apis.risam_inferencer import read_image
from projects.risam.deployment import check_onnx, export_onnx, passes
from projects.risam.deployment.onnx_export import DECODER_FILE, ENCODER_FILE, META_FILE
from projects.risam.utils.cli import one_line


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export RISAM to ONNX')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--image', help='image for the check (default: a '
                        'seeded random image)')
    parser.add_argument('--texts', nargs='+',
                        default=['the red shape', 'the biggest one on the '
                                 'left', 'top right'],
                        help='sentences for the check')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing files in --out')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            sys.exit(f'export_onnx: file not found: {path}')
    existing = [f for f in (ENCODER_FILE, DECODER_FILE, META_FILE)
                if osp.exists(osp.join(args.out, f))]
    if existing and not args.overwrite:
        sys.exit(f'export_onnx: {osp.join(args.out, existing[0])} exists; '
                 'use --overwrite or another --out')
    cfg = Config.fromfile(args.config)
    backbone = cfg.model.get('backbone', {})
    if backbone.get('encoder_dtype', 'fp32') != 'fp32':
        print(f'export_onnx: the config runs its frozen encoder in '
              f'{backbone["encoder_dtype"]}; exporting it in fp32')
        backbone['encoder_dtype'] = 'fp32'
    try:
        model = init_refer_model(cfg, args.checkpoint)
    except (RuntimeError, FileNotFoundError) as e:
        # a checkpoint that does not match the config, a missing encoder file
        sys.exit(f'export_onnx: {one_line(e)}')
    if args.image:
        try:
            img = read_image(args.image)
        except (OSError, ValueError) as e:
            sys.exit(f'export_onnx: {e}')
    else:
        size = model.data_preprocessor.test_cfg.get('size') or (512, 512)
        rng = np.random.default_rng(0)
        img = rng.integers(0, 256, (size[0] * 3 // 4, size[1], 3), np.uint8)
    image, metainfo = prepare_image(model, img)
    # trace with 2 sentences, check with len(--texts) (dynamic axis)
    meta = export_onnx(model, args.out, image=image, opset=args.opset,
                       texts=('a sentence', 'another sentence'))
    print(f'wrote {osp.join(args.out, meta["encoder"])}, '
          f'{osp.join(args.out, meta["decoder"])}, '
          f'{osp.join(args.out, META_FILE)}')
    figures = check_onnx(model, args.out, image=image, metainfo=metainfo,
                         texts=args.texts)
    print(f'onnxruntime vs PyTorch, {figures["num_sentences"]} sentences, '
          f'image {metainfo["ori_shape"][1]}x{metainfo["ori_shape"][0]}:')
    for key in ('encoder_max_abs_diff', 'decoder_max_abs_diff',
                'end_to_end_max_abs_diff'):
        print(f'  {key:<26}{figures[key]:.3g}')
    print(f'  {"mask_agreement":<26}{100 * figures["mask_agreement"]:.4f} % '
          f'({figures["mask_pixels"]} mask pixels)')
    if not passes(figures):
        sys.exit('export_onnx: check FAILED (need logit diffs <= 1e-3 and '
                 'mask agreement >= 99.9 %)')
    print('check passed (logit diffs <= 1e-3, mask agreement >= 99.9 %)')


if __name__ == '__main__':
    main()
