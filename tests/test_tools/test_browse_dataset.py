import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from projects.risam.datasets.refshapes import generate_refshapes

REPO = Path(__file__).parents[2]
TOOL = REPO / 'tools' / 'analysis_tools' / 'browse_dataset.py'


def browse(config, out, *extra):
    return subprocess.run(
        [sys.executable, str(TOOL), str(config), '--out', str(out), *extra],
        check=True, capture_output=True, text=True, cwd=REPO)


def test_browse_refshapes_config(tmp_path):
    data = tmp_path / 'refshapes'
    generate_refshapes(str(data), train=2, val=2, test=2, size=64,
                       progress=False)
    out = tmp_path / 'vis'
    browse(REPO / 'configs/risam/_base_/datasets/refshapes.py', out,
           '--split', 'testB', '--num', '3', '--cfg-options',
           f'test_dataloader.dataset.data_root={data}')
    files = sorted(out.glob('*.jpg'))
    assert len(files) == 3
    img = cv2.imread(str(files[0]))
    assert img.shape[1] == 384 and img.shape[0] > 384  # upscaled + text band
    assert img[:20].max() > 200  # white text on the black band


def test_browse_refer_fixture(tmp_path):
    """A hand-written refer-layout fixture (one image, one polygon)."""
    import json
    import pickle
    root = tmp_path / 'data'
    (root / 'refcoco').mkdir(parents=True)
    (root / 'imgs').mkdir()
    cv2.imwrite(str(root / 'imgs' / 'a.png'), np.full((40, 50, 3), 90,
                                                      np.uint8))
    inst = dict(images=[dict(id=1, file_name='a.png', height=40, width=50)],
                annotations=[dict(id=1, image_id=1, category_id=1,
                                  iscrowd=0,
                                  segmentation=[[5, 5, 30, 5, 30, 30, 5, 30]])
                             ],
                categories=[dict(id=1, name='x')])
    (root / 'refcoco' / 'instances.json').write_text(json.dumps(inst))
    refs = [dict(ref_id=1, ann_id=1, image_id=1, category_id=1, split='val',
                 sentences=[dict(sent_id=9, sent='the square')],
                 sent_ids=[9])]
    (root / 'refcoco' / 'refs(unc).p').write_bytes(pickle.dumps(refs))
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(
        "_base_ = ['{}']\n".format(
            REPO / 'configs/risam/_base_/datasets/refcoco.py') +
        f"test_dataloader = dict(dataset=dict(data_root='{root}', "
        "data_prefix=dict(img_path='imgs')))\n")
    out = tmp_path / 'vis'
    browse(cfg, out)
    files = list(out.glob('*.jpg'))
    assert [f.name for f in files] == ['00000_9.jpg']
    img = cv2.imread(str(files[0])).astype(int)
    band = img.shape[0] - 40 * 384 // 50
    # a pixel inside the polygon is tinted red, one outside is untouched grey
    inside = img[band + 17 * 384 // 50, 17 * 384 // 50]
    outside = img[band + 36 * 384 // 50, 45 * 384 // 50]
    assert inside[2] > inside[0] + 60
    assert abs(outside - 90).max() < 10
