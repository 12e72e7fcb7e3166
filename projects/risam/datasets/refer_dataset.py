"""RefCOCO / RefCOCO+ / RefCOCOg / RefCLEF (and RefShapes) in the refer layout.

Files read (unchanged, as published by the refer toolkit)::

    <data_root>/<dataset>/refs(<splitBy>).p   pickled list of refs (or .json):
        {ref_id, ann_id, image_id, category_id, split,
         sentences: [{sent_id, sent, raw, tokens[, type]}], sent_ids}
    <data_root>/<dataset>/instances.json      COCO: images {id, file_name,
        height, width}, annotations {id, image_id, segmentation, iscrowd}
    <data_root>/<data_prefix.img_path>/<file_name>

A sentence's optional ``type`` (RefShapes: colour, shape, colour_shape,
position, size) is kept as ``expr_type``.

Every target annotation of the split is validated against its image's size
when the dataset is built (:mod:`.validation`); a ref must have at least one
target (gRefCOCO's ``[-1]`` no-target refs excepted) and a list of
sentences.
"""
import os.path as osp
import re
from typing import Dict, List, Optional

from ..registry import DATASETS
from .base_refer_dataset import BaseReferDataset
from .refer_io import load_json, load_refs, refer_error
from .validation import segmentation_problem

__all__ = ['SPLITS', 'SPLIT_BYS', 'ReferDataset']


def _json_name(value) -> str:
    """How a value reads in the annotation file (``null``, ``[]``...)."""
    return 'null' if value is None else (
        repr(value) if not isinstance(value, (list, dict)) else
        f'an empty {type(value).__name__}' if not value else
        f'a {type(value).__name__}')

SPLITS = ('train', 'val', 'test', 'testA', 'testB', 'testC')
SPLIT_BYS = ('unc', 'google', 'umd', 'berkeley')
_REF_KEYS = ('ref_id', 'image_id', 'split', 'sentences')


@DATASETS.register_module()
class ReferDataset(BaseReferDataset):
    """Referring segmentation in the refer layout: one sample per sentence.

    Args:
        data_root (str): Root joined to ``ann_file``, ``split_file`` and
            ``data_prefix``.
        ann_file (str): COCO ``instances.json``.
        split_file (str): ``refs(<splitBy>).p`` or an equivalent ``.json``.
            splitBy is read from the name and must be one of unc, google,
            umd, berkeley when the name has that form.
        split (str): train, val, test, testA, testB (testC for refclef).
        data_prefix (dict): ``img_path`` folder of the images.
        text_key, override_text, max_words, skip_invalid, group_by_image:
            see :class:`BaseReferDataset`.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """

    #: whether ``ann_id == [-1]`` (no target) is legal (gRefCOCO).
    allow_no_target = False
    #: a split is the ``split`` field of the refs in ``split_file``; which of
    #: these a file holds depends on its splitBy (unc: train/val/testA/testB,
    #: umd: train/val/test, google: train/val), and loading a split the
    #: file does not hold fails naming the ones it does.
    SPLITS = SPLITS

    @classmethod
    def _set_split(cls, dataset_cfg: dict, split: str) -> None:
        dataset_cfg['split'] = split

    @classmethod
    def configured_split(cls, dataset_cfg: dict) -> str:
        return dataset_cfg.get('split', 'val')

    def __init__(self,
                 data_root: Optional[str] = None,
                 ann_file: str = 'instances.json',
                 split_file: str = 'refs(unc).p',
                 split: str = 'val',
                 data_prefix: dict = dict(img_path='images'),
                 **kwargs) -> None:
        if data_root is not None and not osp.isabs(split_file):
            split_file = osp.join(data_root, split_file)
        self.split_file = split_file
        self.split = split
        self.check_choice(split_file, 'split', split, SPLITS)
        match = re.search(r'refs\((.*)\)', osp.basename(split_file))
        if match:
            self.check_choice(split_file, 'splitBy', match.group(1),
                              SPLIT_BYS)
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            data_prefix=data_prefix,
            **kwargs)

    @staticmethod
    def _ann_ids(ref: dict) -> List[int]:
        ann = ref.get('ann_id')
        return [int(a) for a in ann] if isinstance(ann, (list, tuple)) \
            else [int(ann)]

    def _ann_problem(self, ann: dict, image: dict) -> Optional[str]:
        """:func:`segmentation_problem` of one annotation, cached by id."""
        if ann['id'] not in self._ann_problems:
            segm = ann.get('segmentation')
            self._ann_problems[ann['id']] = (
                'missing segmentation: the annotation has none'
                if segm is None else segmentation_problem(
                    segm, image.get('height'), image.get('width')))
        return self._ann_problems[ann['id']]

    def load_samples(self) -> List[dict]:
        refs = load_refs(self.split_file, self.backend_args)
        coco = load_json(self.ann_file, self.backend_args)
        if not isinstance(coco, dict) or 'images' not in coco \
                or 'annotations' not in coco:
            raise refer_error(self.ann_file, 'not a COCO instances file '
                              '(needs "images" and "annotations")')
        images: Dict[int, dict] = {im['id']: im for im in coco['images']}
        anns: Dict[int, dict] = {a['id']: a for a in coco['annotations']}
        img_dir = self.data_prefix.get('img_path', '') or ''

        in_split = []
        for i, ref in enumerate(refs):
            missing = [k for k in _REF_KEYS if k not in ref]
            if missing or 'ann_id' not in ref:
                raise refer_error(
                    self.split_file, f'ref #{i} is not a ref (missing '
                    f'{", ".join(missing or ["ann_id"])})',
                    ref_id=ref.get('ref_id'))
            if ref['split'] == self.split:
                in_split.append(ref)
        if not in_split:
            present = sorted({str(r['split']) for r in refs})
            raise refer_error(
                self.split_file, f'no refs in split {self.split!r} '
                f'(present: {", ".join(present)})')

        samples = []
        self._ann_problems: Dict[int, Optional[str]] = {}
        for ref in in_split:
            ref_id = ref['ref_id']
            sentences = ref['sentences']
            if not isinstance(sentences, list) or not sentences:
                self.invalid(self.split_file, 'no sentences: "sentences" is '
                             f'{_json_name(sentences)}', count=0,
                             ref_id=ref_id)
                continue
            n = len(sentences)
            ann_ids = self._ann_ids(ref)
            no_target = ann_ids == [-1]
            if no_target:
                if not self.allow_no_target:
                    self.invalid(self.ann_file, 'missing annotation: ann_id '
                                 '-1 (no target) in a single-target dataset',
                                 count=n, ref_id=ref_id)
                    continue
                ann_ids = []
            elif not ann_ids:
                self.invalid(self.split_file, 'ref without target: ann_id '
                             'is [] (no annotation)', count=n, ref_id=ref_id)
                continue
            lost = [a for a in ann_ids if a not in anns]
            if lost:
                self.invalid(self.ann_file, f'missing annotation: ann_id '
                             f'{lost[0]} not in the annotation file',
                             count=n, ref_id=ref_id)
                continue
            image = images.get(ref['image_id'])
            if image is None:
                self.invalid(self.ann_file, f'missing image: image_id '
                             f'{ref["image_id"]} not in the annotation file',
                             count=n, ref_id=ref_id)
                continue
            img_path = osp.join(img_dir, image['file_name'])
            bad = [(a, self._ann_problem(anns[a], image)) for a in ann_ids]
            bad = [(a, why) for a, why in bad if why]
            if bad:
                self.invalid(self.ann_file, bad[0][1], count=n,
                             img_path=img_path, ref_id=ref_id,
                             ann_id=bad[0][0])
                continue
            base = dict(
                img_path=img_path,
                img_id=ref['image_id'],
                ref_id=ref_id,
                ann_ids=ann_ids,
                segmentations=[anns[a]['segmentation'] for a in ann_ids],
                height=image.get('height'),
                width=image.get('width'),
                no_target=no_target)
            for sentence in sentences:
                sent_id = sentence.get('sent_id') \
                    if isinstance(sentence, dict) else None
                text = self.read_sentence(
                    sentence, self.split_file, ref_id=ref_id, sent_id=sent_id)
                if text is None:
                    continue
                samples.append(
                    dict(
                        base,
                        sent_id=sent_id,
                        text=text,
                        expr_type=sentence.get('type')))
        return samples
