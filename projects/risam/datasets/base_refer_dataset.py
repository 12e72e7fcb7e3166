"""Common behaviour of the referring-segmentation datasets.

Every dataset here yields one sample per (image, sentence) pair. A
sample's ``data_info`` holds::

    img_path      str        image file
    img_id        int|str    image id of the annotation file
    ref_id        int|str    the ref (object description) the sentence is from
    sent_id       int|str    the sentence id (unique in the dataset)
    ann_ids       list[int]  target annotations; [] means "no target"
    text          str        the sentence (after override_text/max_words)
    segmentations list       one COCO segmentation (polygons or RLE) per target
    height, width int|None   image size from the annotation file (None: read
                             it from the loaded image)
    no_target     bool       True when the sentence refers to nothing
    expr_type     str|None   expression type (RefShapes), None for real data

With ``group_by_image=True`` the samples of one image are merged into one
(``text``, ``sent_id``, ``ref_id``, ``ann_ids``, ``segmentations``,
``no_target``, ``expr_type`` become lists, one entry per sentence).
"""
import copy
from collections import Counter, OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine import fileio
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset

from .refer_io import ReferFormatError, refer_error
from .validation import image_problem

__all__ = ['BaseReferDataset']

PER_SENTENCE_KEYS = ('text', 'sent_id', 'ref_id', 'ann_ids', 'segmentations',
                     'no_target', 'expr_type')


