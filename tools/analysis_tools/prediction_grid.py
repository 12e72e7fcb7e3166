"""A grid of predictions on test samples, each with its sentence.

    python tools/analysis_tools/prediction_grid.py CONFIG CHECKPOINT \\
        --out predictions.png [--overwrite] [--split val] [--num N] [--cols 4]

Samples are spread evenly over the split (deterministic). When the samples
carry an expression type (RefShapes: colour, shape, colour_shape, position,
size), every group gets an equal share of the tiles, one row per group with
the default ``--num`` (``--cols`` x groups). A group is the expression type
of a single-target sentence; the multi-target and the no-target sentences of
generalized RefShapes form one group each. Each tile shows the prediction
tinted, the target outlined in green and the sentence on top (marked
"(no target)" where the target is empty).
"""
import argparse
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmseg.registry import DATASETS

import projects.risam  # noqa: F401  (registers RISAM)
from projects.risam.apis import init_refer_model
from projects.risam.utils.cli import add_debug_argument, run_tool
from projects.risam.utils.output import check_output_file, write_image
from projects.risam.visualization import grid, overlay


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out file')
    parser.add_argument('--split', help='dataset split (default: config)')
    parser.add_argument('--num', type=int,
                        help='tiles (default: --cols per group of samples, '
                        'or 20 without expression types)')
    parser.add_argument('--cols', type=int, default=4,
                        help='tiles per row')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    add_debug_argument(parser)
    return parser.parse_args()


def pick_samples(types: List[Optional[str]], num: int) -> List[int]:
    """Indices of ``num`` samples spread evenly over the split; with
    expression types, ``num // n_types`` (at least 1) of each type, in the
    order of first appearance, each spread evenly within its type."""
    if not types:
        return []
    if any(t is None for t in types):
        picks = np.linspace(0, len(types) - 1, min(num, len(types)))
        return [int(i) for i in picks.round()]
    groups: Dict[str, List[int]] = {}
    for i, t in enumerate(types):
        groups.setdefault(t, []).append(i)
    per_type = max(1, num // len(groups))
    out = []
    for members in groups.values():
        picks = np.linspace(0, len(members) - 1, min(per_type, len(members)))
        out += [members[int(i)] for i in picks.round()]
    return out


def group_label(info: dict) -> Optional[str]:
    """The grid row of a sample: ``'no target'``, ``'multi-target'`` or its
    expression type (None without one)."""
    if info.get('expr_type') is None:
        return None
    if info.get('no_target'):
        return 'no target'
    if len(info.get('ann_ids') or ()) > 1:
        return 'multi-target'
    return info['expr_type']


def default_num(types: List[Optional[str]], cols: int) -> int:
    """One row of ``cols`` tiles per group; 20 tiles without groups."""
    groups = set(types)
    return 20 if None in groups or not groups else cols * len(groups)


def main() -> None:
    args = parse_args()
    args.out = check_output_file(args.out, args.overwrite)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = init_refer_model(cfg, args.checkpoint)
    ds_cfg = cfg.test_dataloader.dataset
    if args.split:
        ds_cfg.split = args.split
    dataset = DATASETS.build(ds_cfg)
    types = [group_label(dataset.get_data_info(i))
             for i in range(len(dataset))]
    num = args.num if args.num is not None else default_num(types, args.cols)
    samples = [dataset[i] for i in pick_samples(types, num)]
    tiles = []
    with torch.no_grad():
        for start in range(0, len(samples), 8):
            batch = pseudo_collate(samples[start:start + 8])
            for out in model.test_step(batch):
                img = cv2.imread(out.img_path, cv2.IMREAD_COLOR)
                pred = out.pred_sem_seg.data[0].numpy().astype(np.uint8)
                gt = out.gt_sem_seg.data[0].numpy() == 1
                text = out.text + (' (no target)'
                                    if out.metainfo.get('no_target') else '')
                tiles.append(overlay(img, pred, text, gt=gt))
    write_image(args.out, grid(tiles, args.cols))
    print(f'{len(tiles)} predictions written to {args.out}')


if __name__ == '__main__':
    run_tool(main, 'prediction_grid.py')
