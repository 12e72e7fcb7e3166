"""Count trainable and frozen parameters of a model config, per module.

Usage::

    python tools/analysis_tools/get_params.py CONFIG [--depth 2]

Checkpoint files named in the config are not needed: the model is built
with ``checkpoint``/``pretrained`` set to None (parameter counts do not
depend on the weights). Frozen = ``requires_grad`` False (never given to
the optimizer by mmengine's default constructor).
"""
import argparse
from collections import OrderedDict
from typing import Dict, Tuple

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from torch import nn


def count(model: nn.Module, depth: int = 1) -> Dict[str, Tuple[int, int]]:
    """``{module prefix: (trainable, frozen)}`` grouped at ``depth``."""
    out: Dict[str, Tuple[int, int]] = OrderedDict()
    for name, param in model.named_parameters():
        key = '.'.join(name.split('.')[:depth])
        trainable, frozen = out.get(key, (0, 0))
        if param.requires_grad:
            trainable += param.numel()
        else:
            frozen += param.numel()
        out[key] = (trainable, frozen)
    return out


def _drop_checkpoints(cfg) -> None:
    for key in ('backbone', 'text_encoder'):
        part = cfg.model.get(key)
        if part is None:
            continue
        for field in ('checkpoint', 'pretrained'):
            if field in part:
                part[field] = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--depth', type=int, default=2,
                        help='module-name depth of the per-module rows')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    _drop_checkpoints(cfg)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import MODELS

    import projects.risam  # noqa: F401  (registers the RISAM names)
    model = MODELS.build(cfg.model)

    rows = count(model, args.depth)
    width = max(len(k) for k in rows) + 2
    print(f'{"module":<{width}}{"trainable":>14}{"frozen":>14}')
    for key, (t, f) in rows.items():
        print(f'{key:<{width}}{t:>14,}{f:>14,}')
    total_t = sum(t for t, _ in rows.values())
    total_f = sum(f for _, f in rows.values())
    total = total_t + total_f
    print(f'{"total":<{width}}{total_t:>14,}{total_f:>14,}')
    print(f'trainable: {total_t / 1e6:.2f}M of {total / 1e6:.2f}M '
          f'({100 * total_t / max(total, 1):.2f}%)')


if __name__ == '__main__':
    main()
