"""tools/dataset_converters/check_data.py on a broken and a clean download."""
import json
import pickle
import runpy
import shutil
import sys

import cv2

from projects.risam.datasets.reference_counts import REFERENCE_COUNTS, reference_key

from .conftest import DEMO_CONFIG, REPO, data_options

TOOL = REPO / 'tools/dataset_converters/check_data.py'


def check_data(*args) -> str:
    """Run the checker in-process; return its exit message ('' = ok)."""
    argv = sys.argv
    sys.argv = [str(TOOL), *map(str, args)]
    try:
        runpy.run_path(str(TOOL), run_name='__main__')
    except SystemExit as e:
        return '' if e.code in (None, 0) else str(e.code)
    finally:
        sys.argv = argv
    return ''


def _table(out: str) -> dict:
    """``{split: (sentences, images)}`` from the printed table."""
    rows = {}
    for line in out.splitlines():
        cells = line.split()
        if cells and cells[0] in ('train', 'val', 'testA', 'testB'):
            rows[cells[0]] = (int(cells[1].replace(',', '')),
                              int(cells[3].replace(',', '')))
    return rows


def test_clean_refshapes_passes_with_the_generators_counts(
        refshapes_root, capsys):
    msg = check_data(DEMO_CONFIG, '--cfg-options',
                     *data_options(refshapes_root))
    out = capsys.readouterr().out
    assert msg == '' and 'check_data: ok' in out
    with open(refshapes_root / 'refs(unc).p', 'rb') as f:
        refs = pickle.load(f)  # the generator's own file
    expected = {}
    for split in ('train', 'val', 'testA', 'testB'):
        mine = [r for r in refs if r['split'] == split]
        expected[split] = (sum(len(r['sentences']) for r in mine),
                           len({r['image_id'] for r in mine}))
    # generate_refshapes(train=8, val=4, test=4): testA/testB 2 images each
    assert [v[1] for v in expected.values()] == [8, 4, 2, 2]
    assert _table(out) == expected


def test_broken_download_names_each_problem(refshapes_root, tmp_path,
                                            capsys):
    root = tmp_path / 'refshapes'
    shutil.copytree(refshapes_root, root)
    images = sorted((root / 'images').glob('*.png'))
    missing, truncated = images[0], images[9]
    missing.unlink()
    data = truncated.read_bytes()
    truncated.write_bytes(data[:len(data) // 2])
    instances = json.loads((root / 'instances.json').read_text())
    ann = instances['annotations'][-1]  # an object of a testB image
    ann['segmentation'] = [[10, 10, 20, 20, 30, 30]]  # a line: no area
    (root / 'instances.json').write_text(json.dumps(instances))

    msg = check_data(DEMO_CONFIG, '--cfg-options', *data_options(root))
    out = capsys.readouterr().out
    assert msg == 'check_data: 3 problem(s) listed above'
    problems = [s.strip() for s in out.splitlines() if s.startswith('  ')]
    assert f'{missing}: missing image: file not found' in problems
    assert any(p.startswith(f'{truncated}: truncated image')
               for p in problems)
    assert any(f'ann_id={ann["id"]}]: zero-area polygon' in p
               for p in problems)
    assert len(problems) == 3
    # the missing image's sentences still count towards the split's total
    assert sum(v[0] for v in _table(out).values()) == sum(
        len(r['sentences'])
        for r in pickle.loads((refshapes_root / 'refs(unc).p').read_bytes()))
    assert cv2.imread(str(missing)) is None


def test_reference_table_and_strict_counts(refshapes_root, tmp_path,
                                           capsys):
    """A RefCOCO-named copy of RefShapes is checked against the published
    RefCOCO counts: a warning, and an error with --strict."""
    assert REFERENCE_COUNTS['refcoco(unc)']['train'] == (120624, 16994)
    assert reference_key(dict(type='ReferDataset',
                              split_file='data/refcocog/refs(umd).p')) == \
        'refcocog(umd)'
    assert reference_key(dict(type='risam.PhraseCutDataset')) == 'phrasecut'
    assert reference_key(dict(split_file='refs(unc).p')) is None
    root = tmp_path / 'data'
    shutil.copytree(refshapes_root / 'images', root / 'images')
    (root / 'refcoco').mkdir()
    for name in ('instances.json', 'refs(unc).p'):
        shutil.copy(refshapes_root / name, root / 'refcoco' / name)
    opts = [*data_options(root)] + [
        f'{loader}_dataloader.dataset.{k}=refcoco/{v}'
        for loader in ('train', 'val', 'test')
        for k, v in (('ann_file', 'instances.json'),
                     ('split_file', 'refs(unc).p'))]
    msg = check_data(DEMO_CONFIG, '--split', 'val', '--cfg-options', *opts)
    out = capsys.readouterr().out
    assert msg == '' and '(refcoco(unc))' in out
    assert 'warning: counts differ from the published ones (val)' in out
    assert '10,834' in out and '1,500' in out
    msg = check_data(DEMO_CONFIG, '--split', 'val', '--strict',
                     '--cfg-options', *opts)
    assert msg == ('check_data: counts differ from the published ones '
                   '(val)')


def test_whole_split_missing_names_the_folder_and_first_files(
        refshapes_root, tmp_path, capsys):
    """Every train image absent (the images sit elsewhere than the config
    says): the checker names the folder it searched and missing files."""
    root = tmp_path / 'refshapes'
    shutil.copytree(refshapes_root, root)
    with open(root / 'refs(unc).p', 'rb') as f:
        refs = pickle.load(f)
    instances = json.loads((root / 'instances.json').read_text())
    files = {im['id']: im['file_name'] for im in instances['images']}
    train = sorted({files[r['image_id']] for r in refs
                    if r['split'] == 'train'})
    assert len(train) == 8
    for name in train:
        (root / 'images' / name).unlink()

    msg = check_data(DEMO_CONFIG, '--split', 'train', 'val',
                     '--cfg-options', *data_options(root))
    out = capsys.readouterr().out
    assert msg == 'check_data: 2 problem(s) listed above'
    problems = [s.strip() for s in out.splitlines() if s.startswith('  ')]
    assert problems[0].startswith('split train: ') and \
        'no valid samples left' in problems[0]
    first = ', '.join(str(root / 'images' / n) for n in train[:3])
    assert problems[1] == (f'split train: no image found under '
                           f'{root / "images"} (data_prefix.img_path); '
                           f'first missing: {first} and 5 more')
    assert _table(out)['val'][1] == 4  # the intact split is still checked
