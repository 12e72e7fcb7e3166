"""A full-size dry run of a training config: what a step costs, measured
(``tools/analysis_tools/dry_run.py``; docs/paper_scale.md).

With mmengine's runner, :func:`dry_run` trains ``iters`` iterations of the
config as written, validates some samples, saves the checkpoint as the
config's hook does, then resumes from it and trains one more iteration.
Missing frozen-encoder files get random weights in their official format
(:mod:`.random_weights`); without a dataset, COCO-sized refer data is
written (:mod:`.refer_data`). The report (a dict that is the tool's JSON)
has seconds per iteration and per stage (:class:`~projects.risam.utils.
stage_timer.StageTimer`), per val sample, checkpoint save and resume times,
peak host (and GPU) memory, the checkpoint's size and parameter counts.
"""
import gc
import os
import os.path as osp
import shutil
import tempfile
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from projects.risam.utils.output import OutputError
from projects.risam.utils.peak_memory import peak_rss_bytes
from projects.risam.utils.stage_timer import StageTimer

from .dry_run_config import dry_run_config, resume_config
from .random_weights import missing_frozen_weights, use_random_weights
from .refer_data import prepare_refer_data

__all__ = ['STAGES', 'device_name', 'dry_run', 'param_counts', 'summary', 'weights_line']

#: Stages timed in a training iteration, in the order they run.
STAGES = ('encode', 'enhance', 'text', 'fusion', 'decode', 'loss_backward',
          'optimizer')


def param_counts(model: torch.nn.Module) -> Dict[str, int]:
    """``{'trainable': n, 'frozen': n}`` parameters (``requires_grad``)."""
    counts = dict(trainable=0, frozen=0)
    for p in model.parameters():
        counts['trainable' if p.requires_grad else 'frozen'] += p.numel()
    return counts


def device_name() -> str:
    """``'cuda (<GPU name>)'``, or ``'cpu'``."""
    if torch.cuda.is_available():
        return f'cuda ({torch.cuda.get_device_name(0)})'
    return 'cpu'


def weights_line(missing: List[dict]) -> str:
    """What a dry run says first: the weights it makes up, or none."""
    if missing:
        return 'dry_run: random weights for ' + '; '.join(
            f'{m["key"]} ({m["kind"]} {m["arch"]}: {m["path"]} is missing)'
            for m in missing)
    return ('dry_run: no frozen-encoder weight file is missing (real or '
            'no weights, as the config says)')


def _mean(rows: List[Dict[str, float]], key: str) -> Optional[float]:
    values = [r[key] for r in rows if key in r]
    return sum(values) / len(values) if values else None


def _runner(cfg: Config) -> Tuple[Runner, StageTimer]:
    runner = Runner.from_cfg(cfg)
    timer = StageTimer()
    timer.attach(runner)
    runner.register_hook(timer)
    return runner, timer


def _work_folder(work_dir: Optional[str]) -> str:
    if work_dir is None:
        return tempfile.mkdtemp(prefix='risam_dry_run_')
    if osp.isdir(work_dir) and os.listdir(work_dir):
        raise OutputError(f'--work-dir {work_dir} is not empty')
    os.makedirs(work_dir, exist_ok=True)
    return work_dir


def _train_report(timer: StageTimer) -> dict:
    means = {s: _mean(timer.iters, s) for s in STAGES}
    return dict(
        iter_seconds=[round(r['iteration'], 3) for r in timer.iters],
        stage_seconds_per_iter={s: None if v is None else round(v, 3)
                                for s, v in means.items()},
        stage_seconds=[{k: round(v, 3) for k, v in r.items()}
                       for r in timer.iters])


