"""Encoder weight files a config names, checked before a model is built.

A RISAM config names its frozen encoders' own weight files
(``model.backbone.checkpoint`` of ``SAMBackbone``,
``model.text_encoder.pretrained`` of ``CLIPTokenEncoder``). A slim
checkpoint (``risam.SlimCheckpointHook``) does not hold those weights, so
every tool needs the files; where one is missing, the tool says so in one
line naming the file and its config key (:class:`EncoderFileError`), instead
of a traceback from inside the model's constructor.

A full checkpoint (``tools/model_converters/full_checkpoint.py``) holds every
weight: with it the files are not needed. :func:`use_checkpoint_for_missing`
then builds those encoders without their files and
:func:`check_checkpoint_covers` makes sure the checkpoint has every weight
of them before it is loaded strictly.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Any, Iterable, List, Mapping, Optional

from torch import nn

from .checkpoint import FROZEN_META_KEY, load_state_dict_file, read_checkpoint

__all__ = [
    'EncoderFile',
    'EncoderFileError',
    'check_checkpoint_covers',
    'check_encoder_files',
    'encoder_files',
    'use_checkpoint_for_missing',
]

#: constructor arguments that name an encoder's own weight file
FILE_ARGUMENTS = ('checkpoint', 'pretrained')


class EncoderFileError(FileNotFoundError):
    """A missing encoder weight file, with its config key, in one line."""


@dataclass(frozen=True)
class EncoderFile:
    """One weight file named in the model config.

    Attributes:
        key: the config key, e.g. ``'model.backbone.checkpoint'``.
        module: the module it builds, e.g. ``'backbone'``.
        path: the file, as the config gives it.
    """
    key: str
    module: str
    path: str

    @property
    def holder(self) -> str:
        """Dotted path, below the model config, of the dict whose argument
        names the file (``module``, or ``module.init_cfg``)."""
        return '.'.join(self.key.split('.')[1:-1])

    @property
    def missing(self) -> bool:
        return not osp.isfile(osp.expanduser(self.path))

    def error(self, why: str = '') -> EncoderFileError:
        return EncoderFileError(
            f'encoder weights {self.path} not found (config key {self.key})'
            f'{why}; put the file there or set the key, e.g. --cfg-options '
            f'{self.key}=PATH')


def _frozen_pretrained(node: Mapping) -> Optional[str]:
    """The ``init_cfg`` ``Pretrained`` file of a frozen
    ``RISAMVisualEncoder`` backbone (loaded when it is built), or None."""
    backbone = node.get('backbone')
    if not node.get('frozen_backbone') or not isinstance(backbone, Mapping):
        return None
    cfg = backbone.get('init_cfg')
    if isinstance(cfg, Mapping) and cfg.get('type') == 'Pretrained' \
            and isinstance(cfg.get('checkpoint'), str) and cfg['checkpoint']:
        return cfg['checkpoint']
    return None


def encoder_files(model_cfg: Mapping,
                  root: str = 'model') -> List[EncoderFile]:
    """Every ``checkpoint=``/``pretrained=`` file below ``model_cfg``, and
    the ``init_cfg`` file of a frozen ``RISAMVisualEncoder`` backbone."""
    out: List[EncoderFile] = []

    def walk(node: Any, path: List[str]) -> None:
        if not isinstance(node, Mapping):
            return
        for name in FILE_ARGUMENTS:
            value = node.get(name)
            if path and isinstance(value, str) and value:
                out.append(EncoderFile('.'.join([root, *path, name]),
                                       '.'.join(path), value))
        frozen = _frozen_pretrained(node)
        if frozen is not None:
            module = [*path, 'backbone']
            out.append(EncoderFile(
                '.'.join([root, *module, 'init_cfg', 'checkpoint']),
                '.'.join(module), frozen))
        for name, child in node.items():
            if name != 'init_cfg':
                walk(child, [*path, name])

    walk(model_cfg, [])
    return out


def check_encoder_files(model_cfg: Mapping) -> None:
    """Raise :class:`EncoderFileError` for the first missing file."""
    for file in encoder_files(model_cfg):
        if file.missing:
            raise file.error()


def _get(cfg: Mapping, dotted: str) -> Mapping:
    node = cfg
    for part in dotted.split('.'):
        node = node[part]
    return node


def use_checkpoint_for_missing(model_cfg: Mapping,
                               checkpoint: Optional[str]) -> List[EncoderFile]:
    """Let ``checkpoint`` stand in for missing encoder files.

    Each missing file is refused at once (:class:`EncoderFileError`) when
    there is no checkpoint or the checkpoint is a slim one that left that
    module's weights out; otherwise its config key is set to None (modified
    in place), so the encoder is built without it, and the returned files
    must be checked with :func:`check_checkpoint_covers` after the build.
    """
    missing = [f for f in encoder_files(model_cfg) if f.missing]
    if not missing:
        return []
    if checkpoint is None:
        raise missing[0].error()
    ckpt = read_checkpoint(checkpoint, 'cpu', mmap=True) if osp.isfile(
        checkpoint) else {}
    meta = ckpt.get('meta', {}) if isinstance(ckpt, Mapping) else {}
    left_out = tuple((meta or {}).get(FROZEN_META_KEY, ()) or ())
    for file in missing:
        if any(p.startswith(f'{file.module}.') for p in left_out):
            raise file.error(f', and {checkpoint} leaves those weights out '
                             '(a slim checkpoint)')
        node = _get(model_cfg, file.holder)
        node[file.key.rsplit('.', 1)[1]] = None
    return missing


def check_checkpoint_covers(model: nn.Module, checkpoint: str,
                            files: Iterable[EncoderFile]) -> None:
    """Every weight of a module built without its missing file must be in
    ``checkpoint``; else :class:`EncoderFileError` names file and key."""
    files = list(files)
    if not files:
        return
    present = set(load_state_dict_file(checkpoint, mmap=True))
    own = model.state_dict()
    for file in files:
        prefix = f'{file.module}.'
        lacking = [k for k in own if k.startswith(prefix) and k not in present]
        if lacking:
            raise file.error(f', and {checkpoint} does not hold those '
                             f'weights ({lacking[0]}, ... {len(lacking)} '
                             'entries)')
