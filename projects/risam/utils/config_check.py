"""Check what users get wrong in a config or ``--cfg-options`` before a run.

A data-loader argument that does not exist or that clashes with another
(``persistent_workers`` or ``prefetch_factor`` with ``num_workers=0``), or a
data folder that is not there, would otherwise stop the run deep inside
torch or a dataset after the model is built. Each is a
:class:`ConfigError` naming the config key, which the tools print as one
line (:func:`projects.risam.utils.cli.run_tool`). A key that reaches a
constructor that does not take it (``got an unexpected keyword argument``)
is named by :func:`unknown_key_message`.
"""
import inspect
import os.path as osp
import re
from typing import Iterable, Iterator, Optional, Sequence, Tuple

from torch.utils.data import DataLoader

__all__ = [
    'DATALOADER_KEYS', 'ConfigError', 'check_data_roots', 'check_dataloaders',
    'check_run_config', 'unknown_key_message'
]

#: the keys a dataloader config may hold: DataLoader's arguments and those
#: mmengine's ``Runner.build_dataloader`` takes out first
DATALOADER_KEYS = frozenset(
    set(inspect.signature(DataLoader.__init__).parameters) - {'self'} |
    {'num_batch_per_epoch', 'disable_subprocess_warning'})

#: DataLoader arguments that need worker processes
WORKER_ONLY = ('persistent_workers', 'prefetch_factor')

_UNEXPECTED = re.compile(r"unexpected keyword argument '([^']+)'")


class ConfigError(ValueError):
    """A config value (from the file or ``--cfg-options``) the run cannot
    use; the message names its key."""


def _loaders(cfg, names: Sequence[str]) -> Iterator[Tuple[str, dict]]:
    for name in names:
        loader = cfg.get(name)
        if isinstance(loader, dict):
            yield name, loader


def check_dataloaders(cfg, names: Sequence[str]) -> None:
    """Refuse an unknown key or a worker-only argument without workers in
    the dataloader configs ``names`` (e.g. ``'train_dataloader'``)."""
    for name, loader in _loaders(cfg, names):
        unknown = sorted(set(loader) - DATALOADER_KEYS)
        if unknown:
            raise ConfigError(
                f'{name}.{unknown[0]}: no such dataloader key (a typo? '
                'DataLoader takes e.g. batch_size, num_workers, '
                'persistent_workers)')
        if loader.get('num_workers', 0):
            continue
        for key in WORKER_ONLY:
            if loader.get(key):
                raise ConfigError(
                    f'{name}.{key}={loader[key]!r} needs '
                    f'{name}.num_workers > 0 (it is '
                    f'{loader.get("num_workers", 0)}): also set '
                    f'{name}.{key}='
                    f'{"False" if key == "persistent_workers" else "None"}')


def _data_roots(dataset, key: str) -> Iterator[Tuple[str, str]]:
    """``(config key, data_root)`` of a dataset config and the datasets it
    wraps (``dataset=`` / ``datasets=[...]``)."""
    if not isinstance(dataset, dict):
        return
    root = dataset.get('data_root')
    if root:
        yield f'{key}.data_root', root
    yield from _data_roots(dataset.get('dataset'), f'{key}.dataset')
    for i, inner in enumerate(dataset.get('datasets') or ()):
        yield from _data_roots(inner, f'{key}.datasets.{i}')


def check_data_roots(cfg, names: Iterable[str]) -> None:
    """Refuse a ``data_root`` folder that does not exist in the datasets
    of the dataloader configs ``names``, naming its key and the folder."""
    for name, loader in _loaders(cfg, names):
        for key, root in _data_roots(loader.get('dataset'),
                                     f'{name}.dataset'):
            if not osp.isdir(root):
                raise ConfigError(
                    f'{key}: data folder {root} not found (generate or '
                    f'download it, or give --cfg-options {key}=DIR)')


def check_run_config(cfg, dataloaders: Sequence[str]) -> None:
    """Both checks on the ``dataloaders`` a run uses (e.g.
    ``['train_dataloader', 'val_dataloader']``): their keys first, then
    their data folders."""
    check_dataloaders(cfg, dataloaders)
    check_data_roots(cfg, dataloaders)


def unknown_key_message(error: BaseException,
                        cfg_options: Sequence[str] = ()) -> Optional[str]:
    """One line for a TypeError about an argument a constructor does not
    take, naming the config key (the ``--cfg-options`` key that set it,
    when one did); None for any other error."""
    found = _UNEXPECTED.search(str(error)) if isinstance(
        error, TypeError) else None
    if found is None:
        return None
    name = found.group(1)
    given = [k for k in cfg_options if k.split('.')[-1] == name]
    where = f'--cfg-options {given[0]}' if given else f'config key {name!r}'
    last = str(error).strip().splitlines()[-1]
    return f'{where}: no such argument ({last})'
