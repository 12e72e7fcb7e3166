"""Test a RISAM checkpoint and print the benchmark table.

    python tools/test.py CONFIG CHECKPOINT [--splits val testA testB | test]
        [--out metrics.json [--overwrite]] [--show-dir DIR]
        [--override-text STR] [--no-paper] [--work-dir DIR] [--device cpu]
        [--cfg-options k=v ...] [--debug]
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [same options]

A distributed launcher needs a CUDA device per process, or ``--device cpu``
for CPU processes over gloo (see tools/train.py). Every split is evaluated
at the original image resolution; the table has one row per split (oIoU,
mIoU, Pr@50..90, and any further keys the metric reports).
``--override-text ''`` replaces every sentence, the language-blind control.
When the metafiles named by ``model-index.yml`` hold the paper's cells for
the config (its Model is named as the config file; a config key
``paper_model=NAME`` names another), a second table prints each of them
beside the measured value, with the difference; ``--no-paper`` hides it.
A split is chosen by the dataset's own rule: the refs' ``split``
field for RefCOCO/RefCOCO+/G-Ref/gRefCOCO/RefShapes, the file
``refer_<split>.json`` for PhraseCut. Without ``--splits`` the config's
``test_splits`` are tested, else its test dataset as configured.

The checkpoint is read with ``weights_only=True`` and loaded strictly: a
checkpoint of another config stops the run, naming the keys that differ
(frozen encoder weights that the config loads from their own files may be
absent: a slim checkpoint; a missing encoder file is then one line naming
its config key, and a full checkpoint needs no encoder files). ``--out`` is
checked before any work: an existing file is kept unless ``--overwrite`` is
given. Errors are one line (a dataloader key that does not exist or
clashes, a missing data folder, a config key no constructor takes: each
names the key); ``--debug`` shows the traceback.
"""
import argparse
import copy
import json
import os.path as osp
from typing import Dict, List, Optional

from mmengine.config import Config, ConfigDict
from mmengine.dist import is_main_process
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

import projects.risam  # noqa: F401  (registers RISAM)
from projects.risam.datasets import BaseReferDataset
from projects.risam.registry import DATASETS
from projects.risam.utils.checkpoint import load_strict
from projects.risam.utils.cli import run_tool
from projects.risam.utils.config_check import check_run_config
from projects.risam.utils.encoder_files import check_checkpoint_covers, use_checkpoint_for_missing
from projects.risam.utils.launch import configure_launcher
from projects.risam.utils.model_zoo import paper_comparison
from projects.risam.utils.output import check_output_file, write_text
from projects.risam.utils.report import format_metric_table
from projects.risam.utils.run_args import add_run_arguments, load_run_config, parse_run_args


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a referring segmentation model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--splits', nargs='+',
        help='splits to evaluate, e.g. val testA testB (refer datasets) or '
        'test (PhraseCut: reads refer_test.json); default: the config\'s '
        '`test_splits`, else its test dataset as configured')
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
        '--no-paper', action='store_true',
        help='do not print the paper\'s numbers of the config (from '
        'model-index.yml) beside the results')
    add_run_arguments(parser, work_dir_help='dir for logs and metric dumps',
                      cfg_example='test_dataloader.batch_size=8')
    return parse_run_args(parser)


def enable_visualization(cfg: Config, show_dir: str) -> None:
    """Turn on the config's visualization hook to save overlays."""
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise RuntimeError(
            '--show-dir needs a `visualization` entry in default_hooks')
    hooks.visualization.draw = True
    hooks.visualization.show_dir = show_dir
    hooks.visualization.interval = 1


def dataset_class(cfg: Config) -> type:
    """The class of the config's test dataset (a RISAM refer dataset)."""
    dataset_type = cfg.test_dataloader.dataset.type
    cls = dataset_type if isinstance(dataset_type, type) else \
        DATASETS.get(dataset_type)
    if cls is None or not issubclass(cls, BaseReferDataset):
        raise SystemExit(f'test.py: error: test dataset type '
                         f'{dataset_type!r} is not a RISAM referring '
                         'dataset; --splits cannot select its splits')
    return cls


def configured_split(cfg: Config) -> str:
    """The split the config's test dataset reads as it is (a row label)."""
    dataset = cfg.test_dataloader.dataset
    cls = dataset.type if isinstance(dataset.type, type) else \
        DATASETS.get(dataset.type)
    if cls is not None and issubclass(cls, BaseReferDataset):
        return cls.configured_split(dataset)
    return dataset.get('split', 'test')


def split_dataloader(cfg: Config, split: Optional[str],
                     override_text: str = None) -> ConfigDict:
    """The test dataloader config for one split (None: as configured).

    How a split is chosen is the dataset's own rule
    (:meth:`BaseReferDataset.split_config`): the ``split`` field for the
    refer-format datasets, the ``refer_<split>.json`` file for PhraseCut.
    """
    loader = copy.deepcopy(cfg.test_dataloader)
    if split is not None:
        # an unknown split raises a one-line ReferFormatError
        loader.dataset = dataset_class(cfg).split_config(loader.dataset, split)
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
    cfg = load_run_config(args)
    configure_launcher(cfg, args.launcher, args.device)
    cfg.load_from = None  # loaded strictly below, not by the runner
    if args.show_dir:
        enable_visualization(cfg, args.show_dir)

    # without --splits: the config's `test_splits`, else its test dataset
    # as configured (None), reported under the split it reads
    splits: List[Optional[str]] = (args.splits or cfg.get('test_splits', None)
                                   or [None])
    for split in splits:  # an unknown split fails here, before any work
        split_dataloader(cfg, split)
    names = [split if split is not None else configured_split(cfg)
             for split in splits]
    test_evaluator = copy.deepcopy(cfg.test_evaluator)
    cfg.test_dataloader = split_dataloader(cfg, splits[0], args.override_text)
    cfg.test_evaluator = split_evaluator(cfg, names[0])
    # one line naming a dataloader key that does not exist or clashes, or a
    # missing data folder, before the model is built
    check_run_config(cfg, ['test_dataloader'])
    # a missing encoder file is one line naming its config key, unless the
    # checkpoint is a full one that holds those weights
    stand_ins = use_checkpoint_for_missing(cfg.model, args.checkpoint)
    runner = Runner.from_cfg(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) \
        else runner.model
    check_checkpoint_covers(model, args.checkpoint, stand_ins)
    load_strict(model, args.checkpoint, logger=runner.logger)
    test_loop_cfg = copy.deepcopy(cfg.test_cfg)
    cfg.test_evaluator = test_evaluator

    results: Dict[str, Dict[str, float]] = {}
    for i, (split, name) in enumerate(zip(splits, names)):
        if i > 0:  # same model and hooks, next split's data
            runner._test_loop = copy.deepcopy(test_loop_cfg)
            runner._test_dataloader = split_dataloader(
                cfg, split, args.override_text)
            runner._test_evaluator = split_evaluator(cfg, name)
        runner.logger.info(f'testing split {name!r}')
        results[name] = dict(runner.test())

    if is_main_process():
        title = f'{osp.basename(args.config)}  ({args.checkpoint})'
        if args.override_text is not None:
            title += f'  [override_text={args.override_text!r}]'
        print(f'\n{title}\n{format_metric_table(results)}\n', flush=True)
        if not args.no_paper:
            table = paper_comparison(args.config, cfg.get('paper_model'),
                                     results)
            if table:
                print(f'{table}\n', flush=True)
        if args.out:
            write_text(args.out, json.dumps(results, indent=2))
            print(f'metrics written to {args.out}')


if __name__ == '__main__':
    run_tool(main, 'test.py')
