"""``interactive``: the web demo's speed (:class:`RISAMInferencer`): a
further sentence on an encoded image against the first sentence of a new
image, with the tiny demo model and the SAM ViT-B model, and the exported
ONNX prompt decoder against the same module in eager PyTorch."""
import tempfile
from typing import Dict, Tuple

import torch

from projects.risam.utils.peak_memory import reset_peak_rss, status_mb

from ..timing import interleaved
from .common import DEMO, QUICK_ARCH, SENTENCES, VIT_B_LEAF, VIT_B_MODEL

__all__ = ['bench_interactive', 'bench_onnx_decoder', 'bench_second_sentence',
           'interactive_config']


def interactive_config(name: str, quick: bool):
    """Full config (model + test pipeline) of the tiny demo model
    (``'tiny'``), or of the SAM ViT-B model with random weights and
    ``encoder_dtype='fp32'`` (``quick``: the demo model with the quick
    encoder at 64 px stands in for it)."""
    from mmengine.config import Config
    if name == 'tiny':
        return Config.fromfile(DEMO)
    if quick:
        cfg = Config.fromfile(DEMO)
        cfg.model.backbone.arch = dict(QUICK_ARCH, img_size=64,
                                       patch_size=16, window_size=14)
        return cfg
    cfg = Config.fromfile(VIT_B_LEAF)
    cfg.model = Config.fromfile(VIT_B_MODEL).model
    cfg.model.backbone.checkpoint = None
    cfg.model.backbone.encoder_dtype = 'fp32'
    cfg.model.text_encoder.pretrained = None
    return cfg


def bench_second_sentence(name: str, quick: bool, reps: int) -> Tuple[float, Dict[str, float],
                                                                     object]:
    """Time of a further sentence on an encoded image / time of the first
    sentence on a new image (encode + decode), the two times, and the
    inferencer."""
    from projects.risam.apis import RISAMInferencer
    torch.manual_seed(0)
    inferencer = RISAMInferencer(interactive_config(name, quick))
    size = inferencer.model.data_preprocessor.test_cfg['size']
    img = torch.randint(0, 256, (size[0] * 3 // 4, size[1], 3),
                        dtype=torch.uint8).numpy()
    embedding, _ = inferencer.encode(img)
    inferencer.segment(embedding, [SENTENCES[1]])  # warm-up

    def first():
        inferencer.clear_cache()
        inferencer.segment(inferencer.encode(img)[0], [SENTENCES[0]])

    def further():
        inferencer.segment(embedding, [SENTENCES[1]])

    t_first, t_further = interleaved(first, further, reps=reps)
    return t_further / t_first, dict(first=t_first, further=t_further), inferencer


def bench_onnx_decoder(inferencer, size: int, reps: int) -> Dict[str, object]:
    """onnxruntime / PyTorch eager time of the prompt-decoder graph (text
    tower, fusion, decoder; 7 sentences), their largest difference and the
    peak RSS growth of one call on each path."""
    from projects.risam.deployment import ONNXRISAM, export_onnx
    from projects.risam.deployment.onnx_export import PromptDecoderGraph, _export_mode
    model = inferencer.model
    image = torch.randn(1, 3, size, size)
    ids = model.text_encoder.tokenize(SENTENCES)
    with tempfile.TemporaryDirectory() as out_dir:
        export_onnx(model, out_dir, image=image, graphs=('decoder', ))
        runtime = ONNXRISAM(out_dir)
        decoder = PromptDecoderGraph(model=model).eval()
        with _export_mode():  # only for the features (no grad)
            features = tuple(model.extract_visual(image))
        np_features = [f.numpy() for f in features]
        np_ids = ids.numpy()

        def eager():
            with torch.no_grad():
                return decoder(ids, *features)

        def onnx():
            return runtime.decode(np_features, np_ids)

        diff = float((eager() - torch.from_numpy(onnx())).abs().max())
        peak = {}
        for name, run in (('torch_eager', eager), ('onnxruntime', onnx)):
            reset_peak_rss()  # after a warm run: the call's own peak
            before = status_mb('VmRSS')
            run()
            peak[name] = round(status_mb('VmHWM') - before, 1)
        t_eager, t_onnx = interleaved(eager, onnx, reps=reps)
    return dict(onnx_decoder_time_ratio=t_onnx / t_eager,
                onnx_decoder_max_abs_diff=diff,
                onnx_decoder_time_s=dict(torch_eager=t_eager, onnxruntime=t_onnx),
                onnx_decoder_peak_mib=peak)


def bench_interactive(quick: bool, onnx_size: int, reps: int) -> Dict[str, object]:
    """``second_sentence_time_ratio_{tiny,vit_b}`` and their times, then the
    ONNX decoder ratio on the ViT-B model (64 px with ``quick``)."""
    res = {}
    for name in ('tiny', 'vit_b'):
        ratio, times, inferencer = bench_second_sentence(name, quick, reps)
        res[f'second_sentence_time_ratio_{name}'] = ratio
        res[f'second_sentence_time_s_{name}'] = times
    res.update(bench_onnx_decoder(inferencer, 64 if quick else onnx_size, reps))
    return res
