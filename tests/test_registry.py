"""The installed plugin registers its names in mmseg's registries."""
import subprocess
import sys

import pytest
from mmseg.registry import DATASETS, METRICS, MODELS, TRANSFORMS

MODEL_NAMES = ['RISAM', 'SAMBackbone', 'CLIPTokenEncoder', 'MutualAwareFusion',
               'MutualAwareMaskDecoder']
DATASET_NAMES = ['ReferDataset', 'GReferDataset', 'PhraseCutDataset']


@pytest.mark.parametrize('registry,name', [
    *[(MODELS, n) for n in MODEL_NAMES],
    *[(DATASETS, n) for n in DATASET_NAMES],
    (TRANSFORMS, 'LoadReferAnnotations'),
    (METRICS, 'ReferMetric'),
])
def test_plugin_names_in_mmseg_registries(registry, name):
    cls = registry.get(name)
    assert cls is not None, f'{name} missing from mmseg {registry.name}'
    assert cls.__module__.startswith('projects.risam.')


def test_import_from_any_directory(tmp_path):
    """`import projects.risam` resolves to the installed package, once."""
    code = ('import projects.risam, mmseg.registry as r; '
            'print(projects.risam.__version__, '
            'r.MODELS.get("RISAM").__module__)')
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
            'print(r.MODELS.get("MutualAwareFusion") is not None)')
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == 'True'
