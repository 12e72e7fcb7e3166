"""Sweep the attention-mask threshold tau of the MA blocks (paper Fig. 8).

For every tau: one short iteration-based training run through mmengine's
Runner (``model.neck.tau = tau``, everything else from CONFIG), then the val
metric. Writes ``WORK_DIR/tau_sweep.json`` and ``WORK_DIR/tau_sweep.png``
(IoU against tau); each run keeps its logs in ``WORK_DIR/tau_<tau>/``. Each
row of the JSON records ``neck_tau``, the tau of every MA block of the model
that run built (the run stops if it is not the swept tau), and ``best_tau``
is the tau of the highest val metric (the first one on a tie).

Example (the paper's grid, tiny model on RefShapes)::

    python tools/analysis_tools/tau_sweep.py CONFIG --taus 0.05:0.5:0.05 \\
        --iters 200 --work-dir work_dirs/tau_sweep
"""
import argparse
import copy
import json
import os.path as osp
import time
from typing import Dict, List

from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import Runner

import projects.risam  # noqa: F401  (registers RISAM)


def parse_taus(spec: str) -> List[float]:
    """``'0.05:0.5:0.05'`` (start:stop:step, stop included) or
    ``'0.1,0.35'`` -> sorted list of taus."""
    if ':' in spec:
        start, stop, step = (float(v) for v in spec.split(':'))
        if step <= 0 or stop < start:
            raise ValueError(f'bad tau range {spec!r}')
        n = int(round((stop - start) / step)) + 1
        taus = [round(start + i * step, 6) for i in range(n)]
    else:
        taus = [float(v) for v in spec.split(',') if v.strip()]
    if not taus or any(not 0.0 <= t <= 1.0 for t in taus):
        raise ValueError(f'taus must lie in [0, 1]: {spec!r}')
    return sorted(set(taus))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train one short run per tau and plot val IoU vs tau')
    parser.add_argument('config', help='RISAM config (MutualAwareFusion neck)')
    parser.add_argument('--taus', default='0.05:0.5:0.05',
                        help='start:stop:step (stop included) or a,b,c')
    parser.add_argument('--iters', type=int, required=True,
                        help='training iterations per tau')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--metric', default='oIoU',
                        help='val metric plotted (ReferMetric key)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of CONFIG (key=value)')
    return parser.parse_args()


class _KeepMetrics(Hook):
    """Remember the metrics of the last validation."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.metrics: Dict[str, float] = {}

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.metrics = dict(metrics or {})


def run_config(base: Config, tau: float, iters: int, work_dir: str) -> Config:
    """CONFIG turned into a short iteration-based run with ``tau``.

    The epoch schedule becomes ``iters`` iterations with the lr steps at the
    same fractions (30/50 and 42/50 of training, §4.2); validation runs once
    at the end; no checkpoint is written.
    """
    cfg = copy.deepcopy(base)
    if cfg.model.get('neck', {}).get('type') != 'risam.MutualAwareFusion':
        raise ValueError('tau sweep needs a MutualAwareFusion neck')
    cfg.model.neck.tau = tau
    cfg.work_dir = work_dir
    cfg.experiment_name = f'tau_{tau:.2f}'
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters,
                         val_interval=iters)
    cfg.param_scheduler = [
        dict(type='MultiStepLR', by_epoch=False, begin=0, end=iters,
             milestones=[max(1, round(iters * 0.6)),
                         max(1, round(iters * 0.84))], gamma=0.1)
    ]
    cfg.log_processor = dict(by_epoch=False)
    cfg.default_hooks.logger = dict(
        type='LoggerHook', interval=max(1, min(50, iters // 5)),
        log_metric_by_epoch=False)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=-1, save_last=False)
    if cfg.get('visualizer'):
        cfg.visualizer.name = f'visualizer_tau_{tau:.2f}'
    cfg.resume, cfg.load_from = False, None
    return cfg


def neck_taus(runner: Runner) -> List[float]:
    """The tau of every MA block of the model the runner built."""
    model = getattr(runner.model, 'module', runner.model)
    return [float(block.tau) for block in model.neck.blocks]


def plot(results: List[dict], metric: str, path: str) -> None:
    """IoU against tau as a PNG (matplotlib Agg)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    taus = [r['tau'] for r in results]
    ious = [r[metric] for r in results]
    best = max(results, key=lambda r: r[metric])
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    ax.plot(taus, ious, 'o-', color='tab:blue')
    ax.plot([best['tau']], [best[metric]], '*', color='tab:red', ms=12,
            label=f"best tau={best['tau']:.2f} ({best[metric]:.2f})")
    ax.set_xlabel('tau (Eq. 4 threshold)')
    ax.set_ylabel(f'val {metric} (%)')
    ax.set_title('IoU vs tau (paper Fig. 8)')
    ax.grid(alpha=0.3)
    ax.legend(loc='best', fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format='png')
    plt.close(fig)


def main() -> None:
    args = parse_args()
    taus = parse_taus(args.taus)
    base = Config.fromfile(args.config)
    if args.cfg_options:
        base.merge_from_dict(args.cfg_options)
    results = []
    for i, tau in enumerate(taus):
        start = time.perf_counter()
        print_log(f'[tau sweep] {i + 1}/{len(taus)}: tau={tau:.2f}, '
                  f'{args.iters} iters', logger='current')
        cfg = run_config(base, tau, args.iters,
                         osp.join(args.work_dir, f'tau_{tau:.2f}'))
        runner = Runner.from_cfg(cfg)
        built = neck_taus(runner)
        if any(abs(t - tau) > 1e-9 for t in built):
            raise RuntimeError(f'tau sweep: the model built from '
                               f'{args.config} has neck taus {built}, '
                               f'not {tau}')
        keep = _KeepMetrics()
        runner.register_hook(keep)
        runner.train()
        if args.metric not in keep.metrics:
            raise KeyError(f'{args.metric} not in val metrics '
                           f'{sorted(keep.metrics)}')
        row = dict(tau=tau, neck_tau=built,
                   seconds=round(time.perf_counter() - start, 1))
        row.update({k: float(v) for k, v in keep.metrics.items()})
        results.append(row)
        print_log(f'[tau sweep] tau={tau:.2f}: {args.metric}='
                  f'{row[args.metric]:.2f} ({row["seconds"]} s)',
                  logger='current')
    best = max(results, key=lambda r: r[args.metric])
    summary = dict(config=args.config, iters=args.iters, metric=args.metric,
                   best_tau=best['tau'], results=results)
    json_path = osp.join(args.work_dir, 'tau_sweep.json')
    with open(json_path, 'w') as f:
        json.dump(summary, f, indent=2)
    png_path = osp.join(args.work_dir, 'tau_sweep.png')
    plot(results, args.metric, png_path)
    print_log(f'[tau sweep] best tau={best["tau"]:.2f} '
              f'({args.metric}={best[args.metric]:.2f}); wrote {json_path} '
              f'and {png_path}', logger='current')


if __name__ == '__main__':
    main()
