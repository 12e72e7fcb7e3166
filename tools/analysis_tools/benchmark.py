"""Images and sentences per second of a trained RISAM, as mmseg's benchmark.

Usage::

    python tools/analysis_tools/benchmark.py CONFIG CHECKPOINT \\
        [--repeat-times 3] [--num-images 100] [--device cpu|cuda:0] \\
        [--work-dir DIR] [--json OUT] [--cfg-options KEY=VALUE ...]

The model is built from CONFIG with CHECKPOINT loaded strictly
(``projects.risam.apis.init_refer_model``). Every sentence of the first
``--num-images`` images of the config's test dataset (through its
dataloader, loaded before timing) is segmented ``--repeat-times`` times after
a warm-up, at the config's input size, with the shared image encoding on
(one encoder pass per image) and off (one per sentence). Prints the mean and
spread of images/s and sentences/s; ``--json`` (or ``--work-dir``) writes
them. The regression ratios of the optimised paths are
``.dev_scripts/benchmark_ratios.py``.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

from mmengine.config import Config, DictAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the model config file')
    parser.add_argument('checkpoint', help='the checkpoint file')
    parser.add_argument('--repeat-times', type=int, default=3,
                        help='timed passes over the images per setting')
    parser.add_argument('--num-images', type=int, default=100,
                        help='images of the test dataset (all their sentences)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda:0')
    parser.add_argument('--log-interval', type=int, default=50,
                        help='a progress line every this many images')
    parser.add_argument('--work-dir',
                        help='write benchmark_{time}.json into this folder')
    parser.add_argument('--json', help='write the results to this file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. '
                        'test_dataloader.dataset.data_root=data/refshapes')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    import projects.risam  # noqa: F401  (registers the RISAM names)
    from projects.risam.apis import init_refer_model
    from projects.risam.profiling.throughput import benchmark_model, summary_lines

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        model = init_refer_model(cfg, args.checkpoint, device=args.device)
        res = benchmark_model(model, num_images=args.num_images,
                              repeat_times=args.repeat_times,
                              log_interval=args.log_interval,
                              log=lambda line: print(line, flush=True))
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f'error: {e}')
    res = dict(config=args.config, checkpoint=args.checkpoint, **res)
    for line in summary_lines(res):
        print(line)
    outs = [args.json] if args.json else []
    if args.work_dir:
        stamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
        outs.append(osp.join(args.work_dir, f'benchmark_{stamp}.json'))
    for out in outs:
        if osp.dirname(out):
            os.makedirs(osp.dirname(out), exist_ok=True)
        with open(out, 'w') as f:
            json.dump(res, f, indent=2)
        print(f'written to {out}')


if __name__ == '__main__':
    main()
