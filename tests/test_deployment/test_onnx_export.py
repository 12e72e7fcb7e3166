"""ONNX export: both graphs under onnxruntime against PyTorch."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from projects.risam.apis import RISAMInferencer, init_refer_model, prepare_image
from projects.risam.deployment import ONNXRISAM, check_onnx, export_onnx, passes

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'
VIT_B = REPO / 'configs/risam/_base_/models/risam_sam-vit-b.py'
TEXTS = ['the red shape', 'the biggest one on the left', 'top right',
         'the small blue circle']


def _median_threshold(model, image, texts):
    """A threshold that splits the PyTorch probabilities in half, so that
    the mask comparison is between non-trivial masks (random weights)."""
    with torch.no_grad():
        visual = tuple(v.expand(len(texts), -1, -1, -1)
                       for v in model.extract_visual(image))
        logits = model.decode(visual, model.extract_text(texts))
    return float(logits.sigmoid().median())


def test_tiny_export_passes_its_onnxruntime_check(tmp_path, tiny_checkpoint,
                                                  export_tool):
    ckpt = tiny_checkpoint
    out = tmp_path / 'onnx'
    export_tool(TINY, ckpt, out)
    meta = json.loads((out / 'risam_onnx.json').read_text())
    assert meta['input_size'] == [128, 128] and meta['max_tokens'] == 17
    assert meta['features'] == [[64, 16, 16]]

    # the same files, checked again on masks that are not all-on/all-off,
    # with another number of sentences than the traced two
    model = init_refer_model(str(TINY), str(ckpt))
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (100, 128, 3), np.uint8)
    image, metainfo = prepare_image(model, img)
    model.threshold = _median_threshold(model, image, TEXTS)
    figures = check_onnx(model, str(out), image=image, metainfo=metainfo,
                         texts=TEXTS)
    print(figures)
    assert passes(figures)
    assert figures['num_sentences'] == 4
    assert figures['encoder_max_abs_diff'] < 1e-4
    total = len(TEXTS) * 100 * 128
    assert 0.2 * total < figures['mask_pixels'] < 0.8 * total

    # a second run refuses to overwrite the export
    with pytest.raises(SystemExit, match='exists'):
        export_tool(TINY, ckpt, out)


def _onnx_masks(out_dir, text_encoder, path, texts, threshold):
    """A deployment written from ``risam_onnx.json`` alone: cv2 resize of
    the longest side to S, normalise, pad, the two graphs under
    onnxruntime, then upsample, crop and resize to the image, threshold.
    Returns (logits N x H x W, masks N x H x W) at the original size."""
    meta = json.loads((out_dir / 'risam_onnx.json').read_text())
    size_h, size_w = meta['input_size']
    bgr = cv2.imread(str(path))
    h, w = bgr.shape[:2]
    scale = min(size_h / h, size_w / w)
    new_h, new_w = int(h * scale + 0.5), int(w * scale + 0.5)
    img = cv2.resize(bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    if meta['bgr_to_rgb']:
        img = img[..., ::-1]
    img = (img.astype(np.float32) - meta['mean']) / meta['std']
    padded = np.full((size_h, size_w, 3), meta['pad_val'], np.float32)
    padded[:new_h, :new_w] = img
    image = np.ascontiguousarray(padded.transpose(2, 0, 1)[None])
    runtime = ONNXRISAM(str(out_dir))
    ids = text_encoder.tokenize(list(texts)).numpy()
    logits = torch.from_numpy(runtime.decode(runtime.encode(image), ids))
    logits = F.interpolate(logits, size=(size_h, size_w), mode='bilinear',
                           align_corners=False)[..., :new_h, :new_w]
    logits = F.interpolate(logits, size=(h, w), mode='bilinear',
                           align_corners=False)[:, 0]
    return logits, (logits.sigmoid() > threshold).to(torch.uint8)


def test_onnx_masks_equal_model_predict_and_inferencer(tmp_path,
                                                       tiny_checkpoint):
    """End to end from an image file: the exported graphs with their own
    pre/post-processing give the masks of ``model.predict`` (the config's
    test pipeline and data preprocessor) and of ``RISAMInferencer``."""
    ckpt = tiny_checkpoint
    path = tmp_path / 'img.png'  # 90 x 60: resized by 128 / 90 to 128 x 85
    cv2.imwrite(str(path), np.random.default_rng(5).integers(
        0, 256, (90, 60, 3), np.uint8))
    model = init_refer_model(str(TINY), str(ckpt))
    image, metainfo = prepare_image(model, str(path))
    assert tuple(metainfo['img_shape']) == (128, 85)
    model.threshold = _median_threshold(model, image, TEXTS)
    out = tmp_path / 'onnx'
    export_onnx(model, str(out), image=image)

    with torch.no_grad():
        predicted = [
            model.predict(image, [SegDataSample(
                metainfo=dict(metainfo, text=t))])[0] for t in TEXTS
        ]
    want_logits = torch.cat([p.seg_logits.data for p in predicted])
    want = torch.cat([p.pred_sem_seg.data for p in predicted])
    assert want_logits.shape == (len(TEXTS), 90, 60)
    total = want.numel()
    assert 0.2 * total < int(want.sum()) < 0.8 * total  # non-trivial masks

    logits, masks = _onnx_masks(out, model.text_encoder, path, TEXTS,
                                model.threshold)
    assert (logits - want_logits).abs().max() < 1e-3
    assert (masks == want).float().mean() >= 0.999

    inferencer = RISAMInferencer(str(TINY), str(ckpt),
                                 threshold=model.threshold)
    for got, ref in zip(inferencer.predict(str(path), TEXTS), predicted):
        torch.testing.assert_close(got.seg_logits.data, ref.seg_logits.data)
        assert torch.equal(got.pred_sem_seg.data, ref.pred_sem_seg.data)


@pytest.mark.slow
def test_sam_vit_b_architecture_export(tmp_path):
    """The paper's ViT-B model (SAM ViT-B encoder, CLIP ViT-B/16 text tower,
    random weights) at a 256 px input to keep the test short."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(VIT_B)).model
    cfg.backbone.checkpoint = None
    cfg.text_encoder.pretrained = None
    torch.manual_seed(0)
    model = MODELS.build(cfg).eval()
    with torch.no_grad():  # SAM inits its rel-pos tables to zero
        for name, p in model.backbone.named_parameters():
            if 'rel_pos' in name:
                p.normal_(0, 0.1)
    size = 256
    image = torch.randn(1, 3, size, size)
    image[..., 192:, :] = 0  # bottom padding of a 256 x 192 image
    metainfo = dict(ori_shape=(192, 256), img_shape=(192, 256),
                    pad_shape=(size, size), batch_input_shape=(size, size))
    export_onnx(model, str(tmp_path), image=image)
    model.threshold = _median_threshold(model, image, TEXTS[:3])
    figures = check_onnx(model, str(tmp_path), image=image,
                         metainfo=metainfo, texts=TEXTS[:3])
    print(figures)
    assert passes(figures)
    runtime = ONNXRISAM(str(tmp_path))
    assert runtime.decoder.get_inputs()[0].shape[0] == 'num_sentences'
