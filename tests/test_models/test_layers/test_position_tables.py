"""Fixed position tables are built once per shape, on the device, and are
no module state (checkpoint keys unchanged)."""
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from projects.risam.models.layers import (
    PositionTables,
    sincos_pos_embed_1d,
    sincos_pos_embed_2d,
)
from projects.risam.models.necks import LinguisticPositionalEncoding

TINY = 'configs/risam/_base_/models/risam_tiny.py'


def test_tables_equal_the_formula_and_are_built_once_per_shape():
    built = []

    def build(*shape, device):
        built.append((shape, torch.device(device).type))
        return sincos_pos_embed_2d(*shape, device=device)

    tables = PositionTables(build)
    x = torch.zeros(2, 3, dtype=torch.float64)
    first = tables(4, 6, 8, like=x)
    assert tables(4, 6, 8, like=x) is first  # kept
    assert first.dtype == torch.float64
    torch.testing.assert_close(first.float(), sincos_pos_embed_2d(4, 6, 8))
    # row 2, column 5, channel 0: sin(2 w_0) = sin(2); channel 4: sin(5)
    assert abs(float(first[0, 2, 5, 0]) - torch.tensor(2.).sin().item()) < 1e-7
    assert abs(float(first[0, 2, 5, 4]) - torch.tensor(5.).sin().item()) < 1e-7
    tables(4, 7, 8, like=x)
    tables(4, 6, 8, like=x.float())
    meta = tables(4, 6, 8, like=torch.zeros(1, device='meta'))
    assert meta.device.type == 'meta'
    assert built == [((4, 6, 8), 'cpu'), ((4, 7, 8), 'cpu'),
                     ((4, 6, 8), 'cpu'), ((4, 6, 8), 'meta')]
    assert len(tables) == 4


def test_a_table_first_built_under_inference_mode_serves_training():
    pe = LinguisticPositionalEncoding(channels=8)
    words = torch.randn(2, 5, 8)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    with torch.inference_mode():
        pe(words, mask)
    text = words.clone().requires_grad_()
    out = pe(text, mask)
    out.sum().backward()  # an inference tensor here would raise
    want = words + sincos_pos_embed_1d(5, 8)[None] * mask[..., None]
    torch.testing.assert_close(out.detach(), want)


def test_checkpoint_keys_do_not_hold_the_tables():
    init_default_scope('mmseg')
    cfg = Config.fromfile(TINY).model
    cfg.neck.text_pos_embed = True
    cfg.decode_head.image_pos_embed = True
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    before = set(model.state_dict())
    model.eval()
    with torch.no_grad():
        visual = model.extract_visual(torch.zeros(1, 3, 128, 128))
        model.decode(visual, model.extract_text(['the red one']))
    assert len(model.decode_head._pos_tables) == 1
    assert set(model.state_dict()) == before
    assert not any('pos_tables' in k or '_tables' in k for k in before)
