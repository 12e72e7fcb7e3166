"""projects.risam.profiling.build: random models from a config."""
import torch
from mmengine.config import Config

from projects.risam.models import RISAM, RISAMCore
from projects.risam.profiling.build import (
    build_core,
    build_risam,
    config_without_checkpoints,
    input_size,
    sam_encoder,
    with_sam_arch,
)
from projects.risam.profiling.synthetic_batch import make_batch
from projects.risam.profiling.training_step import total_loss

ARCH = dict(embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(0, 1))


def test_input_size_is_the_preprocessors(tiny_config):
    cfg = config_without_checkpoints(tiny_config)
    assert input_size(cfg.model) == 128
    assert input_size(dict(type='risam.RISAM')) == 1024


def test_config_without_checkpoints(tiny_config):
    cfg = config_without_checkpoints(tiny_config, threshold=0.5)
    assert cfg.model.backbone.checkpoint is None
    assert cfg.model.text_encoder.pretrained is None
    assert cfg.model.threshold == 0.5
    assert Config.fromfile(tiny_config).model.threshold == 0.35


def test_core_and_risam_of_one_config_are_one_model(tiny_config):
    """Same seed, same weights; the same loss on the same batch."""
    model_cfg = config_without_checkpoints(tiny_config).model
    core = build_core(model_cfg, torch.device('cpu'))
    risam = build_risam(model_cfg, share_image_encoding=False)
    assert type(core) is RISAMCore and type(risam) is RISAM
    assert risam.share_image_encoding is False
    assert model_cfg.get('share_image_encoding') is None  # not changed
    core_state = core.state_dict()
    for key, value in risam.state_dict().items():
        if key in core_state:
            torch.testing.assert_close(core_state[key], value, rtol=0, atol=0)
    inputs, samples = make_batch(2, 2, 128, 5, torch.device('cpu'), seed=3)
    core.train()
    risam.train()
    torch.testing.assert_close(total_loss(core(inputs, samples, mode='loss')),
                               total_loss(risam(inputs, samples, mode='loss')))


def test_with_sam_arch_leaves_the_original_alone(tiny_config):
    model_cfg = config_without_checkpoints(tiny_config).model
    before = model_cfg.backbone.arch.copy()
    cfg = with_sam_arch(model_cfg, ARCH, 64)
    assert cfg.backbone.arch == dict(ARCH, img_size=64, patch_size=16,
                                     window_size=14)
    assert cfg.backbone.init_pos_embed == 'sincos'
    assert cfg.data_preprocessor.size == (64, 64)
    assert cfg.data_preprocessor.test_cfg == dict(size=(64, 64))
    assert model_cfg.backbone.arch == before
    assert input_size(model_cfg) == 128


def test_sam_encoder_is_seeded_with_drawn_position_tables():
    a, b = sam_encoder(ARCH, 64), sam_encoder(ARCH, 64)
    assert not a.training
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), name
    rel = a.blocks[0].attn.rel_pos_h.detach()
    assert rel.abs().sum() > 0 and abs(float(rel.std()) - 0.1) < 0.05
    zero = sam_encoder(ARCH, 64, rel_pos_std=None)
    assert float(zero.blocks[0].attn.rel_pos_h.detach().abs().sum()) == 0.0
    out = a(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, 256, 4, 4)
