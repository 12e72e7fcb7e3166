"""What a config's full run costs, projected from the GPU check's measured
steps: does it fit on this card, and how many hours on how many GPUs.

For each training mode (per-sentence, image-grouped, cached):

- ``peak_memory_fraction`` = measured peak / the card's total memory
  (None on the CPU);
- ``hours_full_schedule`` = (training steps x measured seconds per step +
  validation) / 3600, where
  training steps = epochs x ceil(train sentences / (gpus x b)) for an
  epoch-based schedule, ceil(max_iters x batch / b) for an iteration-based
  one (``b``: the measured batch per GPU, ``batch``: the config's), and
  validation = (epochs or max_iters) / val_interval x val sentences x the
  measured forward seconds per sentence / gpus (assumed sharded over the
  ranks, as mmengine's distributed ValLoop and samplers split the val set);
- ``gpus`` (:func:`config_gpus`): ``auto_scale_lr.base_batch_size`` (the
  total batch the config's learning rate is set for; the paper configs: 32)
  / ``train_dataloader.batch_size`` (4 per GPU) = 8; 1 without it.

Dataset sizes are the published ones
(``projects/risam/datasets/reference_counts.py``: RefCOCO train is 120,624
sentences, so the paper schedule is 50 x 3,770 steps of 8 x 4); a dataset
not listed there has no epoch length and no validation term. Left out: the
dataloader, and the all-reduce across the GPUs.
"""
import importlib.util
import math
import sys
from pathlib import Path
from typing import Dict, List, Optional

__all__ = ['FITS_BELOW', 'MODES', 'config_gpus', 'dataset_sentences',
           'layout', 'project', 'schedule']

#: The training modes the GPU check measures, in the report's order.
MODES = ('per_sentence', 'image_grouped', 'cached')
#: A mode fits when its peak stays below this fraction of the card (the
#: rest: the CUDA context and the allocator's cached blocks).
FITS_BELOW = 0.95


