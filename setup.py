"""Install the RISAM plugin for mmsegmentation 1.x.

``pip install -e ".[tests]"`` installs the namespace package ``projects.risam``
(there is deliberately no ``projects/__init__.py``), so
``custom_imports=dict(imports=['projects.risam'])`` works from any directory.
"""
from pathlib import Path
from typing import List

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).resolve().parent


def parse_requirements(name: str) -> List[str]:
    """Read ``requirements/<name>.txt``, skipping comments and ``-r`` lines."""
    reqs = []
    for line in (HERE / 'requirements' / f'{name}.txt').read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if line and not line.startswith('-'):
            reqs.append(line)
    return reqs


def read_version() -> str:
    namespace: dict = {}
    exec((HERE / 'projects/risam/version.py').read_text(), namespace)
    return namespace['__version__']


setup(
    name='risam',
    version=read_version(),
    description='RISAM: referring image segmentation with SAM, as an '
    'mmsegmentation 1.x plugin',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_namespace_packages(include=['projects.risam', 'projects.risam.*']),
    include_package_data=True,
    install_requires=parse_requirements('runtime') + parse_requirements('mminstall'),
    extras_require={
        'tests': parse_requirements('tests') + parse_requirements('demo'),
        'demo': parse_requirements('demo'),
        'optional': parse_requirements('optional'),
        'all': parse_requirements('tests') + parse_requirements('demo') +
        parse_requirements('optional'),
    },
    zip_safe=False,
)
