"""tools/analysis_tools/prediction_grid.py: which samples the grid shows."""
import importlib.util

from .conftest import REPO


def _mod():
    path = REPO / 'tools/analysis_tools/prediction_grid.py'
    spec = importlib.util.spec_from_file_location('prediction_grid', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _pick():
    return _mod().pick_samples


def test_every_expression_type_gets_its_share():
    pick = _pick()
    # 10 colour, 3 position, 7 size: a plain even spread of 6 would show
    # no position sample at all
    types = ['colour'] * 10 + ['position'] * 3 + ['size'] * 7
    assert pick(types, 6) == [0, 9, 10, 12, 13, 19]
    # more tiles than samples of a type: all of them
    assert pick(types, 12) == [0, 3, 6, 9, 10, 11, 12, 13, 15, 17, 19]


def test_without_types_samples_are_spread_evenly():
    pick = _pick()
    assert pick([None] * 9, 3) == [0, 4, 8]
    assert pick([None] * 2, 5) == [0, 1]
    assert pick([], 4) == []


def test_generalized_rows_for_multi_and_no_target_sentences():
    mod = _mod()
    infos = [
        dict(expr_type='colour', no_target=False, ann_ids=[1]),
        dict(expr_type='colour', no_target=True, ann_ids=[]),
        dict(expr_type='multi_except', no_target=False, ann_ids=[1, 2]),
        dict(expr_type='position', no_target=False, ann_ids=[3]),
        dict(expr_type=None, no_target=False, ann_ids=[1, 2]),
    ]
    labels = [mod.group_label(i) for i in infos]
    assert labels == ['colour', 'no target', 'multi-target', 'position',
                      None]
    # one row of 4 per group: RefShapes' 5 types give today's 20 tiles,
    # generalized RefShapes 5 + multi-target + no target = 7 rows
    assert mod.default_num(labels[:4], 4) == 16
    assert mod.default_num(['colour', 'shape', 'colour_shape', 'position',
                            'size'], 4) == 20
    assert mod.default_num(labels, 4) == 20
    assert mod.default_num([], 4) == 20
