"""ONNX export of RISAM in two graphs, split the way SAM is deployed.

* ``image_encoder.onnx``: ``image 1 x 3 x S x S`` (normalised, padded, as
  the data preprocessor makes it) -> ``features_0 .. features_{k-1}``, the
  visual backbone with its trained enhancement (``backbone.enhance(
  backbone.encode(x))``, e.g. ``F_v 1 x C x S/p x S/p``). Run once per image.
* ``prompt_decoder.onnx``: ``features_*`` of one image and ``token_ids
  N x L`` (int64, ``text_encoder.tokenize``) -> ``mask_logits N x 1 x h x w``
  (pre-sigmoid, at the decoder's resolution), with a dynamic number ``N``
  of sentences. It holds the text tower, the fusion neck and the mask
  decoder. Run once per batch of sentences.

Pre-processing (resize, normalise, pad), tokenisation and the
post-processing of :meth:`RISAM.postprocess_result` (upsample, crop the pad,
resize to the image, ``sigmoid > threshold``) stay outside the graphs;
``risam_onnx.json`` beside them records what they need.
"""
import contextlib
import copy
import json
import os
import os.path as osp
import warnings
from typing import Dict, Iterator, List, Sequence, Tuple

import numpy as np
import torch
from mmseg.structures import SegDataSample
from segment_anything.modeling.image_encoder import Attention
from torch import Tensor, nn

from ..models.backbones.base_visual_backbone import BaseVisualBackbone
from ..models.layers.sam_sdpa_attention import SAMSDPAttention

ENCODER_FILE = 'image_encoder.onnx'
DECODER_FILE = 'prompt_decoder.onnx'
META_FILE = 'risam_onnx.json'


