"""Save test predictions as overlays with their sentence (``--show-dir``)."""
import os
import os.path as osp
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmengine import fileio
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmseg.structures import SegDataSample

from projects.risam.visualization.overlay import overlay

from ...registry import HOOKS


@HOOKS.register_module()
class ReferVisualizationHook(Hook):
    """Write one PNG per test sample: prediction tinted, target outlined in
    green, the sentence on top.

    Files go to ``<work_dir>/<timestamp>/<show_dir>/<image>_<sent_id>.png``;
    a relative ``show_dir`` is resolved like mmdet's ``test_out_dir``, an
    absolute one is used as is. Nothing is drawn while ``draw`` is False (the
    default), so the hook costs nothing in ordinary runs.

    Args:
        draw: whether to write the pictures.
        interval: draw every ``interval``-th test batch.
        show_dir: output folder (see above).
        backend_args: mmengine fileio arguments for reading the images.
    """
    priority = 'NORMAL'

    def __init__(self,
                 draw: bool = False,
                 interval: int = 1,
                 show_dir: Optional[str] = None,
                 backend_args: Optional[dict] = None) -> None:
        self.draw = draw
        self.interval = interval
        self.show_dir = show_dir
        self.backend_args = backend_args

    def _out_dir(self, runner: Runner) -> str:
        show_dir = self.show_dir or 'show'
        if not osp.isabs(show_dir):
            show_dir = osp.join(runner.work_dir, runner.timestamp, show_dir)
        os.makedirs(show_dir, exist_ok=True)
        return show_dir

    def after_test_iter(self, runner: Runner, batch_idx: int,
                        data_batch: dict,
                        outputs: Sequence[SegDataSample]) -> None:
        if not self.draw or not self.every_n_inner_iters(
                batch_idx, self.interval):
            return
        out_dir = self._out_dir(runner)
        for sample in outputs:
            img = mmcv.imfrombytes(
                fileio.get(sample.img_path, backend_args=self.backend_args))
            pred = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
            gt = None
            if 'gt_sem_seg' in sample:
                gt = (sample.gt_sem_seg.data[0].cpu().numpy() == 1)
            vis = overlay(img, pred, sample.metainfo.get('text', ''), gt=gt)
            stem = osp.splitext(osp.basename(sample.img_path))[0]
            sent_id = sample.metainfo.get('sent_id', batch_idx)
            mmcv.imwrite(vis, osp.join(out_dir, f'{stem}_{sent_id}.png'))
