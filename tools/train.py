"""Train a RISAM (or any mmseg) model with mmengine's runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp]
        [--device cpu] [--cfg-options k=v ...] [--debug]
    bash tools/dist_train.sh CONFIG NUM_PROCS [same options]

One process (``--launcher none``) runs on a GPU if there is one, else on the
CPU. A distributed launcher (``--launcher pytorch|slurm|mpi``) needs a CUDA
device per process and stops in one line without one; ``--device cpu`` asks
for CPU processes over gloo instead (``bash tools/dist_train.sh CONFIG N
--device cpu``). ``--amp`` needs CUDA too. ``--resume``
continues from the newest intact checkpoint of the work dir: a truncated last
checkpoint is skipped with a warning that names it. Checkpoints are read with
``weights_only=True``. Errors are one line; ``--debug`` shows the traceback.
A dataloader key that does not exist or clashes (``persistent_workers`` with
``num_workers=0``), a missing data folder and a config key that no
constructor takes are each one line naming the key.
"""
import argparse
import logging

from mmengine.logging import print_log
from mmengine.runner import Runner
from mmseg.registry import RUNNERS

import projects.risam  # noqa: F401  (registers RISAM, allow-lists resume)
from projects.risam.utils.cli import run_tool
from projects.risam.utils.config_check import check_run_config
from projects.risam.utils.encoder_files import check_encoder_files
from projects.risam.utils.launch import check_amp, configure_launcher
from projects.risam.utils.resume import choose_resume_checkpoint, resume_warning
from projects.risam.utils.run_args import add_run_arguments, load_run_config, parse_run_args


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        action='store_true',
        default=False,
        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    add_run_arguments(parser, work_dir_help='the dir to save logs and models',
                      cfg_example='train_dataloader.batch_size=4')
    return parse_run_args(parser)


def main() -> None:
    args = parse_args()
    cfg = load_run_config(args)

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.',
                      logger='current', level=logging.WARNING)
        else:
            assert optim_wrapper == 'OptimWrapper', (
                '`--amp` is only supported when the optimizer wrapper type is '
                f'`OptimWrapper` but got {optim_wrapper}.')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    check_amp(cfg, args.device)  # AmpOptimWrapper asserts a GPU
    check_encoder_files(cfg.model)  # one line naming a missing file's key
    configure_launcher(cfg, args.launcher, args.device)
    # one line naming a dataloader key that does not exist or clashes, or a
    # missing data folder, before the model is built
    check_run_config(cfg, ['train_dataloader', 'val_dataloader'])

    cfg.resume = args.resume
    skipped = []
    if args.resume and cfg.get('load_from', None) is None:
        # mmengine would take WORK_DIR/last_checkpoint even if it is cut
        # short; rank 0 chooses, every rank resumes from its choice
        cfg.load_from, skipped = choose_resume_checkpoint(cfg.work_dir)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    if skipped:
        runner.logger.warning(resume_warning(cfg.load_from, skipped))
    runner.train()


if __name__ == '__main__':
    run_tool(main, 'train.py')
