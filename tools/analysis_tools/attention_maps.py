"""Fig. 7: the attention of one Mutual-Aware Attention block, for one image
and one sentence.

    python tools/analysis_tools/attention_maps.py CONFIG CKPT IMAGE \\
        "SENTENCE" --out DIR [--box x,y,w,h] [--block K] [--device cpu]

Writes to DIR (:func:`projects.risam.visualization.save_attention`):
``word_weights.png`` (the vision-guided weights over the words, averaged
over the pixels of the box, default the whole image; Fig. 7(a3)),
``word_maps.png`` (the predicted mask, then each word's language-guided map
over the image; Fig. 7(b3)); pairs removed by the Eq. 4 mask are marked in
red. The raw arrays go to ``*.npy`` and ``attention.json``. Block K counts
from 1 (default: the last). Only models whose neck is
``risam.MutualAwareFusion`` have these maps; others are refused.
"""
import argparse
import os.path as osp
import sys

import cv2
from mmengine.config import DictAction

import projects.risam  # noqa: F401  (registers RISAM)
from projects.risam.utils.cli import add_debug_argument, one_line, run_tool
from projects.risam.visualization.attention_drawing import save_attention
from projects.risam.visualization.attention_maps import (
    attention_maps,
    init_attention_model,
    parse_box,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw the attention maps of an MA block (Fig. 7)')
    parser.add_argument('config', help='RISAM config (MutualAwareFusion)')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('image', help='image file')
    parser.add_argument('sentence', help='the referring expression')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--box', default=None,
                        help='x,y,w,h in image pixels (default: the image)')
    parser.add_argument('--block', type=int, default=None,
                        help='MA block, from 1 (default: the last)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of CONFIG (key=value)')
    add_debug_argument(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.image):
        raise FileNotFoundError(f'file not found: {args.image}')
    img = cv2.imread(args.image)
    if img is None:
        sys.exit(f'attention_maps.py: error: not an image: {args.image}')
    try:
        box = parse_box(args.box) if args.box else None
        model = init_attention_model(args.config, args.checkpoint,
                                     args.device, args.cfg_options)
        maps = attention_maps(model, img, args.sentence, args.block)
        paths = save_attention(args.out, img, maps, box)
    except ValueError as e:
        sys.exit(f'attention_maps.py: error: {one_line(e)}')
    print(f'block {maps.block}, words {maps.words}: wrote '
          f'{", ".join(sorted(osp.basename(p) for p in paths.values()))} '
          f'to {args.out}')


if __name__ == '__main__':
    run_tool(main, 'attention_maps.py')
