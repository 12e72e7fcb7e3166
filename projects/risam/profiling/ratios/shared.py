"""``shared``: RISAM predict of one image with k = 7 sentences, one encoder
pass per sentence (``share_image_encoding=False``) against one pass."""
from typing import Dict

import torch

from ..timing import interleaved
from .common import SENTENCES, random_uint8_images, refer_samples, risam_model

__all__ = ['bench_shared']


def bench_shared(arch: dict, size: int, reps: int) -> Dict[str, object]:
    """``shared_encoding_speedup`` (per-sentence time / shared time),
    ``shared_identical_predictions`` (the 7 binary masks are equal) and
    ``shared_time_s``."""
    img = random_uint8_images(1, size, seed=1)[0]
    k = len(SENTENCES)
    preds, steps = [], []
    for share in (False, True):
        model = risam_model(arch, size, share_image_encoding=share).eval()

        def step(m=model):
            data = dict(inputs=[img] * k,
                        data_samples=refer_samples(size, [0] * k, SENTENCES))
            return m.test_step(data)

        with torch.no_grad():
            preds.append([d.pred_sem_seg.data for d in step()])  # + warm-up
        steps.append(step)
    with torch.no_grad():
        times = interleaved(*steps, reps=reps)
    same = all(torch.equal(a, b) for a, b in zip(*preds))
    return dict(shared_encoding_speedup=times[0] / times[1],
                shared_identical_predictions=same,
                shared_time_s=dict(per_sentence=times[0], shared=times[1]))
