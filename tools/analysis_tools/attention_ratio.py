"""The colour-word ratio of the MA blocks' language-guided attention on
RefShapes (:mod:`projects.risam.visualization.attention_ratio`).

    python tools/analysis_tools/attention_ratio.py CONFIG CKPT \\
        [--data-root DIR] [--split val] [--block K ...] [--out FILE.json]

For every colour sentence of the split ("the red shape", "the red circle"):
the colour word's attention mass on the pixels of the objects of that
colour, over those pixels' share of the image (1: colour-blind). Prints the
median, quartiles and the share above 1 (all, per colour, per sentence
type, and of the word "the" as the control) for each block; ``--out``
writes them with every sentence's row. The data root defaults to the
config's val data.
"""
import argparse
import json
import os.path as osp
import sys

from mmengine.config import DictAction

import projects.risam  # noqa: F401  (registers RISAM)
from projects.risam.utils.cli import add_debug_argument, one_line, run_tool
from projects.risam.visualization.attention_maps import init_attention_model
from projects.risam.visualization.attention_ratio import (
    colour_ratios,
    summarize,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Colour-word ratio of the language-guided attention')
    parser.add_argument('config', help='RISAM config (MutualAwareFusion)')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--data-root', default=None,
                        help="RefShapes folder (default: the config's val)")
    parser.add_argument('--split', default='val')
    parser.add_argument('--block', type=int, nargs='+', default=None,
                        help='MA blocks, from 1 (default: all)')
    parser.add_argument('--limit', type=int, default=None,
                        help='only the first N sentences')
    parser.add_argument('--out', default=None, help='JSON file')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of CONFIG (key=value)')
    add_debug_argument(parser)
    return parser.parse_args()


def _line(name: str, s: dict) -> str:
    return (f'{name:<14} n={s["n"]:<5} median {s["median"]:.2f}  quartiles '
            f'{s["q1"]:.2f}-{s["q3"]:.2f}  >1: {100 * s["above_1"]:.0f} %')


def main() -> None:
    args = parse_args()
    try:
        model = init_attention_model(args.config, args.checkpoint,
                                     args.device, args.cfg_options)
        root = args.data_root or \
            model.cfg.val_dataloader.dataset.data_root
        blocks = args.block or list(range(1, len(model.neck.blocks) + 1))
        rows = colour_ratios(model, root, args.split, blocks,
                             limit=args.limit)
        report = {}
        for block in blocks:
            report[f'block{block}'] = summary = summarize(rows[block])
            print(f'block {block}:')
            print('  ' + _line('colour word', summary['all']))
            for key in ('by_colour', 'by_type'):
                for name, s in summary[key].items():
                    print('  ' + _line(name, s))
            print('  ' + _line('"the" (control)', summary['control']))
    except ValueError as e:
        sys.exit(f'attention_ratio.py: error: {one_line(e)}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(config=osp.basename(args.config),
                           checkpoint=osp.basename(args.checkpoint),
                           split=args.split, **report), f, indent=1)


if __name__ == '__main__':
    run_tool(main, 'attention_ratio.py')