class BaseReferDataset(BaseSegDataset):
    """Base class: sentence options, invalid-sample handling, image grouping.

    Args:
        text_key (str): Sentence field to read, ``'sent'`` (normalised,
            lower case) or ``'raw'``. Defaults to ``'sent'``.
        override_text (str, optional): Replace every sentence by this string
            (``''`` gives the language-blind control). Defaults to None.
        max_words (int, optional): Keep the first ``max_words``
            whitespace-separated words of each sentence. Defaults to None.
        skip_invalid (bool): Skip samples whose annotation is missing or
            invalid (the rules of :mod:`.validation`: polygons of fewer than
            3 points or no area inside the image, RLEs of another size, refs
            without a target), whose sentence is empty or whose image file
            does not exist, and log one line: how many and why. When False
            (default) such a sample raises a :class:`ReferFormatError`
            naming the file and ids.
        group_by_image (bool): One sample per image holding all its
            sentences. Defaults to False.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """

    METAINFO = dict(
        classes=('background', 'target'), palette=[[0, 0, 0], [220, 20, 60]])

    def __init__(self,
                 *,
                 text_key: str = 'sent',
                 override_text: Optional[str] = None,
                 max_words: Optional[int] = None,
                 skip_invalid: bool = False,
                 group_by_image: bool = False,
                 **kwargs) -> None:
        if text_key not in ('sent', 'raw'):
            raise ValueError(f"text_key must be 'sent' or 'raw', got "
                             f'{text_key!r}')
        self.text_key = text_key
        self.override_text = override_text
        self.max_words = max_words
        self.skip_invalid = skip_invalid
        self.group_by_image = group_by_image
        kwargs.setdefault('img_suffix', '')
        super().__init__(**kwargs)

    #: Splits a config of this dataset can be pointed at with
    #: :meth:`split_config` (``tools/test.py --splits``).
    SPLITS: Tuple[str, ...] = ()

    # -- splits -----------------------------------------------------------
    @classmethod
    def split_config(cls, dataset_cfg: dict, split: str) -> dict:
        """A copy of ``dataset_cfg`` that reads ``split``.

        Raises:
            ReferFormatError: ``split`` is not one of :attr:`SPLITS` (one
                line, naming the valid ones).
        """
        if split not in cls.SPLITS:
            raise ReferFormatError(
                f'{cls.__name__}: unknown split {split!r} (valid: '
                f'{", ".join(cls.SPLITS) or "none"})')
        cfg = copy.deepcopy(dataset_cfg)
        cls._set_split(cfg, split)
        return cfg

    @classmethod
    def _set_split(cls, dataset_cfg: dict, split: str) -> None:
        """Point ``dataset_cfg`` (in place) at ``split``."""
        raise NotImplementedError(f'{cls.__name__} has no splits')

    @classmethod
    def configured_split(cls, dataset_cfg: dict) -> str:
        """The split ``dataset_cfg`` reads as it is (a table row label)."""
        raise NotImplementedError(f'{cls.__name__} has no splits')

    # -- subclasses -------------------------------------------------------
    def load_samples(self) -> List[dict]:
        """Return one raw data_info per sentence (see module docstring).

        Invalid samples are reported with :meth:`invalid` rather than
        raised directly, so ``skip_invalid`` applies uniformly.
        """
        raise NotImplementedError

    # -- shared -----------------------------------------------------------
    def invalid(self, file: str, reason: str, count: int = 1,
                img_path: Optional[str] = None, **ids) -> None:
        """Raise (default) or count (``skip_invalid=True``) a bad sample.

        ``reason`` reads ``"<kind>: <details>"``; the summary line counts
        the skipped refs (or images) per kind and the samples in all.
        ``count`` is the number of samples (sentences) dropped with it, and
        ``img_path`` its image when known. Skipped ones are listed in
        :attr:`skipped`.
        """
        error = refer_error(file, reason, **ids)
        if not self.skip_invalid:
            raise error
        kind = reason.split(':')[0]
        self._skipped[kind] += 1
        self.skipped.append(
            dict(kind=kind, message=str(error), samples=count,
                 img_path=img_path))

    def read_sentence(self, sentence: dict, file: str, key: str = None,
                      **ids) -> Optional[str]:
        """The sentence text under ``key`` (default ``text_key``); None if
        empty (reported)."""
        key = key or self.text_key
        text = sentence.get(key) if isinstance(sentence, dict) else None
        if not isinstance(text, str) or not text.strip():
            self.invalid(file, f'empty sentence under key {key!r}', **ids)
            return None
        return self.finish_text(text)

    def finish_text(self, text: str) -> str:
        """Apply ``override_text`` and ``max_words`` to one sentence."""
        if self.override_text is not None:
            return self.override_text
        text = ' '.join(text.split())
        if self.max_words is not None:
            text = ' '.join(text.split(' ')[:self.max_words])
        return text

    def load_data_list(self) -> List[dict]:
        self._skipped: Counter = Counter()
        #: with ``skip_invalid``: one dict per skipped ref or image, with
        #: ``kind``, ``message`` (one line naming file and ids), ``samples``
        #: (sentences dropped) and ``img_path`` (None when unknown).
        self.skipped: List[dict] = []
        samples = self.load_samples()
        if self.skip_invalid:
            samples = self._drop_missing_images(samples)
            if self._skipped:
                why = ', '.join(f'{n} {r}' for r, n in self._skipped.items())
                print_log(
                    f'{type(self).__name__}: skipped '
                    f'{sum(r["samples"] for r in self.skipped)} invalid '
                    f'samples ({why})', logger='current')
        if not samples:
            raise refer_error(self.ann_file, 'no valid samples left'
                              + (f' (skipped: {dict(self._skipped)})'
                                 if self._skipped else ''))
        for info in samples:
            info.setdefault('seg_fields', [])
            info['label_map'] = self.label_map
            info['reduce_zero_label'] = self.reduce_zero_label
        if self.group_by_image:
            samples = self._group(samples)
        return samples

    def _drop_missing_images(self, samples: List[dict]) -> List[dict]:
        exists: Dict[str, bool] = {}
        missing: Counter = Counter()
        kept = []
        for info in samples:
            path = info['img_path']
            if path not in exists:
                exists[path] = fileio.exists(
                    path, backend_args=self.backend_args)
            if exists[path]:
                kept.append(info)
            else:
                missing[path] += 1
        for path, count in missing.items():
            self.invalid(path, 'missing image: file not found', count=count,
                         img_path=path)
        return kept

    @staticmethod
    def _group(samples: List[dict]) -> List[dict]:
        groups: 'OrderedDict[Tuple, dict]' = OrderedDict()
        for info in samples:
            key = (info['img_path'], info['img_id'])
            if key not in groups:
                groups[key] = {
                    k: v
                    for k, v in info.items() if k not in PER_SENTENCE_KEYS
                }
                groups[key].update({k: [] for k in PER_SENTENCE_KEYS})
            for k in PER_SENTENCE_KEYS:
                groups[key][k].append(info.get(k))
        return list(groups.values())

    def prepare_data(self, idx: int):
        """Run the pipeline; a failure names the image and the ids."""
        info = self.get_data_info(idx)
        try:
            return self.pipeline(info)
        except ReferFormatError:
            raise
        except Exception as e:
            path = info.get('img_path', '?')
            problem = image_problem(path) if isinstance(path, str) else None
            raise refer_error(
                path, problem
                or f'failed to load sample ({type(e).__name__}: {e})',
                ref_id=info.get('ref_id'),
                sent_id=info.get('sent_id')) from e

    @staticmethod
    def check_choice(file: str, name: str, value: str,
                     choices: Sequence[str]) -> None:
        if value not in choices:
            raise refer_error(
                file, f'unknown {name} {value!r} (expected one of '
                f'{", ".join(choices)})')
