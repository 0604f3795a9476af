"""Images of printed pages (.png, .jpg/.jpeg, .tif/.tiff: scans, phone photos) via OCR.

Each frame of the image (a multi-page TIFF has several) is one page, turned upright by its EXIF
orientation (phone photos are stored sideways) and read by `ingest.ocr`.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

from ingest import ocr
from ingest.loaders import RawText
from kb.errors import IngestError

MAX_PAGES = 500             # frames of a multi-page TIFF
MAX_PIXELS = 80_000_000     # per frame: a 40-megapixel photo has half; more is a decompression bomb


def load(path: Path, data: bytes) -> RawText:
    """The text OCR reads on each frame of an image file.

    Raises:
        IngestError: kind "corrupt" when Pillow cannot read the image; kind "too_large" above
            `MAX_PIXELS` pixels a frame or `MAX_PAGES` frames.
    """
    from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        frames = getattr(image, "n_frames", 1)
        if frames > MAX_PAGES:
            raise IngestError(str(path), "too_large", f"image has {frames:,} pages, more than {MAX_PAGES:,}",
                              reason="pages")
        if image.width * image.height > MAX_PIXELS:
            raise IngestError(str(path), "too_large", f"image too large to read: {image.width}×{image.height} "
                              f"pixels, more than {MAX_PIXELS:,}", reason="pixels")
        pages = [ImageOps.exif_transpose(frame).convert("RGB") for frame in ImageSequence.Iterator(image)]
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as err:
        raise IngestError(str(path), "corrupt", f"cannot read the image ({type(err).__name__}: {err})",
                          reason="corrupt") from None
    except Image.DecompressionBombError:
        raise IngestError(str(path), "too_large", f"image too large to read: more than {MAX_PIXELS:,} pixels",
                          reason="pixels") from None

    def render(n: int):
        import numpy as np
        return np.asarray(pages[n])

    read = ocr.ocr_pages(hashlib.sha256(data).hexdigest(), range(len(pages)), render)
    return ocr.raw_text([read[n] for n in range(len(pages))])
