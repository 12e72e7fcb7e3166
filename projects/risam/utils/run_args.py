"""The command line that ``tools/train.py`` and ``tools/test.py`` share:
``--work-dir``, ``--cfg-options``, ``--launcher``, ``--device``,
``--local-rank`` and ``--debug``, and the config they load from it (the
options merged, the work dir chosen). Before building the runner the tools
check the dataloaders they use (:func:`.config_check.check_run_config`)."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

from .cli import add_debug_argument
from .launch import DEVICE_HELP, hide_gpus

__all__ = ['add_run_arguments', 'load_run_config', 'parse_run_args']


def add_run_arguments(parser: argparse.ArgumentParser, *, work_dir_help: str,
                      cfg_example: str) -> None:
    """Add the arguments train.py and test.py share to ``parser``."""
    parser.add_argument('--work-dir', help=work_dir_help)
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help=f'override settings in the config, e.g. {cfg_example} '
        '(no spaces inside a value)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--device', choices=['cpu'], default=None,
                        help=DEVICE_HELP)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_debug_argument(parser)


def parse_run_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the command line; ``--device cpu`` hides the GPUs and the
    launcher's rank reaches ``LOCAL_RANK``."""
    args = parser.parse_args()
    if args.device == 'cpu':
        hide_gpus()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_run_config(args: argparse.Namespace) -> Config:
    """``args.config`` with ``--cfg-options`` merged and the work dir chosen
    (``--work-dir``, else the config's, else ``./work_dirs/<config
    name>``)."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg
