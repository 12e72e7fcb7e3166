"""PhraseCut (VGPhraseCut) referring segmentation.

Files read (as published)::

    <data_root>/refer_{train,val,test,miniv}.json   list of tasks:
        {task_id, image_id, phrase, ann_ids, instance_boxes,
         Polygons: [instance][polygon][[x, y], ...]}
    <data_root>/<data_prefix.img_path>/<image_id>.jpg

One sample per task; the target is the union of its instances' polygons
(converted to COCO polygon lists and decoded by pycocotools). Every polygon
must have at least 3 points and a non-zero area (:mod:`.validation`; the
task files do not give the image size, so "inside the image" is checked
when the mask is decoded).
"""
import os.path as osp
import re
from typing import List, Optional

from ..registry import DATASETS
from .base_refer_dataset import BaseReferDataset
from .refer_io import load_json, refer_error
from .validation import segmentation_problem

__all__ = ['PhraseCutDataset']


@DATASETS.register_module()
class PhraseCutDataset(BaseReferDataset):
    """PhraseCut tasks; ``text`` is the task's ``phrase``.

    Args:
        data_root (str): PhraseCut root.
        ann_file (str): A ``refer_<split>.json`` file.
        data_prefix (dict): ``img_path`` folder of ``<image_id>.jpg``.
        img_ext (str): Image file extension. Defaults to ``'.jpg'``.
        override_text, max_words, skip_invalid, group_by_image: see
            :class:`BaseReferDataset` (``text_key`` is unused).
    """

    #: a split is a file: ``split`` reads ``refer_<split>.json`` beside the
    #: configured ``ann_file``
    SPLITS = ('train', 'val', 'test', 'miniv')

    @classmethod
    def _set_split(cls, dataset_cfg: dict, split: str) -> None:
        folder = osp.dirname(dataset_cfg.get('ann_file', 'refer_test.json'))
        dataset_cfg['ann_file'] = osp.join(folder, f'refer_{split}.json')

    @classmethod
    def configured_split(cls, dataset_cfg: dict) -> str:
        name = osp.basename(dataset_cfg.get('ann_file', 'refer_test.json'))
        match = re.fullmatch(r'refer_(.+)\.json', name)
        return match.group(1) if match else osp.splitext(name)[0]

    def __init__(self,
                 data_root: Optional[str] = None,
                 ann_file: str = 'refer_test.json',
                 data_prefix: dict = dict(img_path='images'),
                 img_ext: str = '.jpg',
                 **kwargs) -> None:
        self.img_ext = img_ext
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            data_prefix=data_prefix,
            **kwargs)

    @staticmethod
    def _coco_polygons(instance: list) -> List[list]:
        """[[x, y], ...] polygons of one instance -> COCO flat lists (kept
        as they are otherwise, for validation)."""
        if not isinstance(instance, list):
            return instance
        return [[c for xy in poly for c in xy]
                if isinstance(poly, list) and all(
                    isinstance(xy, (list, tuple)) for xy in poly) else poly
                for poly in instance]

    def load_samples(self) -> List[dict]:
        tasks = load_json(self.ann_file, self.backend_args)
        if not isinstance(tasks, list):
            raise refer_error(self.ann_file, 'expected a list of tasks, got '
                              f'{type(tasks).__name__}')
        img_dir = self.data_prefix.get('img_path', '') or ''
        samples = []
        for i, task in enumerate(tasks):
            task_id = task.get('task_id', i) if isinstance(task, dict) else i
            if not isinstance(task, dict) or 'Polygons' not in task \
                    or 'image_id' not in task:
                raise refer_error(self.ann_file, f'task #{i} is not a '
                                  'PhraseCut task (needs image_id, Polygons)',
                                  ref_id=task_id)
            segms = [self._coco_polygons(inst) for inst in task['Polygons']]
            if not segms:
                self.invalid(self.ann_file, 'ref without target: no '
                             'instance polygons', ref_id=task_id)
                continue
            ann_ids = list(task.get('ann_ids') or [])
            bad = [(i, segmentation_problem(s, None, None))
                   for i, s in enumerate(segms)]
            bad = [(i, why) for i, why in bad if why]
            if bad:
                i, why = bad[0]
                self.invalid(self.ann_file, why, ref_id=task_id,
                             ann_id=ann_ids[i] if i < len(ann_ids)
                             else f'#{i}')
                continue
            text = self.read_sentence(task, self.ann_file, key='phrase',
                                      ref_id=task_id)
            if text is None:
                continue
            samples.append(
                dict(
                    img_path=osp.join(img_dir,
                                      f'{task["image_id"]}{self.img_ext}'),
                    img_id=task['image_id'],
                    ref_id=task_id,
                    sent_id=task_id,
                    ann_ids=ann_ids,
                    segmentations=segms,
                    height=None,
                    width=None,
                    no_target=False,
                    text=text,
                    expr_type=None))
        return samples
