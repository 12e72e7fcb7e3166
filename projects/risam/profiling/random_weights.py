"""Random weights in the official file formats, for frozen encoders whose
checkpoint file a config names but which is not on this machine.

With such a file written and the config pointed at it, loading,
checkpoints and resume behave as with the real weights, and a checkpoint's
size is the real one: a config runs at full size with nothing downloaded.
"""
import os
import os.path as osp
import time
from typing import List

import torch

__all__ = ['missing_frozen_weights', 'use_random_weights', 'write_random_weights']


def _is_type(cfg: dict, name: str) -> bool:
    return isinstance(cfg, dict) and str(cfg.get('type', '')).split(
        '.')[-1] == name


def missing_frozen_weights(model_cfg: dict) -> List[dict]:
    """The frozen encoders whose checkpoint file the config names but which
    does not exist: ``[{key, path, kind, arch}]`` (``kind``:
    ``segment_anything`` for a ``SAMBackbone``'s ``checkpoint``,
    ``open_clip`` for a ``CLIPTokenEncoder``'s ``pretrained``).

    Raises:
        FileNotFoundError: a file is missing and the architecture is not a
            registered name (no official format to write).
    """
    found = []
    bb, te = model_cfg.get('backbone'), model_cfg.get('text_encoder')
    if _is_type(bb, 'SAMBackbone') and bb.get('checkpoint') and not osp.isfile(
            bb['checkpoint']):
        arch = bb.get('arch', 'vit_h')
        if not isinstance(arch, str):
            raise FileNotFoundError(
                f'model.backbone.checkpoint {bb["checkpoint"]} does not exist '
                'and arch is not one of segment_anything\'s registered ones')
        found.append(dict(key='model.backbone.checkpoint',
                          path=bb['checkpoint'], kind='segment_anything',
                          arch=arch))
    if _is_type(te, 'CLIPTokenEncoder') and te.get(
            'pretrained') and not osp.isfile(te['pretrained']):
        if te.get('model_cfg') is not None:
            raise FileNotFoundError(
                f'model.text_encoder.pretrained {te["pretrained"]} does not '
                'exist and the tower is given as model_cfg, not a name')
        found.append(dict(key='model.text_encoder.pretrained',
                          path=te['pretrained'], kind='open_clip',
                          arch=te.get('model_name', 'ViT-B-16')))
    return found


def write_random_weights(kind: str, arch: str, path: str,
                         seed: int = 0) -> int:
    """Random weights of ``arch`` in the official file format; returns the
    file's size in bytes.

    ``segment_anything``: ``sam_model_registry[arch]()`` state dict (keys
    ``image_encoder.*``, ``prompt_encoder.*``, ``mask_decoder.*``), as in
    ``sam_vit_h_4b8939.pth``. ``open_clip``: ``create_model(arch)`` state
    dict, as in ``open_clip_pytorch_model.bin``.
    """
    torch.manual_seed(seed)
    if kind == 'segment_anything':
        from segment_anything import sam_model_registry
        model = sam_model_registry[arch]()
    elif kind == 'open_clip':
        import open_clip
        model = open_clip.create_model(arch, pretrained=None)
    else:
        raise ValueError(f'unknown weights kind {kind!r}')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    torch.save(model.state_dict(), path)
    del model
    return osp.getsize(path)


def use_random_weights(cfg, folder: str) -> List[dict]:
    """Write random weights for every :func:`missing_frozen_weights` entry
    of ``cfg.model`` into ``folder`` (under the missing file's name) and
    point ``cfg`` (an ``mmengine.config.Config``, changed in place) at
    them. Returns the entries with ``written`` (path), ``bytes`` and
    ``seconds`` added."""
    written = []
    for m in missing_frozen_weights(cfg.model):
        path = osp.join(folder, osp.basename(m['path']))
        t0 = time.perf_counter()
        size = write_random_weights(m['kind'], m['arch'], path)
        cfg.merge_from_dict({m['key']: path})
        written.append(dict(m, written=path, bytes=size,
                            seconds=round(time.perf_counter() - t0, 3)))
    return written
