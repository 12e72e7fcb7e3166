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
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar
from mmseg.registry import DATASETS

import projects.risam  # noqa: F401  (registers the datasets)
from projects.risam.utils.cli import add_debug_argument, run_tool
from projects.risam.utils.output import write_image
from projects.risam.visualization import overlay


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
    add_debug_argument(parser)
    return parser.parse_args()


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
        dict(type='risam.LoadReferAnnotations')
    ]
    dataset = DATASETS.build(ds_cfg)
    num = len(dataset) if args.num <= 0 else min(args.num, len(dataset))
    bar = ProgressBar(num)
    for i in range(num):
        sample = dataset[i]
        masks, texts = sample['gt_seg_map'], sample['text']
        if not isinstance(texts, list):  # image-grouped datasets: first one
            masks, texts = masks[None], [texts]
        vis = overlay(sample['img'], masks[0], texts[0])
        sent_id = sample['sent_id']
        sent_id = sent_id[0] if isinstance(sent_id, list) else sent_id
        write_image(osp.join(args.out, f'{i:05d}_{sent_id}.jpg'), vis)
        bar.update()
    print(f'\n{num} samples written to {args.out}')


if __name__ == '__main__':
    run_tool(main, 'browse_dataset.py')
