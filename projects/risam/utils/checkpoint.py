"""Reading checkpoints: safely, unwrapped, and strictly checked.

Every checkpoint the project reads goes through here, directly or through
mmengine's :class:`~mmengine.runner.CheckpointLoader` (``load_from``,
``resume``, ``init_cfg=dict(type='Pretrained')``):

- :func:`read_checkpoint` asks ``torch.load`` for ``weights_only=True``
  explicitly, whatever torch's default or its environment override says
  (an explicit argument wins over torch's "no weights-only" variable).
  Tensors, plain containers and the classes of :mod:`.safe_load` load;
  anything else is a :class:`RefusedCheckpointError` naming the refused
  global. A truncated, empty or
  foreign file is a one-line :class:`CheckpointError` too.
- :func:`register_weights_only_loader` makes that function mmengine's loader
  for local files, so mmengine's own loads are just as safe.
- :func:`unwrap_state_dict` strips the containers that training code wraps
  around a state dict (``state_dict``/``model`` entries, DDP's ``module.``)
  and can select one sub-module's entries (``image_encoder.`` of a SAM file).
- :func:`load_strict` loads a RISAM checkpoint into a model: a missing or
  unexpected key or a shape mismatch is an error naming the first keys. The
  only keys allowed to be absent are those of frozen encoders that load their
  own weights from their own files (``SAMBackbone(checkpoint=...)``,
  ``CLIPTokenEncoder(pretrained=...)``); a module announces them in its
  ``frozen_pretrained_prefixes`` attribute (relative key prefixes).

mmengine's runner package is imported by the two functions that use it, not
by this module: the model core (:data:`projects.risam.registry.WITH_MMSEG`
False) reads its files with :func:`load_state_dict_file` alone, on a machine
where ``mmengine.runner``'s own imports (OpenCV) may be missing.
"""
import os.path as osp
import pickle
import re
import zipfile
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

__all__ = [
    'FROZEN_META_KEY',
    'CheckpointError',
    'RefusedCheckpointError',
    'check_state_dict',
    'fill_frozen_weights',
    'frozen_pretrained_prefixes',
    'is_intact_checkpoint',
    'leave_out_frozen_weights',
    'load_state_dict_file',
    'load_strict',
    'read_checkpoint',
    'register_weights_only_loader',
    'unwrap_state_dict'
]

#: ``checkpoint['meta']`` entry of a slim checkpoint: the key prefixes that
#: were left out because the config loads them from their own files.
FROZEN_META_KEY = 'frozen_weights_from_files'

#: How many keys an error message names per kind of difference.
NAMED_KEYS = 3
_REFUSED_GLOBAL = re.compile(r'GLOBAL ([\w.]+)')
_DDP_PREFIX = ((r'^module\.', ''), )


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used, explained in one line."""


class RefusedCheckpointError(CheckpointError):
    """A checkpoint that needs more than ``weights_only`` loading allows."""


def _refused_global(error: Exception) -> str:
    """The global a ``weights_only`` unpickler refused, from its message."""
    text = str(error)
    match = _REFUSED_GLOBAL.search(text)
    if match:
        return match.group(1)
    for line in text.splitlines():  # e.g. the guarded getattr of safe_load
        if 'error:' in line.lower() or 'refusing' in line:
            return line.split('error:', 1)[-1].strip()
    return text.strip().splitlines()[-1] if text.strip() else repr(error)


def read_checkpoint(filename: str, map_location: Any = 'cpu',
                    mmap: bool = False) -> Any:
    """``torch.load(filename, weights_only=True)`` with one-line errors.

    ``.safetensors`` files are read with :mod:`safetensors` (tensors only by
    construction). ``mmap=True`` maps a zip-format file's tensors instead of
    reading them (for a look at its keys); other files are read.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file holds something other than tensors, plain
            containers and the allow-listed classes (names the first refused
            global), or it is empty, truncated or not a checkpoint.
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint not found: {filename}')
    if osp.getsize(filename) == 0:
        raise CheckpointError(f'{filename}: empty file, not a checkpoint')
    if filename.endswith('.safetensors'):
        from safetensors.torch import load_file
        try:
            return load_file(filename, device=str(map_location or 'cpu'))
        except Exception as e:
            raise CheckpointError(f'{filename}: not a readable safetensors '
                                  f'file ({type(e).__name__}: '
                                  f'{_first_line(e)})') from e
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=True,
                          mmap=mmap and zipfile.is_zipfile(filename))
    except pickle.UnpicklingError as e:
        if 'Weights only load failed' in str(e) or 'refusing' in str(e):
            raise RefusedCheckpointError(
                f'{filename}: refused to load {_refused_global(e)} (only '
                'tensors, plain containers and the allow-listed training '
                'state may be unpickled)') from e
        raise CheckpointError(f'{filename}: truncated or not a checkpoint '
                              f'({_first_line(e)})') from e
    except Exception as e:  # EOFError, zip errors, KeyError on garbage...
        raise CheckpointError(f'{filename}: truncated or not a checkpoint '
                              f'({type(e).__name__}: {_first_line(e)})') from e


