"""tools/analysis_tools/prediction_grid.py: which samples the grid shows."""
import importlib.util

from .conftest import REPO


def _pick():
    path = REPO / 'tools/analysis_tools/prediction_grid.py'
    spec = importlib.util.spec_from_file_location('prediction_grid', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.pick_samples


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
