"""Decode image files (JPEG, PNG, ...) into fixed-size uint8 RGB arrays, with Pillow.

Every image is converted to RGB (greyscale, palette and CMYK images included) and resized to
``size x size`` pixels, ignoring its aspect ratio, with Pillow's bilinear filter (which
averages over the whole footprint when shrinking, so it does not alias). EXIF orientation
tags are not applied: pixels are used as stored. For JPEG files the decoder is first put in
Pillow's *draft* mode, which lets libjpeg scale the image down by 1/2, 1/4 or 1/8 while it
decodes, never below ``size`` on either side; this is several times faster on photos much
larger than ``size`` and changes pixel values only slightly compared with a full decode
followed by the same resize.

:func:`decode_images` reads the encoded bytes in the calling thread, in chunks, and decodes
them in a thread pool (Pillow releases the GIL while decoding); a progress bar is shown for
large sets. A file that cannot be decoded raises :class:`DatasetError` naming it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from PIL import Image
from tqdm import tqdm

from repro.data.errors import DatasetError

#: Largest side accepted for the output images (a guard against typos such as 22400).
MAX_SIZE = 4096
#: Images read (and then decoded in parallel) per chunk.
CHUNK = 256
#: Smallest number of images for which a progress bar is shown.
PROGRESS_MIN = 2000
MAX_WORKERS = 8
_RESAMPLE = Image.Resampling.BILINEAR


def check_size(size: object) -> int:
    """``size`` as an int in 1..MAX_SIZE, else DatasetError saying what was given."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) \
            or not 1 <= int(size) <= MAX_SIZE:
        raise DatasetError(f"image_size must be an integer from 1 to {MAX_SIZE} "
                           f"(the side of the square output images), got {size!r}.")
    return int(size)


def decode_image(data: bytes, size: int, name: str) -> np.ndarray:
    """One encoded image -> uint8 (size, size, 3) RGB array; DatasetError naming ``name``."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG":
                image.draft("RGB", (size, size))
            rgb = image.convert("RGB")
        if rgb.size != (size, size):
            rgb = rgb.resize((size, size), _RESAMPLE)
        return np.asarray(rgb, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise DatasetError(f"Cannot decode image {name}: {error}") from error


def default_workers() -> int:
    """Decoding threads: the CPU count, at most MAX_WORKERS."""
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def decode_images(names: Sequence[str], read: Callable[[str], bytes], size: int, *,
                  desc: str = "decoding images", where: str = "",
                  workers: int | None = None) -> np.ndarray:
    """uint8 (len(names), size, size, 3): ``read(name)`` for each name, decoded and resized.

    ``read`` is called in the calling thread, in order; decoding of one chunk overlaps the
    reading of the next one. Errors name the image as ``where + name``.
    """
    size = check_size(size)
    out = np.empty((len(names), size, size, 3), dtype=np.uint8)
    if not len(names):
        return out
    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool, tqdm(
        total=len(names), desc=desc, unit="img", mininterval=1.0, leave=False,
        disable=len(names) < PROGRESS_MIN,
    ) as bar:
        pending: list[tuple[int, Future]] = []
        for start in range(0, len(names), CHUNK):
            chunk = names[start:start + CHUNK]
            submitted = [(start + i, pool.submit(decode_image, read(name), size, where + name))
                         for i, name in enumerate(chunk)]
            _collect(pending, out, bar)  # the previous chunk, decoded while this one was read
            pending = submitted
        _collect(pending, out, bar)
    return out


def _collect(pending: list[tuple[int, Future]], out: np.ndarray, bar: tqdm) -> None:
    for index, future in pending:
        out[index] = future.result()
    bar.update(len(pending))