def _first_line(error: Exception) -> str:
    lines = [s for s in str(error).splitlines() if s.strip()]
    return lines[0].strip() if lines else type(error).__name__


def load_from_local_weights_only(filename: str,
                                 map_location: Any = None) -> Any:
    """mmengine's local-file loader, with ``weights_only=True``."""
    return read_checkpoint(filename, map_location)


def register_weights_only_loader() -> None:
    """Make :func:`load_from_local_weights_only` mmengine's loader for local
    paths (the ``''`` scheme). Idempotent."""
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local_weights_only, force=True)


def _select_prefix(state: Mapping[str, Any], prefix: str) -> Dict[str, Any]:
    """Entries under ``prefix`` with it stripped; a state without any such
    key is returned as is (already the sub-module's own keys)."""
    if not any(k.startswith(prefix) for k in state):
        return dict(state)
    return {k[len(prefix):]: v for k, v in state.items()
            if k.startswith(prefix)}


def unwrap_state_dict(checkpoint: Any,
                      *,
                      prefix: Optional[str] = None,
                      revise_keys: Sequence[Tuple[str, str]] = _DDP_PREFIX,
                      source: str = 'checkpoint') -> Dict[str, Tensor]:
    """The state dict inside a checkpoint, keys normalised.

    Args:
        checkpoint: what :func:`read_checkpoint` returned: an mmengine
            checkpoint (``state_dict`` entry), a ``{'model': ...}`` training
            checkpoint, or a bare state dict.
        prefix: keep only the entries under this prefix, stripped (e.g.
            ``'image_encoder.'`` for SAM's encoder). A state with no key under
            it is taken to be the sub-module's already.
        revise_keys: ``(regex, replacement)`` pairs applied to every key in
            order, as in mmengine's ``load_checkpoint``; by default DDP's
            ``module.`` is removed.
        source: name used in errors (the file).
    """
    state = checkpoint
    if isinstance(state, Mapping):
        for container in ('state_dict', 'model'):
            if isinstance(state.get(container), Mapping):
                state = state[container]
                break
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(f'{source}: no state dict found (got '
                              f'{type(state).__name__})')
    out: Dict[str, Any] = OrderedDict()
    for key, value in state.items():
        for pattern, repl in revise_keys:
            key = re.sub(pattern, repl, key)
        out[key] = value
    if prefix:
        out = _select_prefix(out, prefix)
    return out


def load_state_dict_file(filename: str,
                         *,
                         prefix: Optional[str] = None,
                         revise_keys: Sequence[Tuple[str,
                                                     str]] = _DDP_PREFIX,
                         mmap: bool = False) -> Dict[str, Tensor]:
    """:func:`read_checkpoint` then :func:`unwrap_state_dict`, on the CPU."""
    return unwrap_state_dict(
        read_checkpoint(filename, 'cpu', mmap=mmap), prefix=prefix,
        revise_keys=revise_keys, source=str(filename))


def frozen_pretrained_prefixes(model: nn.Module) -> Tuple[str, ...]:
    """Key prefixes of frozen weights that come from their own files.

    Collected from every sub-module's ``frozen_pretrained_prefixes``
    attribute (relative prefixes, e.g. ``('encoder.', )`` of a
    ``SAMBackbone`` built with ``checkpoint=``), made absolute.
    """
    out: List[str] = []
    for name, module in model.named_modules():
        for rel in getattr(module, 'frozen_pretrained_prefixes', ()) or ():
            out.append(f'{name}.{rel}' if name else rel)
    return tuple(out)


def _name_keys(keys: List[str]) -> str:
    shown = ', '.join(keys[:NAMED_KEYS])
    more = f', ... {len(keys) - NAMED_KEYS} more' \
        if len(keys) > NAMED_KEYS else ''
    return f'{shown}{more}'


def check_state_dict(expected: Mapping[str, Tensor],
                     state: Mapping[str, Tensor],
                     *,
                     exempt: Iterable[str] = (),
                     source: str = 'checkpoint') -> None:
    """Raise :class:`CheckpointError` unless ``state`` fits ``expected``.

    Missing keys under an ``exempt`` prefix are allowed (frozen weights that
    load from their own files); unexpected keys and shape mismatches never
    are. The message names the first :data:`NAMED_KEYS` keys of each kind.
    """
    exempt = tuple(exempt)
    missing = [k for k in expected
               if k not in state and not (exempt and k.startswith(exempt))]
    unexpected = [k for k in state if k not in expected]
    shapes = [k for k in expected if k in state
              and tuple(expected[k].shape) != tuple(state[k].shape)]
    parts = []
    if missing:
        parts.append(f'{len(missing)} missing ({_name_keys(missing)})')
    if unexpected:
        parts.append(f'{len(unexpected)} unexpected '
                     f'({_name_keys(unexpected)})')
    if shapes:
        k = shapes[0]
        parts.append(f'{len(shapes)} of another shape ({_name_keys(shapes)};'
                     f' {k}: {tuple(state[k].shape)} in the file, '
                     f'{tuple(expected[k].shape)} in the model)')
    if parts:
        raise CheckpointError(f'checkpoint {source} does not match the '
                              f'config: {"; ".join(parts)}')


