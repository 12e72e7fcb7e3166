"""Write a dataset's samples as images: target mask overlaid, sentence on top.

Usage::

    python tools/analysis_tools/browse_dataset.py CONFIG --out DIR \\
        [--split val] [--loader test] [--num 50] [--cfg-options ...]

The samples come from ``<loader>_dataloader.dataset`` of CONFIG (default:
test); images and masks are loaded at their original size (the config's
resize/pack steps are not applied). One file ``<index>_<sent_id>.jpg`` per
sample.
"""
import argparse
import os
import os.path as osp
import textwrap

import cv2
import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar
from mmseg.registry import DATASETS

import projects.risam  # noqa: F401  (registers the datasets)

MASK_BGR = (60, 20, 220)
MIN_WIDTH = 384


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--split', help='override the dataset split')
    parser.add_argument('--loader', default='test',
                        choices=['train', 'val', 'test'])
    parser.add_argument('--num', type=int, default=50,
                        help='samples to write (default 50; <= 0: all)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def overlay(img: np.ndarray, mask: np.ndarray, text: str) -> np.ndarray:
    """BGR image with the mask tinted and outlined, the text above it."""
    scale = max(1.0, MIN_WIDTH / img.shape[1])
    if scale > 1:
        size = (round(img.shape[1] * scale), round(img.shape[0] * scale))
        img = cv2.resize(img, size, interpolation=cv2.INTER_NEAREST)
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    out = img.astype(np.float32)
    on = mask > 0
    out[on] = 0.45 * out[on] + 0.55 * np.array(MASK_BGR, np.float32)
    out = out.astype(np.uint8)
    contours, _ = cv2.findContours(
        on.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (255, 255, 255), 1)
    chars = max(10, out.shape[1] // 10)
    lines = textwrap.wrap(text, chars) or ['(empty sentence)']
    band = np.zeros((22 * len(lines) + 8, out.shape[1], 3), np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(band, line, (5, 22 * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([band, out], 0)


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    ds_cfg = cfg[f'{args.loader}_dataloader'].dataset.copy()
    if args.split:
        ds_cfg.split = args.split
    ds_cfg.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadReferAnnotations')
    ]
    dataset = DATASETS.build(ds_cfg)
    num = len(dataset) if args.num <= 0 else min(args.num, len(dataset))
    os.makedirs(args.out, exist_ok=True)
    bar = ProgressBar(num)
    for i in range(num):
        sample = dataset[i]
        masks, texts = sample['gt_seg_map'], sample['text']
        if not isinstance(texts, list):  # image-grouped datasets: first one
            masks, texts = masks[None], [texts]
        vis = overlay(sample['img'], masks[0], texts[0])
        sent_id = sample['sent_id']
        sent_id = sent_id[0] if isinstance(sent_id, list) else sent_id
        cv2.imwrite(osp.join(args.out, f'{i:05d}_{sent_id}.jpg'), vis)
        bar.update()
    print(f'\n{num} samples written to {args.out}')


if __name__ == '__main__':
    main()
