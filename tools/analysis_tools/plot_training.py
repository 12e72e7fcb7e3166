"""Plot the training loss and the validation oIoU of a work_dir.

    python tools/analysis_tools/plot_training.py WORK_DIR [--out curves.png] [--overwrite]

Reads every ``WORK_DIR/<timestamp>/vis_data/scalars.json`` that mmengine's
``LocalVisBackend`` wrote (a resumed run adds a second one) and draws the loss
against the iteration and the val oIoU against the epoch.
"""
import argparse
import glob
import json
import os.path as osp
from typing import Dict, List, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from projects.risam.utils.cli import add_debug_argument, run_tool  # noqa: E402
from projects.risam.utils.output import check_output_file  # noqa: E402


def read_scalars(work_dir: str) -> Tuple[Dict[int, float], Dict[int, float]]:
    """``({iter: loss}, {epoch: oIoU})`` from all scalars.json of a run."""
    files: List[str] = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(
            f'no */vis_data/scalars.json under {work_dir}: is it a work_dir '
            'of tools/train.py with LocalVisBackend?')
    loss: Dict[int, float] = {}
    val: Dict[int, float] = {}
    for path in files:
        with open(path) as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f'{path}:{line_no}: not JSON ({e})')
                if 'loss' in record:
                    loss[int(record['step'])] = float(record['loss'])
                if 'oIoU' in record:
                    val[int(record['step'])] = float(record['oIoU'])
    return loss, val


def plot(loss: Dict[int, float], val: Dict[int, float], out: str,
         title: str) -> None:
    fig, ax_loss = plt.subplots(figsize=(7, 4), dpi=120)
    its = sorted(loss)
    ax_loss.plot(its, [loss[i] for i in its], color='tab:blue', lw=1)
    ax_loss.set_xlabel('iteration')
    ax_loss.set_ylabel('training loss (focal + dice)', color='tab:blue')
    if val:
        ax_iou = ax_loss.twinx()
        iters_per_epoch = max(its) / max(val) if its else 1
        epochs = sorted(val)
        ax_iou.plot([e * iters_per_epoch for e in epochs],
                    [val[e] for e in epochs], 'o-', color='tab:red')
        for e in epochs:
            ax_iou.annotate(f'{val[e]:.1f}', (e * iters_per_epoch, val[e]),
                            textcoords='offset points', xytext=(0, 6),
                            ha='center', fontsize=7, color='tab:red')
        ax_iou.set_ylabel('val oIoU (%)', color='tab:red')
        ax_iou.set_ylim(0, 100)
    ax_loss.set_title(title)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir')
    parser.add_argument('--out', help='PNG path (default WORK_DIR/training_curves.png)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out file')
    add_debug_argument(parser)
    args = parser.parse_args()
    out = check_output_file(
        args.out or osp.join(args.work_dir, 'training_curves.png'),
        args.overwrite)
    loss, val = read_scalars(args.work_dir)
    plot(loss, val, out, osp.basename(osp.normpath(args.work_dir)))
    print(f'training curves written to {out}')


if __name__ == '__main__':
    run_tool(main, 'plot_training.py')
