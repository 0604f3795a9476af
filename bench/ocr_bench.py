"""OCR on our own scan set (`bench.scans`): the regulation as image-only PDFs (clean and noisy, at
300 and 200 dpi) and as a photo of its first page, each parsed by `ingest.parse.parse_file` with an
empty OCR cache, then again from the cache; prints per scan the pages, OCR pages/s, whether the
article labels are exactly those of the text original, the character error rate (CER) of the
article texts and of the whole text, and the re-parse time. Also the time a .doc takes through
LibreOffice, when it is installed.

    python -m bench ocr [-- --repeat N]
Targets: CER ≤ 1% and exact article labels on clean 300-dpi scans; a re-parse never OCRs again.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench import scans


def _scan_set(folder: Path) -> list[tuple[str, Path, int]]:
    """(name, file, pages) of every scan of the set, written into `folder`."""
    out = []
    for name, dpi, noise in (("clean 300 dpi", 300, scans.CLEAN), ("noisy 300 dpi", 300, scans.NOISY),
                             ("clean 200 dpi", 200, scans.CLEAN), ("noisy 200 dpi", 200, scans.NOISY)):
        pages = scans.render_pages(dpi, noise)
        path = folder / f"{name.replace(' ', '-')}.pdf"
        path.write_bytes(scans.image_pdf(pages, dpi))
        out.append((name + " PDF", path, len(pages)))
    photo = folder / "photo.jpg"
    scans.render_pages(300, scans.NOISY)[0].save(photo, quality=80)
    out.append(("noisy photo, page 1 (JPEG)", photo, 1))
    return out


def _doc_time(folder: Path) -> float | None:
    """Seconds to parse a .doc made by LibreOffice from a DOCX of the regulation, or None without it."""
    import subprocess

    import docx

    from ingest.loaders import legacy
    from ingest.parse import parse_file
    if legacy.soffice() is None:
        return None
    document = docx.Document()
    for line in scans.original_text().splitlines():
        document.add_paragraph(line)
    document.save(folder / "regulation.docx")
    subprocess.run([legacy.soffice(), f"-env:UserInstallation={(folder / 'profile').as_uri()}", "--headless",
                    "--convert-to", "doc", "--outdir", str(folder), str(folder / "regulation.docx")],
                   check=True, capture_output=True, timeout=120)
    started = time.perf_counter()
    parse_file(folder / "regulation.doc")
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench ocr", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.parse_args(argv)
    from tqdm import tqdm

    from ingest.parse import parse_file, parse_text
    if scans.cjk_font() is None:
        print("no CJK font to draw the scans with (install fonts-wqy-microhei)")
        return 1
    original = parse_text(scans.original_text(), source="regulation.txt")
    reference_articles = "\n".join(a.text for a in original.articles)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["POLICYKB_CACHE_DIR"] = str(folder / "cache")     # this process only: an empty OCR cache
        rows = []
        total_pages = total_seconds = 0.0
        for name, path, pages in tqdm(_scan_set(folder), desc="OCR", unit="scan"):
            started = time.perf_counter()
            doc = parse_file(path)
            seconds = time.perf_counter() - started
            started = time.perf_counter()
            parse_file(path)
            cached = time.perf_counter() - started
            articles = "\n".join(a.text for a in doc.articles)
            whole = "\n".join([doc.meta.doc_number, doc.meta.title, *doc.chapters, articles])
            reference_whole = "\n".join([scans.DOC_NUMBER, scans.TITLE, *original.chapters, reference_articles])
            if pages == 1:      # the photo shows the first page: compare the articles it holds in full
                shown = len(doc.articles) - 1
                articles = "\n".join(a.text for a in doc.articles[:shown])
                reference = "\n".join(a.text for a in original.articles[:shown])
                whole = "\n".join([doc.meta.doc_number, doc.meta.title, articles])
                reference_whole = "\n".join([scans.DOC_NUMBER, scans.TITLE, reference])
                exact = [a.label for a in doc.articles] == [a.label for a in original.articles[:len(doc.articles)]]
            else:
                reference = reference_articles
                exact = [a.label for a in doc.articles] == [a.label for a in original.articles]
            rows.append((name, pages, pages / seconds, exact, len(doc.articles),
                         scans.character_error_rate(reference, articles),
                         scans.character_error_rate(reference_whole, whole), doc.ocr_confidence, cached))
            total_pages += pages
            total_seconds += seconds
        doc_seconds = _doc_time(folder)
    print(f"{'scan':28} {'pages':>5} {'pages/s':>8} {'labels':>7} {'articles':>8} {'CER art.':>9} "
          f"{'CER all':>8} {'conf.':>6} {'cached s':>9}")
    for name, pages, rate, exact, count, cer, cer_all, confidence, cached in rows:
        print(f"{name:28} {pages:5d} {rate:8.3f} {'exact' if exact else 'WRONG':>7} {count:8d} {cer:9.2%} "
              f"{cer_all:8.2%} {confidence:6.3f} {cached:9.3f}")
    print(f"OCR overall: {total_pages:.0f} pages in {total_seconds:.1f} s = {total_pages / total_seconds:.3f} pages/s "
          f"({os.cpu_count()} cores)")
    print(f".doc through LibreOffice: {doc_seconds:.2f} s" if doc_seconds is not None
          else ".doc through LibreOffice: not installed")
    return 0 if all(r[3] for r in rows) and rows[0][5] <= 0.01 else 1
