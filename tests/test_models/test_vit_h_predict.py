"""The paper's ViT-H RefCOCO config builds and predicts one 1024 image on
CPU (random weights: the checkpoint paths are set to None)."""
import resource
import time

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

CFG = 'configs/risam/risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py'


@pytest.mark.slow
def test_vit_h_refcoco_predicts_one_image():
    cfg = Config.fromfile(CFG)
    cfg.model.backbone.checkpoint = None
    cfg.model.text_encoder.pretrained = None
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model).eval()
    img = torch.randint(0, 256, (3, 1024, 768), dtype=torch.uint8)
    ds = SegDataSample(metainfo=dict(text='the man in red on the left',
                                     img_shape=(1024, 768),
                                     ori_shape=(640, 480)))
    start = time.perf_counter()
    with torch.no_grad():
        out = model.test_step(dict(inputs=[img], data_samples=[ds]))[0]
    elapsed = time.perf_counter() - start
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f'ViT-H predict: {elapsed:.1f} s, peak RSS {peak_gib:.2f} GiB')
    assert out.pred_sem_seg.data.shape == (1, 640, 480)
    assert out.seg_logits.data.shape == (1, 640, 480)
    assert torch.isfinite(out.seg_logits.data).all()
