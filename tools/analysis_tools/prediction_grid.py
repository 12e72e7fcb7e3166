"""A grid of predictions on test samples, each with its sentence.

    python tools/analysis_tools/prediction_grid.py CONFIG CHECKPOINT \\
        [CONFIG CHECKPOINT ...] --out predictions.png [--overwrite] \\
        [--labels NAME ...] [--pick best|worst|spread] [--candidates N] \\
        [--split val] [--num N] [--cols 4] [--device cpu]

One model: tiles of its predictions, ``--cols`` per row. Several models
(paper Fig. 6): one row per sample, one column per model on the same
samples, headed by ``--labels`` (default: the config names), each row
labelled with its sentence. The samples, their pipeline and ``--split`` come
from the first config; ``--cfg-options`` applies to every config.

Samples are spread evenly over the split (deterministic). When the samples
carry an expression type (RefShapes: colour, shape, colour_shape, position,
size), every group gets an equal share of the tiles, one row per group with
the default ``--num`` (``--cols`` x groups for one model, one sample per
group for several). A group is the expression type of a single-target
sentence; the multi-target and the no-target sentences of generalized
RefShapes form one group each.

``--pick`` chooses the samples by the IoU of the FIRST model instead (paper
Figs. 9 and 10: successes and failures): ``best`` the highest, ``worst`` the
lowest, ``spread`` evenly spaced ranks from the lowest to the highest. The
first model is run on every sample of the split (or on ``--candidates N``
spread as above), then every model on the chosen ones. A no-target sentence
(gRefCOCO) counts as right (IoU 1) when the predicted mask is empty, else 0.

Each tile shows the prediction tinted, the target outlined in green and the
sentence (marked "(no target)" where the target is empty; with ``--pick``,
followed by the first model's IoU).
"""
import argparse
import sys

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

import projects.risam  # noqa: F401  (registers RISAM)
from projects.risam.apis import init_refer_model
from projects.risam.utils.cli import add_debug_argument, run_tool
from projects.risam.utils.output import check_output_file, write_image
from projects.risam.visualization.prediction_grid import (
    model_columns,
    model_grid,
    predict,
    predict_picked,
    sample_tiles,
)
from projects.risam.visualization.sample_picking import (
    PICKS,
    default_num,
    group_label,
    pick_samples,
)

PROG = 'prediction_grid.py'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('models', nargs='+', metavar='CONFIG CHECKPOINT',
                        help='one or more config and checkpoint pairs')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out file')
    parser.add_argument('--labels', nargs='+',
                        help='column label of each model (default: the '
                        'config names)')
    parser.add_argument('--pick', choices=PICKS,
                        help='choose the samples by the first model\'s IoU')
    parser.add_argument('--candidates', type=int,
                        help='with --pick: rank only N samples spread over '
                        'the split (default: all)')
    parser.add_argument('--split', help='dataset split (default: config)')
    parser.add_argument('--num', type=int,
                        help='samples (default: --cols per group of samples '
                        'for one model, one per group for several; 20 '
                        'without expression types)')
    parser.add_argument('--cols', type=int, default=4,
                        help='tiles per row (one model)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    add_debug_argument(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        columns = model_columns(args.models, args.labels)
    except ValueError as e:
        sys.exit(f'{PROG}: error: {e}')
    args.out = check_output_file(args.out, args.overwrite)
    cfgs = []
    for config, _, _ in columns:
        cfg = Config.fromfile(config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        cfgs.append(cfg)
    init_default_scope(cfgs[0].get('default_scope', 'mmseg'))
    ds_cfg = cfgs[0].test_dataloader.dataset
    if args.split:
        ds_cfg.split = args.split
    dataset = DATASETS.build(ds_cfg)
    types = [group_label(dataset.get_data_info(i))
             for i in range(len(dataset))]
    several = len(columns) > 1
    num = args.num if args.num is not None else \
        default_num(types, 1 if several else args.cols)

    first = init_refer_model(cfgs[0], columns[0][1], args.device)
    if args.pick:
        pool = list(range(len(dataset))) if args.candidates is None else \
            pick_samples(types, args.candidates)
        preds = predict_picked(first, dataset, pool, num, args.pick)
        print(f'{args.pick} {len(preds)} of {len(pool)} samples by the IoU '
              f'of {columns[0][2]}: ' + ', '.join(
                  f'{p.index} ({p.iou:.3f})' for p in preds))
    else:
        preds = predict(first, dataset, pick_samples(types, num))
    del first
    if not preds:
        sys.exit(f'{PROG}: error: no samples in {ds_cfg.get("split")}')
    per_model = [preds]
    indices = [p.index for p in preds]
    for cfg, (_, ckpt, _) in zip(cfgs[1:], columns[1:]):
        model = init_refer_model(cfg, ckpt, args.device)
        per_model.append(predict(model, dataset, indices))
        del model

    if several:
        notes = [f'[IoU {p.iou:.2f}]' for p in preds] if args.pick else None
        image = model_grid(list(zip(*per_model)),
                           [label for _, _, label in columns], notes)
    else:
        image = sample_tiles(preds, args.cols, show_iou=bool(args.pick))
    write_image(args.out, image)
    print(f'{len(preds)} samples x {len(columns)} model(s) written to '
          f'{args.out}')


if __name__ == '__main__':
    run_tool(main, PROG)
