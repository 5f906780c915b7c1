"""A stream of elastically and affinely deformed real digits: DERIVED data in the style of
infinite MNIST, for the UCNN stage's scale experiment.

This is **not a dataset**. Every image is a random deformation of a real, checksum-verified
digit from the images it is given (MNIST; data/README.md), and it carries that digit's label.
The report must label every number computed on it as "deformed MNIST (derived)", as it does
for the other stand-ins of :mod:`repro.data.derived`. Nothing is stored: the images are made
on the fly, batch by batch, and rebuilt identically from the seed.

The constructions it follows:

* Loosli, Canu & Bottou, "Training invariant support vector machines using selective
  sampling", in *Large Scale Kernel Machines*, MIT Press 2007, pp. 301-320. Their generator,
  InfiMNIST (formerly MNIST8M; leon.bottou.org/projects/infimnist), derives an unbounded
  supply of digits from MNIST by pseudo-random deformations and translations. Each example is
  determined by its index: the source is training digit ``(i - 10000) % 60000`` and the
  transformation is derived from ``i``.
* Simard, Steinkraus & Platt, "Best practices for convolutional neural networks applied to
  visual document analysis", ICDAR 2003 (elastic distortion). Each pixel gets a random
  displacement, both components uniform in [-1, 1]. The two fields are convolved with a
  Gaussian of standard deviation ``sigma`` pixels and multiplied by ``alpha``. The new image
  takes the old one at the displaced positions, with bilinear interpolation. The paper used
  sigma = 4 and alpha = 34 on MNIST: these are the defaults here.

How an image is made (:func:`deform`, vectorised over a batch): the elastic fields of every
image of the batch are drawn at once and smoothed together: a Gaussian of standard deviation
``sigma`` along rows and columns with zero padding, i.e. ``scipy.ndimage.gaussian_filter``
(sigma 0 along the batch and component axes, ``mode="constant"``, its kernel truncated at 4
sigma), computed as two products with the banded (H, H) and (W, W) matrices of that kernel.
Then a small random affine transform per image:

* rotation uniform in +-``max_rotation`` degrees;
* isotropic scale uniform in ``scale_range``;
* horizontal shear coefficient uniform in +-``max_shear`` (column += shear x row);
* translation uniform in +-``max_translation`` pixels per axis (InfiMNIST shifts by 0 or
  +-1 pixel).

The transform is about the image centre. Output pixel p (row, column) reads the source at
``c + A^-1 (p - c - t) + d(p)``, where d is the elastic displacement at p. The whole batch is
sampled at once by bilinear interpolation with zeros outside the image, as
``scipy.ndimage.map_coordinates(order=1, mode="constant")`` does on each image (the four
neighbours' weights, in numpy: 4 gathers instead of map_coordinates' 16 on the (n, H, W, C)
array; the two agree to float rounding, tested). The result is clipped to [0, 1] and returned
as float32 in the input's shape. Every draw is made whatever the config
(a zero range just scales it to nothing), so two configs with the same seed differ only in
magnitude. The identity config (alpha 0, no affine part) returns the source images exactly.

Differences from InfiMNIST (the stream does not reproduce MNIST8M bit for bit):

- InfiMNIST applies 1522 precomputed smooth fields to first order, through precomputed
  tangent vectors: x + alpha (F_k1 dx/du - F_k2 dx/dv), clipped. Here the warp is exact,
  and every image gets fresh fields (Simard et al.'s recipe).
- The small affine transforms (rotation, scale, shear, sub-pixel translation) are ours. They
  are the other distortions of Simard et al. and of later MNIST augmentation (e.g. Ciresan et
  al. 2010, "Deep, big, simple neural nets for handwritten digit recognition"). The defaults
  are milder than theirs (+-5 degrees, scale 0.95-1.05, shear 0.05, +-1 pixel), so that
  Simard et al.'s elastic part dominates. On MNIST-test the median correlation between a
  deformed digit and its source is about 0.6 (0.77 after a 1-pixel Gaussian blur of both).
- The sources are not ``i % 60000``. The stream visits the given images in a seeded random
  order, a fresh permutation for each pass. Over ``k * len(x)`` images every source appears
  exactly k times, as in InfiMNIST. The pristine digits are not part of the stream.

Determinism (:class:`DeformationStream`): image i of the stream depends only on (seed, i).
Its source is ``permutation(seed, pass i // n)[i % n]``. Its deformation draws come from the
generator of its block of :data:`BLOCK` consecutive images,
``SeedSequence(seed, spawn_key=(1, i // BLOCK))``, which draws the whole block in one go. So the
batches do not depend on ``batch_size``: concatenated, any batch size gives the same images.
Memory is one permutation of the sources plus one block of fields, whatever ``n_total``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

BLOCK = 256   # images whose deformations one generator draws (fixed: it is part of the data)
_SOURCE_KEY = 0      # spawn-key prefixes of the stream's two kinds of random draws
_DEFORM_KEY = 1


@dataclass
class DeformConfig:
    """Deformation magnitudes (module docstring). alpha, sigma: Simard et al.'s elastic
    distortion (pixels); max_rotation in degrees; scale_range (low, high) of the isotropic
    scale; max_shear: shear coefficient; max_translation in pixels."""

    alpha: float = 34.0
    sigma: float = 4.0
    max_rotation: float = 5.0
    scale_range: tuple[float, float] = (0.95, 1.05)
    max_shear: float = 0.05
    max_translation: float = 1.0

    def __post_init__(self):
        for name in ("alpha", "sigma", "max_rotation", "max_shear", "max_translation"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not math.isfinite(value) or value < 0:
                raise ValueError(f"deform.{name} must be a finite number >= 0, got {value!r}")
        if self.max_rotation >= 180:
            raise ValueError(f"deform.max_rotation must be < 180 degrees, got {self.max_rotation}")
        try:
            low, high = (float(v) for v in self.scale_range)
        except (TypeError, ValueError):
            raise ValueError(f"deform.scale_range must be (low, high), got "
                             f"{self.scale_range!r}") from None
        if not 0 < low <= high or not math.isfinite(high):
            raise ValueError(f"deform.scale_range must satisfy 0 < low <= high, got "
                             f"{self.scale_range!r}")
        self.scale_range = (low, high)

    @classmethod
    def identity(cls) -> "DeformConfig":
        """No deformation at all: the stream then returns its source images unchanged."""
        return cls(alpha=0.0, sigma=0.0, max_rotation=0.0, scale_range=(1.0, 1.0),
                   max_shear=0.0, max_translation=0.0)


@dataclass
class Deformations:
    """Random draws for n images of size (height, width): raw elastic noise (n, 2, H, W)
    uniform in [-1, 1], and per image a rotation factor, a scale uniform in [0, 1), a shear
    factor and a translation (n, 2) factor, all uniform in [-1, 1]. The config maps them to
    magnitudes."""

    noise: np.ndarray
    rotation: np.ndarray
    scale: np.ndarray
    shear: np.ndarray
    translation: np.ndarray

    def __getitem__(self, index) -> "Deformations":
        return Deformations(self.noise[index], self.rotation[index], self.scale[index],
                            self.shear[index], self.translation[index])


def draw_deformations(rng: np.random.Generator, n: int, height: int, width: int) -> Deformations:
    """All random draws for ``n`` images, in a fixed order (whatever the config)."""
    return Deformations(noise=rng.uniform(-1.0, 1.0, (n, 2, height, width)),
                        rotation=rng.uniform(-1.0, 1.0, n), scale=rng.uniform(0.0, 1.0, n),
                        shear=rng.uniform(-1.0, 1.0, n),
                        translation=rng.uniform(-1.0, 1.0, (n, 2)))


def apply_deformations(images: np.ndarray, draws: Deformations, cfg: DeformConfig) -> np.ndarray:
    """Warp ``images`` (n, H, W) or (n, H, W, C) by ``draws`` scaled by ``cfg`` -> float32 in
    [0, 1], same shape (module docstring)."""
    x = np.asarray(images, dtype=np.float32)
    squeeze = x.ndim == 3
    if squeeze:
        x = x[..., None]
    n, height, width, channels = x.shape
    if draws.noise.shape != (n, 2, height, width):
        raise ValueError(f"draws for {draws.noise.shape} do not fit images {images.shape}")
    # elastic displacement (Simard et al. 2003): smoothed uniform noise times alpha
    if cfg.alpha > 0:
        rows, cols = _gaussian_matrix(height, cfg.sigma), _gaussian_matrix(width, cfg.sigma)
        displacement = (rows @ draws.noise @ cols.T) * cfg.alpha
    else:
        displacement = np.zeros_like(draws.noise)
    # affine part, in (row, column) coordinates about the centre: A = R(theta) S(s) H(h)
    theta = np.deg2rad(cfg.max_rotation) * draws.rotation
    low, high = cfg.scale_range
    scale = low + (high - low) * draws.scale
    shear = cfg.max_shear * draws.shear
    shift = cfg.max_translation * draws.translation                       # (n, 2)
    cos, sin = np.cos(theta), np.sin(theta)
    # A^-1 = H^-1 S^-1 R^T with H = [[1, 0], [h, 1]] (column += h * row)
    rt = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)   # R^T (n, 2, 2)
    inverse = rt / scale[:, None, None]
    inverse = np.stack([inverse[:, 0], inverse[:, 1] - shear[:, None] * inverse[:, 0]], 1)
    centre = np.array([(height - 1) / 2.0, (width - 1) / 2.0])
    grid = np.stack(np.meshgrid(np.arange(height, dtype=np.float64),
                                np.arange(width, dtype=np.float64), indexing="ij"))  # (2, H, W)
    relative = grid[None] - centre[:, None, None] - shift[:, :, None, None]     # (n, 2, H, W)
    source = np.einsum("nij,njhw->nihw", inverse, relative) + centre[:, None, None] + displacement
    out = _bilinear(x, source[:, 0], source[:, 1])
    out = np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)
    return out[..., 0] if squeeze else out


def _gaussian_matrix(size: int, sigma: float) -> np.ndarray:
    """(size, size) matrix G with ``G @ v`` = ``scipy.ndimage.gaussian_filter1d(v, sigma,
    mode="constant", cval=0)`` (scipy's kernel: radius ``int(4 sigma + 0.5)``, normalised)."""
    if sigma <= 0:
        return np.eye(size)
    radius = int(4.0 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    offset = np.arange(size)[None, :] - np.arange(size)[:, None]          # j - i
    return np.where(np.abs(offset) <= radius, taps[np.clip(offset + radius, 0, 2 * radius)], 0.0)


def _bilinear(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``x`` (n, H, W, C) sampled at (rows, cols) (n, H', W') by bilinear interpolation ->
    (n, H', W', C) float64. As map_coordinates' ``mode="constant"`` (cval 0): a point outside
    [0, H - 1] x [0, W - 1] is 0 (no interpolation beyond the edges); inside, a neighbour past
    the last row or column (weight 0) reads a zero border."""
    n, height, width, channels = x.shape
    valid = (rows >= 0) & (rows <= height - 1) & (cols >= 0) & (cols <= width - 1)
    r0 = np.clip(np.floor(rows), 0, height - 1)
    c0 = np.clip(np.floor(cols), 0, width - 1)
    fr, fc = (rows - r0)[..., None], (cols - c0)[..., None]
    padded = np.zeros((n, height + 1, width + 1, channels), dtype=np.float64)
    padded[:, :height, :width] = x
    flat = padded.reshape(-1)
    stride_r, stride_c = (width + 1) * channels, channels
    index = ((np.arange(n, dtype=np.int64) * (height + 1) * stride_r)[:, None, None]
             + r0.astype(np.int64) * stride_r + c0.astype(np.int64) * stride_c)[..., None] \
        + np.arange(channels, dtype=np.int64)
    out = (np.take(flat, index) * ((1 - fr) * (1 - fc)) + np.take(flat, index + stride_c) * ((1 - fr) * fc)
           + np.take(flat, index + stride_r) * (fr * (1 - fc))
           + np.take(flat, index + stride_r + stride_c) * (fr * fc))
    out[~valid] = 0.0
    return out


def deform(images: np.ndarray, rng: np.random.Generator | int, cfg: DeformConfig | None = None
           ) -> np.ndarray:
    """A random deformation of every image of ``images`` ((n, H, W) or (n, H, W, C), values in
    [0, 1]): draws from ``rng`` (a Generator or a seed), then :func:`apply_deformations`.
    Vectorised over the batch; float32 in [0, 1], same shape."""
    cfg = cfg or DeformConfig()
    x = _check_images(images)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return apply_deformations(x, draw_deformations(rng, len(x), x.shape[1], x.shape[2]), cfg)


def _check_images(images) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim not in (3, 4) or x.shape[0] < 1:
        raise ValueError(f"images must be (n, H, W) or (n, H, W, C), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"images must be numeric, got dtype {x.dtype}")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise ValueError("images contain NaN or infinite values")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"images must be scaled to [0, 1], got values in "
                         f"[{x.min():.4g}, {x.max():.4g}]")
    return x


class DeformationStream:
    """``n_total`` deformed images of ``x`` in batches of ``batch_size`` (the last may be
    smaller), each labelled with its source's label from ``y``. Iterating yields (images,
    labels) and restarts from the first batch every time. :meth:`sources` gives the source
    index of any stream position, and :meth:`batch` gives any batch (module docstring)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, n_total: int, batch_size: int, seed: int,
                 cfg: DeformConfig | None = None):
        self.x = _check_images(x)
        self.y = np.asarray(y)
        if self.y.shape != (len(self.x),):
            raise ValueError(f"y must have shape ({len(self.x)},) to match x, got {self.y.shape}")
        for name, value in (("n_total", n_total), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        self.n_total, self.batch_size, self.seed = int(n_total), int(batch_size), int(seed)
        self.cfg = cfg or DeformConfig()
        self._permutation: tuple[int, np.ndarray] | None = None   # (pass, order)
        self._block: tuple[int, Deformations] | None = None       # (block, draws)

    def __len__(self) -> int:
        return -(-self.n_total // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for index in range(len(self)):
            yield self.batch(index)

    def batch(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch ``index`` (0-based): (images float32 (b, *x.shape[1:]), labels (b,))."""
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range for {len(self)} batches")
        start = index * self.batch_size
        return self.images(start, min(start + self.batch_size, self.n_total))

    def images(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Stream positions [start, stop): (images, labels)."""
        if not 0 <= start < stop <= self.n_total:
            raise IndexError(f"positions [{start}, {stop}) outside the stream of {self.n_total}")
        sources = self.sources(start, stop)
        images = apply_deformations(self.x[sources], self._draws(start, stop), self.cfg)
        return images, self.y[sources]

    def sources(self, start: int, stop: int) -> np.ndarray:
        """Source indices into ``x`` of stream positions [start, stop)."""
        n = len(self.x)
        positions = np.arange(start, stop, dtype=np.int64)
        passes = positions // n
        out = np.empty(len(positions), dtype=np.int64)
        for p in np.unique(passes):   # a loop over passes through x (one or two per batch)
            mask = passes == p
            out[mask] = self._order(int(p))[positions[mask] % n]
        return out

    def _order(self, p: int) -> np.ndarray:
        if self._permutation is None or self._permutation[0] != p:
            rng = np.random.default_rng(np.random.SeedSequence(self.seed,
                                                               spawn_key=(_SOURCE_KEY, p)))
            self._permutation = (p, rng.permutation(len(self.x)))
        return self._permutation[1]

    def _draws(self, start: int, stop: int) -> Deformations:
        parts = []
        for block in range(start // BLOCK, (stop - 1) // BLOCK + 1):   # a loop over blocks
            if self._block is None or self._block[0] != block:
                rng = np.random.default_rng(np.random.SeedSequence(self.seed,
                                                                   spawn_key=(_DEFORM_KEY, block)))
                self._block = (block, draw_deformations(rng, BLOCK, self.x.shape[1],
                                                        self.x.shape[2]))
            begin = max(start, block * BLOCK) - block * BLOCK
            end = min(stop, (block + 1) * BLOCK) - block * BLOCK
            parts.append(self._block[1][begin:end])
        if len(parts) == 1:
            return parts[0]
        return Deformations(*(np.concatenate([getattr(d, f) for d in parts]) for f in
                              ("noise", "rotation", "scale", "shear", "translation")))


def deformation_stream(x: np.ndarray, y: np.ndarray, n_total: int, batch_size: int, seed: int,
                       cfg: DeformConfig | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """An iterator of (images, labels) batches: ``n_total`` deformations of the images ``x``
    ((n, H, W[, C]) in [0, 1]) labelled with their sources' labels ``y`` (n,). The arguments
    are checked now and the images made lazily. Deterministic in ``seed`` and independent of
    ``batch_size``; see :class:`DeformationStream` for random access and the source indices."""
    return iter(DeformationStream(x, y, n_total, batch_size, seed, cfg))