def dry_run(config: str, *, iters: int = 2, data_root: Optional[str] = None,
            val_samples: Optional[int] = None, work_dir: Optional[str] = None,
            cfg_options: Optional[dict] = None,
            announce: Optional[Callable[[str], None]] = None) -> dict:
    """Run the dry run of the config file ``config``; return its report.

    Args:
        val_samples: samples validated (default: one val batch).
        work_dir: keep the run there (a new or empty folder); default: a
            temporary folder, removed at the end.
        announce: called with :func:`weights_line` before anything runs.
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if val_samples is None:
        val_samples = int(cfg.val_dataloader.batch_size)
    line = weights_line(missing_frozen_weights(cfg.model))
    if announce is not None:
        announce(line)
    base = _work_folder(work_dir)
    try:
        random_weights = use_random_weights(cfg, osp.join(base, 'weights'))
        batch = int(cfg.train_dataloader.batch_size)
        data = prepare_refer_data(cfg, data_root, osp.join(base, 'data'),
                                  iters * batch, val_samples)
        run_dir = osp.join(base, 'work')
        first, last = dry_run_config(cfg, run_dir, iters=iters,
                                     val_samples=val_samples)
        runner, timer = _runner(first)
        model = getattr(runner.model, 'module', runner.model)
        counts = param_counts(model)
        # what the frozen encoder computes in here (bf16 falls back to fp32
        # on a CPU without native bf16, with a log line)
        encoder_dtype = getattr(getattr(model, 'backbone', None),
                                'encoder_dtype', None)
        runner.train()
        ckpts = {f: osp.getsize(osp.join(run_dir, f))
                 for f in sorted(os.listdir(run_dir)) if f.endswith('.pth')}
        if last not in ckpts:
            raise RuntimeError(f'the run saved no {last} (saved: '
                               f'{sorted(ckpts)})')
        del runner, model
        gc.collect()
        t0 = time.perf_counter()
        resumed, rtimer = _runner(resume_config(first,
                                                osp.join(run_dir, last)))
        resumed.train()
        resume_seconds = time.perf_counter() - t0
        del resumed
        return dict(
            config=config, device=device_name(), torch=torch.__version__,
            iters=iters, batch_size=batch,
            input_size=list(cfg.model.data_preprocessor.get('size') or []),
            encoder_dtype=encoder_dtype, random_weights=random_weights,
            data=data, params=counts, train=_train_report(timer),
            val=dict(samples=timer.val_samples,
                     seconds=round(timer.val_seconds, 3),
                     seconds_per_sample=round(
                         timer.val_seconds / max(timer.val_samples, 1), 3)),
            checkpoint=dict(file=last, bytes=ckpts[last], files=ckpts,
                            save_seconds=[round(s, 3)
                                          for s in timer.save_seconds]),
            resume=dict(from_iter=rtimer.first_iter,
                        to_iter=rtimer.last_iter,
                        seconds=round(resume_seconds, 3)),
            memory=dict(
                peak_host_train_bytes=timer.peak_train_bytes,
                # the high-water marks read before each reset (a timer's
                # training peaks come before the next mark) and the last
                peak_host_bytes=max(
                    timer.peak_before_train_bytes,
                    rtimer.peak_before_train_bytes, peak_rss_bytes()),
                peak_gpu_bytes=(torch.cuda.max_memory_allocated()
                                if torch.cuda.is_available() else None)),
            work_dir=None if work_dir is None else base)
    finally:
        if work_dir is None:
            shutil.rmtree(base, ignore_errors=True)


def summary(report: dict) -> str:
    """A few lines a person reads; the JSON has everything."""
    gib = 2**30
    st = report['train']['stage_seconds_per_iter']
    iters = report['train']['iter_seconds']
    mean_iter = sum(iters) / len(iters)
    mem = report['memory']
    lines = [
        f'dry_run: {report["config"]} on {report["device"]}, '
        f'{report["iters"]} x batch {report["batch_size"]} at '
        f'{report["input_size"]}, encoder {report["encoder_dtype"]}',
        '  s/iter: ' + ', '.join(
            f'{k} {v:.2f}' for k, v in st.items() if v is not None) +
        f' (iteration {mean_iter:.2f})',
        f'  val: {report["val"]["seconds_per_sample"]:.2f} s/sample; '
        f'checkpoint {report["checkpoint"]["file"]} '
        f'{report["checkpoint"]["bytes"] / gib:.2f} GiB; resume '
        f'{report["resume"]["from_iter"]} -> {report["resume"]["to_iter"]}',
        f'  peak host memory {mem["peak_host_bytes"] / gib:.2f}'
        f' GiB (training {mem["peak_host_train_bytes"] / gib:.2f}'
        f' GiB); parameters trainable {report["params"]["trainable"]:,}, '
        f'frozen {report["params"]["frozen"]:,}',
    ]
    if mem['peak_gpu_bytes'] is not None:
        lines.append(f'  peak GPU memory {mem["peak_gpu_bytes"] / gib:.2f} GiB')
    return '\n'.join(lines)
