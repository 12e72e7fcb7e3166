"""Test a RISAM checkpoint and print the benchmark table.

    python tools/test.py CONFIG CHECKPOINT [--splits val testA testB]
        [--out metrics.json [--overwrite]] [--show-dir DIR]
        [--override-text STR] [--work-dir DIR] [--cfg-options k=v ...]
        [--debug]
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [same options]

Every split is evaluated at the original image resolution; the table has one
row per split (oIoU, mIoU, Pr@50..90, and any further keys the metric
reports). ``--override-text ''`` replaces every sentence, the language-blind
control.

The checkpoint is read with ``weights_only=True`` and loaded strictly: a
checkpoint of another config stops the run, naming the keys that differ
(frozen encoder weights that the config loads from their own files may be
absent). ``--out`` is checked before any work: an existing file is kept
unless ``--overwrite`` is given. Errors are one line; ``--debug`` shows the
traceback.
"""
import argparse
import copy
import json
import os
import os.path as osp
from typing import Dict, List

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.dist import is_main_process
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

import projects.risam  # noqa: F401  (registers RISAM)
from projects.risam.utils import configure_launcher
from projects.risam.utils.checkpoint import load_strict
from projects.risam.utils.cli import add_debug_argument, run_tool
from projects.risam.utils.output import check_output_file, write_text
from projects.risam.utils.report import format_metric_table


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a referring segmentation model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='dir for logs and metric dumps')
    parser.add_argument(
        '--splits', nargs='+',
        help='splits to evaluate (default: the config\'s `test_splits`, '
        'else the split of its test_dataloader)')
    parser.add_argument(
        '--out', help='write {split: {metric: value}} to this JSON file')
    parser.add_argument(
        '--overwrite', action='store_true',
        help='replace an existing --out file')
    parser.add_argument(
        '--show-dir',
        help='save prediction overlays under work_dir/<timestamp>/DIR')
    parser.add_argument(
        '--override-text', default=None,
        help='replace every sentence by this string (\'\' = language-blind)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, e.g. '
        'test_dataloader.batch_size=8')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_debug_argument(parser)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def enable_visualization(cfg: Config, show_dir: str) -> None:
    """Turn on the config's visualization hook to save overlays."""
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise RuntimeError(
            '--show-dir needs a `visualization` entry in default_hooks')
    hooks.visualization.draw = True
    hooks.visualization.show_dir = show_dir
    hooks.visualization.interval = 1


def split_dataloader(cfg: Config, split: str,
                     override_text: str = None) -> ConfigDict:
    """The test dataloader config for one split."""
    loader = copy.deepcopy(cfg.test_dataloader)
    loader.dataset.split = split
    if override_text is not None:
        loader.dataset.override_text = override_text
    return loader


def split_evaluator(cfg: Config, split: str) -> ConfigDict:
    """The test evaluator for one split: a per-sample ``dump_file`` gets the
    split name appended so splits do not overwrite each other."""
    evaluator = copy.deepcopy(cfg.test_evaluator)
    for metric in evaluator if isinstance(evaluator, list) else [evaluator]:
        if metric.get('dump_file'):
            stem, ext = osp.splitext(metric.dump_file)
            metric.dump_file = f'{stem}_{split}{ext or ".json"}'
    return evaluator


def main() -> None:
    args = parse_args()
    if args.out:  # before any work: never lose an existing file
        args.out = check_output_file(args.out, args.overwrite)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    configure_launcher(cfg, args.launcher)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = None  # loaded strictly below, not by the runner
    if args.show_dir:
        enable_visualization(cfg, args.show_dir)

    splits: List[str] = (args.splits or cfg.get('test_splits', None)
                         or [cfg.test_dataloader.dataset.get('split', 'test')])
    test_evaluator = copy.deepcopy(cfg.test_evaluator)
    cfg.test_dataloader = split_dataloader(cfg, splits[0], args.override_text)
    cfg.test_evaluator = split_evaluator(cfg, splits[0])
    runner = Runner.from_cfg(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) \
        else runner.model
    load_strict(model, args.checkpoint, logger=runner.logger)
    test_loop_cfg = copy.deepcopy(cfg.test_cfg)
    cfg.test_evaluator = test_evaluator

    results: Dict[str, Dict[str, float]] = {}
    for i, split in enumerate(splits):
        if i > 0:  # same model and hooks, next split's data
            runner._test_loop = copy.deepcopy(test_loop_cfg)
            runner._test_dataloader = split_dataloader(
                cfg, split, args.override_text)
            runner._test_evaluator = split_evaluator(cfg, split)
        runner.logger.info(f'testing split {split!r}')
        results[split] = dict(runner.test())

    if is_main_process():
        title = f'{osp.basename(args.config)}  ({args.checkpoint})'
        if args.override_text is not None:
            title += f'  [override_text={args.override_text!r}]'
        print(f'\n{title}\n{format_metric_table(results)}\n', flush=True)
        if args.out:
            write_text(args.out, json.dumps(results, indent=2))
            print(f'metrics written to {args.out}')


if __name__ == '__main__':
    run_tool(main, 'test.py')
