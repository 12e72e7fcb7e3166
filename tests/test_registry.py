"""RISAM's names live in the child scope ``risam`` of mmseg's registries."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS, METRICS, MODELS, TRANSFORMS

import projects.risam  # noqa: F401
from projects.risam import registry as risam_registry

MODEL_NAMES = ['RISAM', 'SAMBackbone', 'CLIPTokenEncoder', 'MutualAwareFusion',
               'MutualAwareMaskDecoder', 'FeatureEnhancement']
DATASET_NAMES = ['ReferDataset', 'GReferDataset', 'PhraseCutDataset']
CONFIGS = sorted(str(p) for p in Path('configs/risam').rglob('*.py')
                 if '_base_' not in p.parts)
# Public SAM plugins for mmseg register names like these in mmseg's own
# MODELS; a user may import one of them next to RISAM.
PLUGIN_NAMES = ['SAMBackbone', 'SAM', 'SAMEncoder', 'FeatureEnhancement']


@pytest.mark.parametrize('registry,name', [
    *[(MODELS, n) for n in MODEL_NAMES],
    *[(DATASETS, n) for n in DATASET_NAMES],
    (TRANSFORMS, 'LoadReferAnnotations'),
    (METRICS, 'ReferMetric'),
])
def test_names_resolve_with_the_risam_scope(registry, name):
    cls = registry.get(f'risam.{name}')
    assert cls is not None, f'risam.{name} missing from mmseg {registry.name}'
    assert cls.__module__.startswith('projects.risam.')
    # nothing of RISAM is registered in mmseg's own registry
    assert name not in registry.module_dict


def test_every_risam_registry_is_a_child_of_mmsegs():
    for name in ('MODELS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS',
                 'METRICS', 'HOOKS', 'OPTIM_WRAPPER_CONSTRUCTORS'):
        child = getattr(risam_registry, name)
        assert child.scope == 'risam'
        assert child.parent.scope == 'mmseg'
        for cls in child.module_dict.values():
            assert cls.__module__.startswith('projects.risam.')


def test_no_clash_with_same_named_plugins_and_other_codebases():
    """A plugin that registers ``SAMBackbone`` etc. in mmseg's MODELS, and
    mmpretrain's (and mmdet's, where installed) models imported next to
    RISAM, neither break RISAM's names nor are shadowed by them."""
    import mmpretrain.models  # noqa: F401
    if importlib.util.find_spec('mmdet') is not None:
        import mmdet.models  # noqa: F401
    impostors = {}
    for name in PLUGIN_NAMES:
        if name not in MODELS.module_dict:
            impostors[name] = type(name, (), {})
            MODELS.register_module(name=name, module=impostors[name])
    try:
        for name in PLUGIN_NAMES:
            ours = risam_registry.MODELS.module_dict.get(name)
            if ours is not None:
                assert MODELS.get(f'risam.{name}') is ours
            assert MODELS.get(name) is not ours
        assert MODELS.get('mmpretrain.SwinTransformer').__module__.startswith(
            'mmpretrain.')
    finally:
        for name in impostors:
            MODELS.module_dict.pop(name)


@pytest.mark.parametrize('path', CONFIGS)
def test_every_config_resolves_only_known_types(path):
    """Every ``type`` of every config (model, data, hooks, evaluator)
    resolves through mmseg's registries, after mmpretrain's models were
    imported too; RISAM's are reached through ``risam.`` only."""
    import mmpretrain.models  # noqa: F401
    from mmseg.registry import DATA_SAMPLERS, HOOKS, OPTIM_WRAPPER_CONSTRUCTORS, VISUALIZERS
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmseg'
    found = []

    def walk(node):
        if isinstance(node, dict):
            kind = node.get('type')
            if isinstance(kind, str):
                found.append(kind)
            for v in node.values():
                walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)

    walk(cfg.to_dict())
    registries = [MODELS, DATASETS, TRANSFORMS, METRICS, HOOKS, DATA_SAMPLERS,
                  VISUALIZERS]
    from mmengine.registry import (
        LOOPS,
        MODEL_WRAPPERS,
        OPTIM_WRAPPERS,
        OPTIMIZERS,
        PARAM_SCHEDULERS,
        VISBACKENDS,
        WEIGHT_INITIALIZERS,
    )
    registries += [LOOPS, MODEL_WRAPPERS, OPTIM_WRAPPERS, OPTIMIZERS,
                   PARAM_SCHEDULERS, WEIGHT_INITIALIZERS,
                   VISBACKENDS]
    for kind in found:
        hits = [r.get(kind) for r in registries]
        hits = [h for h in hits if h is not None]
        assert hits, f'{path}: type {kind!r} resolves nowhere'
        if any(h.__module__.startswith('projects.risam.') for h in hits):
            assert kind.startswith('risam.'), (path, kind)
    constructor = cfg.optim_wrapper.get('constructor')
    if constructor:
        assert OPTIM_WRAPPER_CONSTRUCTORS.get(constructor) is not None


def test_import_from_any_directory(tmp_path):
    """`import projects.risam` resolves to the installed package, once."""
    code = ('import projects.risam, mmseg.registry as r; '
            'print(projects.risam.__version__, '
            'r.MODELS.get("risam.RISAM").__module__)')
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    version, module = out.split()
    assert version == __import__('projects.risam').risam.__version__
    assert module == 'projects.risam.models.segmentors.risam'


def test_custom_imports_config_registers_plugin(tmp_path):
    """The documented mix-in entry point works from a user's own config."""
    cfg = tmp_path / 'user_cfg.py'
    cfg.write_text("custom_imports = dict(imports=['projects.risam'], "
                   "allow_failed_imports=False)\n")
    code = ('from mmengine.config import Config; import sys; '
            f'Config.fromfile({str(cfg)!r}); '
            'import mmseg.registry as r; '
            'print(r.MODELS.get("risam.MutualAwareFusion") is not None)')
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == 'True'
