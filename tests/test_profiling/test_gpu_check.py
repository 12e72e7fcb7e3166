"""projects.risam.profiling.gpu_check: every measurement of the GPU check,
run on the CPU, in its stable report layout."""
import copy

import torch

from projects.risam.profiling.gpu_check import (
    SCHEMA,
    SCHEMA_VERSION,
    measure_attention,
    measure_encoder,
    measure_training,
)
from projects.risam.profiling.report_schema import schema_errors

CPU = torch.device('cpu')


def test_report_schema(tiny):
    """A report assembled from CPU runs of every measurement conforms to
    the schema; a renamed or mistyped key does not."""
    _, model = tiny
    arch = dict(embed_dim=32, depth=4, num_heads=2,
                global_attn_indexes=(0, 1, 2, 3), img_size=64)
    report = dict(schema=SCHEMA_VERSION, device='cpu',
                  torch=torch.__version__, cuda='None', ddp=None)
    report['encoder'] = measure_encoder(CPU, arch=arch, size=64, batch=2,
                                        iters=1)
    report['attention'] = measure_attention(model, CPU, ['FLASH_ATTENTION'],
                                            size=128)
    report['train'] = measure_training(model, CPU, size=128, batch=2,
                                       iters=1, words=5)
    assert schema_errors(report, SCHEMA) == []
    for stat in ('per_sentence', 'image_grouped', 'cached'):
        assert report['train'][stat]['seconds_per_iter'] > 0
        assert report['train'][stat]['peak_memory_bytes'] == 0  # not CUDA
    assert report['encoder']['fp32']['images_per_s'] > 0
    assert report['encoder']['arch'] == str(arch)
    bad = copy.deepcopy(report)
    bad['train']['grouped'] = bad['train'].pop('image_grouped')
    bad['encoder']['fp32']['images_per_s'] = '3'
    assert sorted(schema_errors(bad, SCHEMA)) == [
        'encoder.fp32.images_per_s: str', 'train.grouped: not in the schema',
        'train.image_grouped: missing']
