"""projects.risam.profiling.gpu_check: its measurements, run on the CPU,
in their stable layouts (the whole check: tests/test_tools/)."""
import copy

import torch

from projects.risam.profiling.gpu_check import (
    LAYOUTS,
    measure_attention,
    measure_encoder,
    measure_training,
)
from projects.risam.profiling.report_schema import schema_errors

CPU = torch.device('cpu')


def test_measurements_follow_their_layouts(tiny):
    """The encoder, attention and train results of CPU runs conform to
    their layouts; a renamed or mistyped key does not."""
    _, model = tiny
    arch = dict(embed_dim=32, depth=4, num_heads=2,
                global_attn_indexes=(0, 1, 2, 3), img_size=64)
    encoder = measure_encoder(dict(type='risam.SAMBackbone', arch=arch),
                              CPU, size=64, batch=2, iters=1)
    attention = measure_attention(model, CPU, ['FLASH_ATTENTION'], size=128,
                                  words=5)
    attention['training_step'] = 'not on CUDA'
    train = measure_training(model, CPU, size=128, batch=2, iters=1,
                             words=5)
    assert schema_errors(encoder, LAYOUTS['encoder']) == []
    assert schema_errors(attention, LAYOUTS['attention']) == []
    assert schema_errors(train, LAYOUTS['train']) == []
    for stat in ('per_sentence', 'image_grouped', 'cached', 'forward'):
        assert train[stat]['seconds_per_iter'] > 0
        assert train[stat]['peak_memory_bytes'] == 0  # not CUDA
    assert encoder['fp32']['images_per_s'] > 0
    assert encoder['arch'] == str(arch)
    bad = copy.deepcopy(train)
    bad['grouped'] = bad.pop('image_grouped')
    bad['forward']['seconds_per_iter'] = '3'
    assert sorted(schema_errors(bad, LAYOUTS['train'])) == [
        'forward.seconds_per_iter: str', 'grouped: not in the schema',
        'image_grouped: missing']
