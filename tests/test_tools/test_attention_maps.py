"""tools/analysis_tools/attention_maps.py: the files it writes are the
library's maps; other necks and a bad box are one line. The ratio tool
reports each block."""
import json

import cv2
import numpy as np

from projects.risam.apis import init_refer_model
from projects.risam.visualization.attention_maps import attention_maps

from .conftest import DEMO_CONFIG

TOOL = 'analysis_tools/attention_maps.py'


def test_tool_writes_the_maps_of_the_model(refshapes_root, tiny_checkpoint,
                                           tmp_path, tool_exit):
    image = sorted((refshapes_root / 'images').glob('*.png'))[8]
    out = tmp_path / 'out'
    args = [DEMO_CONFIG, tiny_checkpoint, image, 'the blue shape']
    assert tool_exit(TOOL, *args, '--out', out, '--box', '0,0,64,32',
                     '--block', '1') == ''
    model = init_refer_model(str(DEMO_CONFIG), str(tiny_checkpoint))
    maps = attention_maps(model, str(image), 'the blue shape', block=1)
    np.testing.assert_array_equal(np.load(out / 'attention.npy'),
                                  maps.attention)
    np.testing.assert_array_equal(np.load(out / 'mask.npy'), maps.mask)
    meta = json.loads((out / 'attention.json').read_text())
    weights, _ = maps.region_weights((0, 0, 64, 32))
    assert meta['block'] == 1 and meta['box'] == [0, 0, 64, 32]
    assert meta['words'][2] == 'blue'
    np.testing.assert_allclose(meta['word_weights'], weights, atol=1e-6)
    assert cv2.imread(str(out / 'word_weights.png')) is not None

    refusals = {
        ('--cfg-options', 'model.neck.type=risam.SpatialDynamicFusion'):
            'neck is SpatialDynamicFusion',
        ('--box', '1,2,3'): '--box must be x,y,w,h',
    }
    for extra, message in refusals.items():
        error = tool_exit(TOOL, *args, '--out', out, *extra)
        assert message in error and '\n' not in error, error


def test_ratio_tool_reports_each_block(refshapes_root, tiny_checkpoint,
                                       tmp_path, tool_exit, capsys):
    out = tmp_path / 'ratio.json'
    assert tool_exit('analysis_tools/attention_ratio.py', DEMO_CONFIG,
                     tiny_checkpoint, '--data-root', refshapes_root,
                     '--limit', '3', '--out', out) == ''
    report = json.loads(out.read_text())
    assert [report[b]['all']['n'] for b in ('block1', 'block2')] == [3, 3]
    assert 'colour word    n=3' in capsys.readouterr().out
