"""Reading the published referring-segmentation annotation files safely.

The refer toolkit ships its splits as pickles (``refs(<splitBy>).p``: a list of
dicts of str/int/float/list). A pickle can run arbitrary code, so
:class:`RestrictedUnpickler` refuses every global: plain containers and
scalars load, anything else raises :class:`ReferFormatError` naming the file.
An equivalent ``.json`` file (same list of refs) is read with :mod:`json`.
"""
import io
import json
import os.path as osp
import pickle
from typing import Any, List, Optional

from mmengine import fileio

__all__ = [
    'ReferFormatError',
    'RestrictedUnpickler',
    'load_json',
    'load_plain_pickle',
    'load_refs',
    'refer_error'
]


class ReferFormatError(ValueError):
    """A refer-layout file or sample that cannot be used (one-line message)."""


def refer_error(file: str, message: str, **ids: Any) -> ReferFormatError:
    """Build a one-line error ``"<file> [ref_id=1 sent_id=2]: message"``."""
    tag = ' '.join(f'{k}={v}' for k, v in ids.items() if v is not None)
    where = f'{file} [{tag}]' if tag else str(file)
    return ReferFormatError(f'{where}: {message}'.replace('\n', ' '))


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that loads plain containers and scalars only.

    ``find_class`` is the only way a pickle reaches code (classes, functions,
    ``__reduce__``); refusing it leaves dict/list/tuple/set/str/bytes/int/
    float/bool/None, which is all a refs file contains.
    """

    def __init__(self, file: io.BufferedIOBase, filename: str = '<pickle>'):
        # py2 pickles of the refer toolkit store byte strings: decode as UTF-8.
        super().__init__(file, encoding='utf-8')
        self.filename = filename

    def find_class(self, module: str, name: str) -> Any:
        raise refer_error(
            self.filename, f'refused to unpickle global {module}.{name}: '
            'only plain containers (list/dict/str/int/float) are allowed')


def load_plain_pickle(filename: str,
                      backend_args: Optional[dict] = None) -> Any:
    """Load a pickle of plain containers with :class:`RestrictedUnpickler`."""
    raw = fileio.get(filename, backend_args=backend_args)
    try:
        return RestrictedUnpickler(io.BytesIO(raw), str(filename)).load()
    except ReferFormatError:
        raise
    except Exception as e:  # truncated / not a pickle
        raise refer_error(filename, f'not a readable pickle ({e!r})') from e


def load_json(filename: str, backend_args: Optional[dict] = None) -> Any:
    """Load a JSON file, raising a one-line error that names it."""
    try:
        text = fileio.get_text(filename, backend_args=backend_args)
    except FileNotFoundError as e:
        raise refer_error(filename, 'file not found') from e
    try:
        return json.loads(text)
    except ValueError as e:
        raise refer_error(filename, f'not valid JSON ({e})') from e


def load_refs(filename: str,
              backend_args: Optional[dict] = None) -> List[dict]:
    """Read ``refs(<splitBy>).p`` (restricted pickle) or an equivalent ``.json``.

    Returns:
        list[dict]: The refs, each a dict with at least ``ref_id``,
        ``image_id``, ``split`` and ``sentences``.
    """
    if not fileio.exists(filename, backend_args=backend_args):
        raise refer_error(filename, 'refs file not found')
    if osp.splitext(str(filename))[1].lower() == '.json':
        refs = load_json(filename, backend_args)
    else:
        refs = load_plain_pickle(filename, backend_args)
    if not isinstance(refs, list) or \
            not all(isinstance(r, dict) for r in refs):
        raise refer_error(
            filename, 'expected a list of refs (dicts), got '
            f'{type(refs).__name__}')
    return refs
