"""cfg.sync_bn stays for NCCL and is dropped, with a log line, elsewhere."""
import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger

from projects.risam.utils.sync_bn import resolve_sync_bn

PAPER = 'configs/risam/risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py'


def test_paper_config_asks_for_torch_sync_bn():
    assert Config.fromfile(PAPER).sync_bn == 'torch'


@pytest.mark.parametrize('backend,kept', [('nccl', 'torch'), (None, 'torch'),
                                          ('gloo', None)])
def test_resolve_sync_bn(backend, kept, capsys):
    MMLogger.get_instance('sync_bn_test')
    cfg = Config(dict(sync_bn='torch'))
    assert resolve_sync_bn(cfg, backend) == kept
    assert cfg.get('sync_bn') == kept
    out = capsys.readouterr()
    logged = out.out + out.err
    assert ('dropped' in logged and 'gloo' in logged) == (kept is None)


def test_no_sync_bn_is_left_alone():
    cfg = Config(dict(model=dict()))
    assert resolve_sync_bn(cfg, 'gloo') is None and 'sync_bn' not in cfg
