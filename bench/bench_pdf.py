"""The dev pages as one PDF, read by `hwr-predict` as the image files are.

    python bench/bench_pdf.py [--dpi N]

Puts the whole pages of ../shared/realink-dev/pages into one PDF the way a scanning app does (each
page one image, saved without loss at 300 DPI: `hwr.pdf.pdf_of_images`), then reads the image files
and the PDF with `hwr-predict --model page --json` (greedy) and prints, page by page, whether the
two readings are the same text, and the seconds each took. Without `--dpi` the PDF's pages are read
as the scans they are (their own pixels); `--dpi N` draws every page at N DPI instead, which
resamples it. Results go to bench/results/pdf.json. Without the dev folder it says so and stops.
"""
from __future__ import annotations
import argparse, contextlib, io, json, os, sys, tempfile, time
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT.parent/'shared'/'realink-dev'/'pages'
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.tif', '.tiff')


def _read(args: list[str]) -> tuple[list[str], float]:
    "The texts `hwr-predict --json` reads for `args`, and the seconds it took."
    from hwr.cli import main
    out, t0 = io.StringIO(), time.perf_counter()
    with contextlib.redirect_stdout(out): rc = main(['--model', 'page', '--json', *args])
    if rc != 0: raise SystemExit(f"hwr-predict failed on {args} (exit status {rc})")
    text = out.getvalue()
    return [r['text'] for r in json.loads(text[text.index('['):])], time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--dpi', type=int, default=None, help='draw every PDF page at this DPI (default: read scanned pages as they are)')
    ap.add_argument('--out', default=str(ROOT/'bench'/'results'/'pdf.json'))
    a = ap.parse_args(argv)
    if not PAGES.is_dir():
        print(f"no dev pages at {PAGES}: nothing to measure"); return 0
    from PIL import Image
    from hwr.pdf import pdf_of_images
    from hwr.util import move_into_place
    files = sorted(p for p in PAGES.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    with tempfile.TemporaryDirectory() as d:
        pdf = Path(d)/'dev_pages.pdf'
        pdf.write_bytes(pdf_of_images([Image.open(p) for p in files], 300))
        from_images, t_images = _read([str(p) for p in files])
        from_pdf, t_pdf = _read([str(pdf)] + (['--dpi', str(a.dpi)] if a.dpi else []))
    rows = [{'page': p.name, 'same_text': x == y} for p, x, y in zip(files, from_images, from_pdf)]
    res = {'date': time.strftime('%Y-%m-%d %H:%M'), 'dpi': a.dpi or 'as scanned', 'pages': len(files),
           'same_text': sum(r['same_text'] for r in rows), 'seconds_images': round(t_images, 1), 'seconds_pdf': round(t_pdf, 1),
           'rows': rows}
    for r in rows: print(f"{r['page']:24} {'same text' if r['same_text'] else 'DIFFERENT'}")
    print(f"{res['same_text']} of {res['pages']} pages read the same from the PDF ({res['dpi']}) as from the image files; "
          f"{t_images:.1f} s for the images, {t_pdf:.1f} s for the PDF")
    fd, tmp = tempfile.mkstemp(dir=Path(a.out).parent, suffix='.part')
    with os.fdopen(fd, 'w') as f: json.dump(res, f, indent=1)
    move_into_place(tmp, a.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