def _reference_counts():
    """``projects.risam.datasets.reference_counts``, read from its file
    where the datasets package (which needs mmseg) is not importable."""
    name = 'projects.risam.datasets.reference_counts'
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parents[1] / 'datasets/reference_counts.py'
    spec = importlib.util.spec_from_file_location(
        '_risam_reference_counts', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dataset_sentences(dataset_cfg) -> Optional[int]:
    """Published sentence count of a dataset config's split, or None."""
    counts = _reference_counts()
    key = counts.reference_key(dict(dataset_cfg or {}))
    split = (dataset_cfg or {}).get('split')
    if key is None or split not in counts.REFERENCE_COUNTS[key]:
        return None
    return counts.REFERENCE_COUNTS[key][split][0]


def config_gpus(cfg) -> int:
    """GPUs of the config's schedule: ``auto_scale_lr.base_batch_size //
    train_dataloader.batch_size``, or 1 without ``auto_scale_lr``."""
    base = (cfg.get('auto_scale_lr') or {}).get('base_batch_size')
    batch = cfg.train_dataloader.batch_size
    return max(1, int(base) // int(batch)) if base else 1


def schedule(cfg) -> dict:
    """The config's own schedule: ``{kind, length, val_interval, gpus,
    batch_per_gpu, train_sentences, val_sentences, val_passes}``
    (``length``: epochs or iterations; sizes None where unknown)."""
    train_cfg = cfg.train_cfg
    epochs = train_cfg.get('max_epochs')
    kind = 'epochs' if epochs is not None else 'iterations'
    length = int(epochs if epochs is not None else train_cfg['max_iters'])
    interval = train_cfg.get('val_interval')
    val_loader = cfg.get('val_dataloader') or {}
    return dict(
        kind=kind, length=length, val_interval=interval,
        gpus=config_gpus(cfg),
        batch_per_gpu=int(cfg.train_dataloader.batch_size),
        train_sentences=dataset_sentences(cfg.train_dataloader.get('dataset')),
        val_sentences=dataset_sentences(val_loader.get('dataset')),
        val_passes=length // int(interval) if interval else 0)


def _steps(plan: dict, measured_batch: int) -> Optional[int]:
    if plan['kind'] == 'iterations':
        return math.ceil(plan['length'] * plan['batch_per_gpu']
                         / measured_batch)
    if plan['train_sentences'] is None:
        return None
    return plan['length'] * math.ceil(
        plan['train_sentences'] / (plan['gpus'] * measured_batch))


def _hours(h: Optional[float]) -> str:
    return 'unknown' if h is None else f'{h:.1f} h'


def project(cfg, train: dict, card: Optional[dict]) -> dict:
    """The projection of ``cfg``'s run from the ``train`` section's result
    (``batch`` and one ``{seconds_per_iter, peak_memory_bytes}`` per mode
    in :data:`MODES`, and ``forward``); ``card``: ``{name,
    total_memory_bytes}`` (None on the CPU).

    Returns:
        ``{card, total_memory_bytes, schedule, steps, validation_hours,
        assumes, <mode>: {peak_memory_fraction, hours_full_schedule,
        gpus}, summary}``; ``summary`` is the plain-words line.
    """
    plan = schedule(cfg)
    b = int(train['batch'])
    gpus = plan['gpus']
    steps = _steps(plan, b)
    val_hours = None
    if plan['val_sentences'] is not None:
        per_sentence = train['forward']['seconds_per_iter'] / b
        val_hours = (plan['val_passes'] * plan['val_sentences']
                     * per_sentence / gpus / 3600)
    total = card['total_memory_bytes'] if card else None
    out = dict(card=card['name'] if card else None, total_memory_bytes=total,
               schedule=plan, steps=steps,
               validation_hours=None if val_hours is None
               else round(val_hours, 3),
               assumes=[
                   f'{gpus} device(s) of this kind, each at the measured '
                   'step',
                   'validation sharded over the GPUs (mmengine\'s '
                   'distributed ValLoop)',
                   'no dataloader wait; no all-reduce cost'])
    for mode in MODES:
        stat = train[mode]
        hours = None
        if steps is not None:
            hours = steps * stat['seconds_per_iter'] / 3600 + (val_hours or 0)
        out[mode] = dict(
            peak_memory_fraction=None if not total else round(
                stat['peak_memory_bytes'] / total, 4),
            hours_full_schedule=None if hours is None else round(hours, 2),
            gpus=gpus)
    out['summary'] = _summary(out, plan, b)
    return out


def _summary(out: dict, plan: dict, b: int) -> str:
    """One line in plain words: fits or not, hours on ``gpus`` cards, and
    what the projection leaves out."""
    gpus = plan['gpus']
    words = [m.replace('_', '-') for m in MODES]
    if out['card'] is None:
        fit = 'On the CPU (no card, so memory is not projected)'
        where = 'this CPU' if gpus == 1 else f'{gpus} of these CPUs'
    else:
        fractions: List[float] = [out[m]['peak_memory_fraction']
                                  for m in MODES]
        worst = max(fractions)
        verdict = ('fits' if worst < FITS_BELOW else
                   'does NOT fit' if min(fractions) >= FITS_BELOW else
                   'fits only in some modes')
        fit = (f'On {out["card"]} '
               f'({out["total_memory_bytes"] / 2**30:.1f} GiB) the config '
               f'{verdict}: peak ' + ', '.join(
                   f'{f:.0%} {w}' for f, w in zip(fractions, words)))
        where = f'{gpus} of them'
    run = (f'its schedule ({plan["length"]} {plan["kind"]}, batch '
           f'{gpus} x {b}) would take ' + ', '.join(
               f'{_hours(out[m]["hours_full_schedule"])} {w}'
               for m, w in zip(MODES, words)) + f' on {where}')
    val = (f'validation included ({_hours(out["validation_hours"])})'
           if out['validation_hours'] is not None else
           'validation left out (val set size not published)')
    if gpus == 1:
        return (f'{fit}; {run}, {val}. Left out: the dataloader (one '
                'device: no all-reduce).')
    ddp = ('the 2-GPU ddp section bounds it when there are two'
           if out['card'] is not None else 'the ddp section runs it on gloo')
    return (f'{fit}; {run}, {val}. Left out: the dataloader, and the '
            f'all-reduce across {gpus} GPUs ({ddp}).')


def layout() -> Dict[str, object]:
    """The keys and types of :func:`project`'s result."""
    opt_float = (float, int, type(None))
    mode = dict(peak_memory_fraction=opt_float,
                hours_full_schedule=opt_float, gpus=int)
    return dict(card=(str, type(None)), total_memory_bytes=(int, type(None)),
                schedule=dict, steps=(int, type(None)),
                validation_hours=opt_float, assumes=list, summary=str,
                **{m: mode for m in MODES})
