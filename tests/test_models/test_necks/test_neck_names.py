"""The necks' names and import paths that configs and users rely on: every
``risam.<Neck>`` still builds, from the paper's ``necks/`` or from
``necks/ablations/``, and the ablation necks' old module paths
(``projects.risam.models.necks.<module>``) still import the same classes."""
import importlib

import pytest
import torch

from projects.risam.models import necks
from projects.risam.models.necks import ablations
from projects.risam.registry import MODELS

# name -> (the smallest arguments, the folder of its module)
NECKS = {
    'FeatureEnhancement': (dict(in_channels=8, out_channels=4), 'necks'),
    'MutualAwareFusion': (dict(in_channels=8, text_channels=6, channels=4),
                          'necks'),
    'BidirectionalCrossModalFusion': (
        dict(in_channels=8, text_channels=6, channels=4), 'ablations'),
    'ConcatConvFusion': (dict(in_channels=8, text_channels=6, channels=4),
                         'ablations'),
    'FeatureResampleAdapter': (dict(in_channels=[8, 8], out_channels=4),
                               'ablations'),
    'LinearProjectionNeck': (dict(in_channels=8, text_channels=6, channels=4),
                             'ablations'),
    'SimpleFeaturePyramidNeck': (dict(in_channels=8, out_channels=4),
                                 'ablations'),
    'SpatialDynamicFusion': (dict(in_channels=8, text_channels=6, channels=4),
                             'ablations'),
    'TransformerEncoderFusion': (
        dict(in_channels=8, text_channels=6, channels=4, num_heads=2,
             feedforward_channels=8), 'ablations'),
}


@pytest.mark.parametrize('name', sorted(NECKS))
def test_every_risam_neck_name_builds(name):
    kwargs, folder = NECKS[name]
    neck = MODELS.build(dict(type=f'risam.{name}', **kwargs))
    cls = getattr(necks, name)
    assert type(neck) is cls
    assert cls.__module__.split('.')[-2] == folder
    torch.manual_seed(0)
    direct = cls(**kwargs)
    torch.manual_seed(0)
    built = MODELS.build(dict(type=f'risam.{name}', **kwargs))
    assert built.state_dict().keys() == direct.state_dict().keys()
    for key, value in direct.state_dict().items():
        torch.testing.assert_close(built.state_dict()[key], value)


@pytest.mark.parametrize('module', ablations.MODULES)
def test_old_module_paths_import_the_moved_modules(module):
    old = importlib.import_module(f'projects.risam.models.necks.{module}')
    assert old is importlib.import_module(
        f'projects.risam.models.necks.ablations.{module}')


def test_old_module_path_in_a_from_import():
    from projects.risam.models.necks.spatial_dynamic_fusion import (
        SpatialDynamicBlock,
        SpatialDynamicFusion,
    )
    assert SpatialDynamicFusion is ablations.SpatialDynamicFusion
    assert SpatialDynamicFusion.block_type is SpatialDynamicBlock


def test_the_paper_modules_stay_in_necks():
    """What ``ls necks/`` shows: the paper's modules and their shared base."""
    from pathlib import Path
    folder = Path(necks.__file__).parent
    assert sorted(p.stem for p in folder.glob('*.py')) == [
        '__init__', 'block_stack_fusion', 'feature_enhancement',
        'linguistic_positional_encoding', 'mutual_aware_attention',
        'mutual_aware_fusion']
    assert sorted(p.stem for p in (folder / 'ablations').glob('*.py')) == \
        sorted(('__init__',) + ablations.MODULES)
