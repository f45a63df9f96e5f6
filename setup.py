"""Packaging for hwr. Everything is read from settings.ini (nbdev 2 layout).

The dataset descriptions in `data/raw/<name>/metadata.toml` are shipped inside the
wheel as the package `hwr.metadata`, so a pip-installed hwr knows where every
dataset comes from even without a checkout; the papermill template and the example
experiment and sweep files of `nbs/experiments/` ship as `hwr.templates`.
"""
from configparser import ConfigParser
import setuptools, shlex

config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

cfg_keys = 'version description keywords author author_email'.split()
expected = cfg_keys + "lib_name user branch license status min_python audience language".split()
for o in expected: assert o in cfg, "missing expected setting: {}".format(o)
setup_cfg = {o: cfg[o] for o in cfg_keys if cfg[o].strip()}   # no placeholder e-mail: an empty setting is left out

licenses = {
    'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License'),
}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable', '6 - Mature', '7 - Inactive']
py_versions = '3.10 3.11 3.12'.split()

requirements = shlex.split(cfg.get('requirements', ''))
if cfg.get('pip_requirements'): requirements += shlex.split(cfg.get('pip_requirements', ''))
min_python = cfg['min_python']
lic = licenses.get(cfg['license'].lower(), (cfg['license'], None))
dev_requirements = (cfg.get('dev_requirements') or '').split()
export_requirements = (cfg.get('export_requirements') or '').split()   # hwr-export's ONNX writer and reader
serve_requirements = (cfg.get('serve_requirements') or '').split()     # hwr-serve's web framework and server
course_requirements = shlex.split(cfg.get('course_requirements', ''))  # training, fonts, widgets, experiments: the course

packages = setuptools.find_packages(include=['hwr', 'hwr.*'])
setuptools.setup(
    name=cfg['lib_name'],
    license=lic[0],
    classifiers=[
        'Development Status :: ' + statuses[int(cfg['status']) - 1],    # status 3 is '3 - Alpha'
        'Intended Audience :: ' + cfg['audience'].title(),
        'Natural Language :: ' + cfg['language'].title(),
    ] + ['Programming Language :: Python :: ' + o for o in py_versions[py_versions.index(min_python):]]
      + (['License :: ' + lic[1]] if lic[1] else []),
    **({'url': cfg['homepage']} if cfg.get('homepage') else {}),    # no placeholder URL
    packages=packages + ['hwr.metadata', 'hwr.templates'],
    package_dir={'hwr.metadata': 'data/raw', 'hwr.templates': 'nbs/experiments'},
    package_data={'hwr.metadata': ['*/metadata.toml', 'csafe/lines.tsv'], 'hwr': ['weights/*.weights.h5', 'weights/*.json', 'weights/*.npz', 'weights/*.onnx'],
                  'hwr.templates': ['train.ipynb', 'sample.json', '*.yaml']},   # the papermill template and example configs
    include_package_data=False,
    install_requires=requirements,
    extras_require={'dev': dev_requirements + course_requirements, 'course': course_requirements, 'export': export_requirements,
                    'serve': serve_requirements},
    dependency_links=cfg.get('dep_links', '').split(),
    python_requires='>=' + cfg['min_python'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={
        'console_scripts': cfg.get('console_scripts', '').split(),
        'nbdev': [f'{cfg.get("lib_path")}={cfg.get("lib_path")}._modidx:d'],
    },
    **setup_cfg)