def load_strict(model: nn.Module,
                checkpoint: str,
                *,
                map_location: Any = 'cpu',
                revise_keys: Sequence[Tuple[str, str]] = _DDP_PREFIX,
                logger: Any = None) -> dict:
    """Load a RISAM checkpoint into ``model`` strictly.

    Reads through mmengine's loader (the weights-only scheme), unwraps,
    checks with :func:`check_state_dict` (exempting
    :func:`frozen_pretrained_prefixes`), then loads with mmengine's
    ``load_state_dict(strict=True)``; exempt keys absent from the file keep
    the values their modules loaded from their own files.

    Returns:
        The checkpoint as read (``meta`` etc. included).
    """
    from mmengine.runner.checkpoint import _load_checkpoint, load_state_dict
    ckpt = _load_checkpoint(str(checkpoint), map_location=map_location,
                            logger=logger or 'current')
    state = unwrap_state_dict(ckpt, revise_keys=revise_keys,
                              source=str(checkpoint))
    own = model.state_dict()
    check_state_dict(own, state, exempt=frozen_pretrained_prefixes(model),
                     source=str(checkpoint))
    full = OrderedDict((k, state.get(k, own[k])) for k in own)
    load_state_dict(model, full, strict=True, logger=logger)
    return ckpt if isinstance(ckpt, dict) else dict(state_dict=state)


def leave_out_frozen_weights(checkpoint: dict, model: nn.Module) -> int:
    """Drop the frozen weights that ``model`` loads from its own files from
    an mmengine checkpoint dict (in place), and record their prefixes in
    ``checkpoint['meta'][FROZEN_META_KEY]``.

    Returns:
        The number of entries left out.
    """
    prefixes = frozen_pretrained_prefixes(model)
    state = checkpoint.get('state_dict')
    if not prefixes or not isinstance(state, Mapping):
        return 0
    left_out = [k for k in state if k.startswith(prefixes)]
    for key in left_out:
        del state[key]
    checkpoint.setdefault('meta', {})[FROZEN_META_KEY] = list(prefixes)
    return len(left_out)


def fill_frozen_weights(checkpoint: dict,
                        model: nn.Module,
                        *,
                        strict: bool = False,
                        source: str = 'checkpoint') -> int:
    """Put the frozen weights a slim checkpoint left out back into it (in
    place), from ``model`` as its config built it, i.e. from the encoders'
    own files.

    Args:
        checkpoint: an mmengine checkpoint dict (``state_dict`` entry).
        model: the unwrapped model the checkpoint is about to be loaded into.
        strict: first check that the checkpoint fits the model
            (:func:`check_state_dict`, the frozen-file exemption applied), as
            resuming needs: mmengine itself loads with ``strict=False``.
        source: name used in errors (the file).

    Returns:
        The number of entries filled in.
    """
    state = checkpoint.get('state_dict') if isinstance(checkpoint,
                                                       dict) else None
    if not isinstance(state, dict):
        return 0
    own = model.state_dict()
    prefixes = frozen_pretrained_prefixes(model)
    present = unwrap_state_dict(state, source=source)
    if strict:
        check_state_dict(own, present, exempt=prefixes, source=source)
    missing = [k for k in own if k.startswith(prefixes) and k not in present
               ] if prefixes else []
    for key in missing:
        state[key] = own[key]
    return len(missing)


def is_intact_checkpoint(filename: str) -> bool:
    """Whether a saved checkpoint file is complete, without unpickling it.

    ``torch.save`` writes a zip archive: a file cut short loses the central
    directory at its end, a damaged one fails its CRC checks. Files in the
    legacy (non-zip) format are checked by reading them.
    """
    if not osp.isfile(filename) or osp.getsize(filename) == 0:
        return False
    if zipfile.is_zipfile(filename):
        try:
            with zipfile.ZipFile(filename) as archive:
                return archive.testzip() is None
        except (zipfile.BadZipFile, OSError, EOFError):
            return False
    try:
        read_checkpoint(filename)
    except RefusedCheckpointError:
        return True  # complete; refused when it is actually loaded
    except CheckpointError:
        return False
    return True
