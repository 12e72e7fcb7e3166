"""Segment one image for one or more sentences.

    python tools/demo.py IMAGE "the man in red" ["the dog" ...] CONFIG CHECKPOINT \\
        --out DIR [--threshold 0.35] [--device cpu] [--overwrite] [--debug]

Writes, per sentence ``i``, ``DIR/<image>_<i>_overlay.png`` (mask tinted,
sentence on top) and ``DIR/<image>_<i>_mask.png`` (0/255). The image is
encoded once for all sentences. Existing files are never overwritten unless
``--overwrite`` is given; a file that cannot be written is an error, never
reported as written. The checkpoint is read with ``weights_only=True`` and
loaded strictly. Errors are one line; ``--debug`` shows the traceback.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List

import cv2
import numpy as np

import projects.risam  # noqa: F401  (registers RISAM)
from projects.risam.apis import inference_refer, init_refer_model
from projects.risam.utils.cli import add_debug_argument, run_tool
from projects.risam.utils.output import write_image
from projects.risam.visualization import overlay


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Segment an image for each given sentence')
    parser.add_argument('image', help='image file')
    parser.add_argument('sentences', nargs='+', help='one or more sentences')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--threshold', type=float, default=None,
                        help='probability threshold (default: the config\'s, '
                        '0.35 in the paper)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing output files')
    add_debug_argument(parser)
    return parser.parse_args()


def check_inputs(image: str, sentences: List[str]) -> np.ndarray:
    """Read the image, validate the sentences; exit with one clear line."""
    if not osp.isfile(image):
        sys.exit(f'demo: image not found: {image}')
    img = cv2.imread(image, cv2.IMREAD_COLOR)
    if img is None:
        sys.exit(f'demo: cannot read image (not an image, or corrupt): {image}')
    for i, text in enumerate(sentences):
        if not text.strip():
            sys.exit(f'demo: sentence {i + 1} is empty')
    return img


def main() -> None:
    args = parse_args()
    img = check_inputs(args.image, args.sentences)
    stem = osp.splitext(osp.basename(args.image))[0]
    outputs = [(osp.join(args.out, f'{stem}_{i}_overlay.png'),
                osp.join(args.out, f'{stem}_{i}_mask.png'))
               for i in range(len(args.sentences))]
    if osp.exists(args.out) and not osp.isdir(args.out):
        sys.exit(f'demo: --out {args.out} is a file; it must be a folder')
    existing = [p for pair in outputs for p in pair if osp.exists(p)]
    if existing and not args.overwrite:
        sys.exit(f'demo: {existing[0]} exists (and {len(existing) - 1} more); '
                 'use --overwrite or another --out')
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            sys.exit(f'demo: file not found: {path}')
    model = init_refer_model(args.config, args.checkpoint, args.device)
    if args.threshold is not None:
        model.threshold = args.threshold

    results = inference_refer(model, img, args.sentences)
    os.makedirs(args.out, exist_ok=True)
    for text, result, (overlay_path, mask_path) in zip(
            args.sentences, results, outputs):
        mask = result.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
        write_image(overlay_path, overlay(img, mask, text))
        write_image(mask_path, mask * 255)
        print(f'{text!r}: {int(mask.sum())} px -> {overlay_path}, {mask_path}')


if __name__ == '__main__':
    run_tool(main, 'demo')