def _reference_attention(attn: SAMSDPAttention) -> Attention:
    """segment_anything's ``Attention`` with the weights of ``attn``.

    The SDPA kernel works on ``3-D`` ``(B*heads) x N x d`` tensors, which
    the ONNX exporter cannot lower; the reference module computes the same
    function with plain matmuls.
    """
    size = None
    if attn.use_rel_pos:
        size = ((attn.rel_pos_h.shape[0] + 1) // 2,
                (attn.rel_pos_w.shape[0] + 1) // 2)
    ref = Attention(attn.qkv.in_features, num_heads=attn.num_heads,
                    qkv_bias=attn.qkv.bias is not None,
                    use_rel_pos=attn.use_rel_pos, input_size=size)
    ref.load_state_dict(attn.state_dict())
    return ref


class ImageEncoderGraph(nn.Module):
    """``image 1 x 3 x S x S`` -> the backbone's features (tuple)."""

    def __init__(self, *, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = copy.deepcopy(backbone).eval()
        for module in self.backbone.modules():
            for name, child in module.named_children():
                if isinstance(child, SAMSDPAttention):
                    setattr(module, name, _reference_attention(child))

    def forward(self, image: Tensor) -> Tuple[Tensor, ...]:
        bb = self.backbone
        if isinstance(bb, BaseVisualBackbone):
            return tuple(bb.enhance(bb.encode(image)))
        return tuple(bb(image))


class PromptDecoderGraph(nn.Module):
    """``(features_* 1 x C x h x w, token_ids N x L)`` -> ``N x 1 x h' x w'``
    mask logits: text tower, fusion and decoder of a RISAM model."""

    def __init__(self, *, model: nn.Module) -> None:
        super().__init__()
        self.text_encoder = model.text_encoder
        self.neck = model.neck
        self.decode_head = model.decode_head

    def forward(self, token_ids: Tensor, *features: Tensor) -> Tensor:
        n = token_ids.shape[0]
        visual = tuple(f.expand(n, -1, -1, -1) for f in features)
        tokens, mask = self.text_encoder.encode_ids(token_ids)
        lav, val = self.neck(visual, tokens, mask)
        return self.decode_head(lav, val, mask)


@contextlib.contextmanager
def _export_mode() -> Iterator[None]:
    """No MHA fast path (``_native_multi_head_attention`` has no ONNX
    symbolic), no grad, quiet tracer."""
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
            warnings.filterwarnings('ignore', category=DeprecationWarning)
            warnings.filterwarnings('ignore', category=UserWarning)
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)


def _export(module: nn.Module, args: tuple, path: str, inputs: List[str],
            outputs: List[str], dynamic: Dict[str, Dict[int, str]],
            opset: int) -> None:
    # TorchScript exporter; TrainingMode.PRESERVE on an eval() model keeps
    # BatchNormalization nodes: its eval-mode folding of BN into the
    # decoder's ConvTranspose2d gives wrong logits (max diff ~4).
    torch.onnx.export(module, args, path, input_names=inputs,
                      output_names=outputs, dynamic_axes=dynamic,
                      opset_version=opset, dynamo=False,
                      training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=True)


def export_onnx(model: nn.Module, out_dir: str, *, image: Tensor,
                texts: Sequence[str] = ('the red shape', 'the left one'),
                opset: int = 17,
                graphs: Sequence[str] = ('encoder', 'decoder')) -> dict:
    """Write the graphs of an eval-mode RISAM ``model`` into ``out_dir``.

    Args:
        image: an example ``1 x 3 x S x S`` model input (fixes ``S``).
        texts: example sentences for tracing (``N`` stays dynamic).
        graphs: which of ``'encoder'``, ``'decoder'`` to write.

    Returns:
        The metadata also written to ``risam_onnx.json``.
    """
    os.makedirs(out_dir, exist_ok=True)
    model = model.eval()
    encoder = ImageEncoderGraph(backbone=model.backbone)
    decoder = PromptDecoderGraph(model=model)
    with _export_mode():
        features = encoder(image)
        ids = model.text_encoder.tokenize(list(texts))
        names = [f'features_{i}' for i in range(len(features))]
        if 'encoder' in graphs:
            _export(encoder, (image, ), osp.join(out_dir, ENCODER_FILE),
                    ['image'], names, {}, opset)
        if 'decoder' in graphs:
            _export(decoder, (ids, *features), osp.join(out_dir, DECODER_FILE),
                    ['token_ids'] + names, ['mask_logits'],
                    dict(token_ids={0: 'num_sentences'},
                         mask_logits={0: 'num_sentences'}), opset)
    pre = model.data_preprocessor
    meta = dict(
        encoder=ENCODER_FILE, decoder=DECODER_FILE, opset=opset,
        input_size=list(image.shape[-2:]),
        mean=pre.mean.view(-1).tolist() if pre._enable_normalize else None,
        std=pre.std.view(-1).tolist() if pre._enable_normalize else None,
        bgr_to_rgb=bool(pre.channel_conversion), pad_val=float(pre.pad_val),
        max_tokens=int(ids.shape[1]), threshold=float(model.threshold),
        features=[list(f.shape[1:]) for f in features])
    with open(osp.join(out_dir, META_FILE), 'w') as f:
        json.dump(meta, f, indent=2)
    return meta


def _session(path: str):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(path, options,
                                providers=['CPUExecutionProvider'])


class ONNXRISAM:
    """The exported graphs under onnxruntime, called like the model's
    :meth:`extract_visual` / :meth:`decode` (numpy in, numpy out)."""

    def __init__(self, out_dir: str) -> None:
        self.encoder = _session(osp.join(out_dir, ENCODER_FILE)) if osp.isfile(
            osp.join(out_dir, ENCODER_FILE)) else None
        self.decoder = _session(osp.join(out_dir, DECODER_FILE))

    def encode(self, image: np.ndarray) -> List[np.ndarray]:
        return self.encoder.run(None, dict(image=image))

    def decode(self, features: Sequence[np.ndarray],
               token_ids: np.ndarray) -> np.ndarray:
        feeds = {f'features_{i}': f for i, f in enumerate(features)}
        return self.decoder.run(None, dict(feeds, token_ids=token_ids))[0]


def check_onnx(model: nn.Module, out_dir: str, *, image: Tensor,
               metainfo: dict, texts: Sequence[str]) -> dict:
    """Compare the graphs under onnxruntime with PyTorch on the same inputs.

    Args:
        image: ``1 x 3 x S x S`` model input; ``metainfo`` its metainfo
            (``ori_shape``, ``img_shape``) for the masks at image size.
        texts: sentences (use a count other than the export's to exercise
            the dynamic axis).

    Returns:
        ``encoder_max_abs_diff`` (features), ``decoder_max_abs_diff``
        (logits, both graphs fed the same PyTorch features),
        ``end_to_end_max_abs_diff`` (logits, ONNX features into the ONNX
        decoder), ``mask_agreement`` (fraction of equal pixels of the binary
        masks at the original image size, end to end), ``num_sentences``.
    """
    runtime = ONNXRISAM(out_dir)
    model = model.eval()
    with _export_mode():
        features = ImageEncoderGraph(backbone=model.backbone)(image)
        ids = model.text_encoder.tokenize(list(texts))
        logits = PromptDecoderGraph(model=model)(ids, *features)
    figures = dict(num_sentences=len(texts))
    np_features = [f.numpy() for f in features]
    if runtime.encoder is not None:
        onnx_features = runtime.encode(image.numpy())
        figures['encoder_max_abs_diff'] = max(
            float(np.abs(a - b).max())
            for a, b in zip(onnx_features, np_features))
    else:
        onnx_features = np_features
    same_input = runtime.decode(np_features, ids.numpy())
    end_to_end = runtime.decode(onnx_features, ids.numpy())
    figures['decoder_max_abs_diff'] = float(
        np.abs(same_input - logits.numpy()).max())
    figures['end_to_end_max_abs_diff'] = float(
        np.abs(end_to_end - logits.numpy()).max())

    def masks(values: Tensor) -> Tensor:
        samples = [SegDataSample(metainfo=dict(metainfo)) for _ in texts]
        out = model.postprocess_result(values, samples)
        return torch.stack([s.pred_sem_seg.data for s in out])

    ours, theirs = masks(logits), masks(torch.from_numpy(end_to_end))
    figures['mask_agreement'] = float((ours == theirs).float().mean())
    figures['mask_pixels'] = int(ours.sum())
    return figures


def passes(figures: dict, *, max_logit_diff: float = 1e-3,
           min_mask_agreement: float = 0.999) -> bool:
    """The acceptance rule: decoder and end-to-end logits within
    ``max_logit_diff``, masks equal on ``>= min_mask_agreement``."""
    return (figures['decoder_max_abs_diff'] <= max_logit_diff
            and figures['end_to_end_max_abs_diff'] <= max_logit_diff
            and figures['mask_agreement'] >= min_mask_agreement)


__all__ = [
    'ONNXRISAM',
    'ImageEncoderGraph',
    'PromptDecoderGraph',
    'check_onnx',
    'export_onnx',
    'passes',
]
