"""The deformation stream: elastically / affinely deformed real digits (derived data)."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from repro.data import deformations
from repro.data.deformations import (
    BLOCK,
    DeformationStream,
    DeformConfig,
    deform,
    deformation_stream,
)


def _shapes(n=50, seed=0, channel=True):
    """Digit-like test images: thick rings and bars at random places, (n, 28, 28, 1) in [0, 1]
    with labels 0 (ring) / 1 (bar)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:28, 0:28].astype(np.float64)
    centre = 14 + rng.uniform(-3, 3, (n, 2))
    radius = rng.uniform(5, 8, n)
    labels = np.arange(n) % 2
    dist = np.hypot(rows - centre[:, 0, None, None], cols - centre[:, 1, None, None])
    ring = np.clip(1.5 - np.abs(dist - radius[:, None, None]), 0, 1)
    bar = np.clip(2.0 - np.abs(cols - centre[:, 1, None, None]), 0, 1) * (np.abs(
        rows - centre[:, 0, None, None]) < radius[:, None, None])
    x = np.where(labels[:, None, None] == 0, ring, bar).astype(np.float32)
    return (x[..., None] if channel else x), labels


def _stack(stream):
    images, labels = zip(*stream)
    return np.concatenate(images), np.concatenate(labels)


def _correlation(a, b, blur=0.0):
    a, b = a.reshape(len(a), 28, 28), b.reshape(len(b), 28, 28)
    if blur:
        a, b = gaussian_filter(a, (0, blur, blur)), gaussian_filter(b, (0, blur, blur))
    a = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(1, keepdims=True)
    b = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(1, keepdims=True)
    return (a / np.linalg.norm(a, axis=1, keepdims=True),
            b / np.linalg.norm(b, axis=1, keepdims=True))


def test_module_says_it_is_derived_data():
    doc = deformations.__doc__
    assert "DERIVED" in doc and "not a dataset" in doc
    assert "Loosli" in doc and "Simard" in doc


def test_same_seed_same_batches_and_other_seeds_differ():
    x, y = _shapes()
    first, labels = _stack(deformation_stream(x, y, 120, 32, 7))
    again, labels_again = _stack(deformation_stream(x, y, 120, 32, 7))
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(labels, labels_again)
    other, _ = _stack(deformation_stream(x, y, 120, 32, 8))
    assert not np.allclose(first, other)
    stream = DeformationStream(x, y, 120, 32, 7)
    np.testing.assert_array_equal(_stack(stream)[0], _stack(stream)[0])   # re-iterable


def test_batches_do_not_depend_on_batch_size():
    x, y = _shapes()
    n_total = BLOCK + 70                 # crosses a block of draws and several passes over x
    reference, labels = _stack(deformation_stream(x, y, n_total, n_total, 3))
    for batch_size in (7, 64, 255):
        images, other_labels = _stack(deformation_stream(x, y, n_total, batch_size, 3))
        np.testing.assert_array_equal(images, reference)
        np.testing.assert_array_equal(other_labels, labels)


def test_labels_are_those_of_the_sources_and_every_source_is_used_once_per_pass():
    x, y = _shapes(n=40)
    y = np.arange(40) * 3 + 1                      # distinct labels: the label names the source
    stream = DeformationStream(x, y, 120, 25, 0)
    _, labels = _stack(stream)
    sources = stream.sources(0, 120)
    np.testing.assert_array_equal(labels, y[sources])
    for p in range(3):
        np.testing.assert_array_equal(np.sort(sources[p * 40:(p + 1) * 40]), np.arange(40))
    assert not np.array_equal(sources[:40], sources[40:80])     # a fresh order for each pass


def test_images_keep_the_input_shape_and_stay_in_unit_range():
    x, y = _shapes()
    strong = DeformConfig(alpha=60.0, sigma=3.0, max_rotation=30.0, scale_range=(0.7, 1.4),
                          max_shear=0.3, max_translation=3.0)
    for images in (x, x[..., 0]):
        batch, _ = next(deformation_stream(images, y, 30, 30, 0, strong))
        assert batch.shape == (30,) + images.shape[1:] and batch.dtype == np.float32
        assert batch.min() >= 0.0 and batch.max() <= 1.0
    rgb = np.repeat(x, 3, axis=-1)
    batch = deform(rgb, np.random.default_rng(0))
    assert batch.shape == rgb.shape
    np.testing.assert_array_equal(batch[..., 0], batch[..., 2])   # one warp for all channels


def test_identity_config_returns_the_source_images():
    x, y = _shapes()
    stream = DeformationStream(x, y, 90, 40, 5, DeformConfig.identity())
    images, labels = _stack(stream)
    np.testing.assert_array_equal(images, x[stream.sources(0, 90)])
    np.testing.assert_array_equal(deform(x, 0, DeformConfig.identity()), x)


def test_n_total_is_respected_across_an_uneven_last_batch():
    x, y = _shapes()
    stream = DeformationStream(x, y, 103, 25, 0)
    sizes = [len(images) for images, _ in stream]
    assert sizes == [25, 25, 25, 25, 3] and len(stream) == 5
    assert sum(len(labels) for _, labels in deformation_stream(x, y, 103, 25, 0)) == 103
    with pytest.raises(IndexError):
        stream.batch(5)


def test_a_deformed_shape_stays_close_to_its_source_but_changes():
    x, y = _shapes(n=60)
    stream = DeformationStream(x, y, 60, 60, 0)
    images, labels = stream.batch(0)
    sources = stream.sources(0, 60)
    a, b = _correlation(images, x, blur=1.0)    # a 1-pixel blur: thin strokes, small shifts
    similarity = a @ b.T
    own = similarity[np.arange(60), sources]
    assert np.median(own) > 0.65
    other_class = np.where(y[None, :] != labels[:, None], similarity, np.nan)
    assert (own > np.nanmean(other_class, axis=1)).all()
    assert (np.abs(images - x[sources]).max(axis=(1, 2, 3)) > 0.1).all()   # never unchanged


def test_deformed_mnist_digits_stay_close_to_their_sources(real_data):
    ds = real_data("mnist-test")
    x, y = ds.x[:400], ds.y[:400]
    stream = DeformationStream(x, y, 400, 128, 0)
    images, labels = _stack(stream)
    sources = stream.sources(0, 400)
    a, b = _correlation(images, x, blur=1.0)
    similarity = a @ b.T                                     # (deformed, source digit)
    own = similarity[np.arange(400), sources]
    assert np.median(own) > 0.7 and own.max() < 0.999
    other_class = np.where(y[None, :] != labels[:, None], similarity, np.nan)
    # closer to its own source than to the average digit of another class
    assert np.mean(own > np.nanmean(other_class, axis=1)) > 0.95


def test_affine_scale_and_translation_have_their_meaning():
    x, _ = _shapes(n=20)
    half = DeformConfig(alpha=0.0, max_rotation=0.0, scale_range=(0.5, 0.5), max_shear=0.0,
                        max_translation=0.0)
    small = deform(x, 0, half)
    ratio = small.sum(axis=(1, 2, 3)) / x.sum(axis=(1, 2, 3))
    np.testing.assert_allclose(ratio, 0.25, rtol=0.15)               # area scales by s^2
    moved = DeformConfig(alpha=0.0, max_rotation=0.0, scale_range=(1.0, 1.0), max_shear=0.0,
                         max_translation=2.0)
    shifted = deform(x, 0, moved)
    rows = np.arange(28)[None, :, None]

    def centre_row(images):
        return (images[..., 0] * rows).sum(axis=(1, 2)) / images[..., 0].sum(axis=(1, 2))

    shift = centre_row(shifted) - centre_row(x)
    assert np.abs(shift).max() <= 2.0 + 0.2 and np.abs(shift).mean() > 0.3


def test_deform_is_seeded_and_vectorised_over_the_batch():
    x, _ = _shapes()
    one = deform(x, np.random.default_rng(4))
    np.testing.assert_array_equal(one, deform(x, 4))
    assert not np.allclose(one, deform(x, 5))


def test_the_stream_generates_on_the_fly():
    x, y = _shapes()
    tracemalloc.start()
    started = time.perf_counter()
    stream = deformation_stream(x, y, 10**7, 16, 0)
    images, labels = next(stream)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert images.shape == (16, 28, 28, 1) and labels.shape == (16,)
    assert seconds < 5.0
    assert peak < 30 * 2**20          # 10^7 images would be 31 GB; even their indices 80 MB


@pytest.mark.parametrize("kwargs, message", [
    ({"x": np.full((4, 28, 28), 2.0)}, "scaled to"),
    ({"x": np.full((4, 28, 28), np.nan)}, "NaN"),
    ({"x": np.zeros((4, 28))}, "shape"),
    ({"y": np.zeros(3)}, "y must have shape"),
    ({"n_total": 0}, "n_total"),
    ({"batch_size": 0}, "batch_size"),
    ({"seed": -1}, "seed"),
])
def test_bad_stream_arguments_are_named(kwargs, message):
    arguments = {"x": np.zeros((4, 28, 28)), "y": np.zeros(4), "n_total": 10, "batch_size": 2,
                 "seed": 0}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        deformation_stream(**arguments)


@pytest.mark.parametrize("kwargs, message", [
    ({"alpha": -1.0}, "alpha"),
    ({"sigma": float("nan")}, "sigma"),
    ({"max_rotation": 180.0}, "max_rotation"),
    ({"scale_range": (1.2, 0.8)}, "scale_range"),
    ({"scale_range": (0.0, 1.0)}, "scale_range"),
    ({"scale_range": 1.0}, "scale_range"),
    ({"max_translation": -2.0}, "max_translation"),
])
def test_bad_config_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DeformConfig(**kwargs)


def _scipy_reference(images, draws, cfg):
    """The warp written with scipy.ndimage, one image and channel at a time: gaussian_filter
    (mode constant) for the elastic field, map_coordinates (bilinear, mode constant)."""
    from scipy.ndimage import map_coordinates

    n, height, width, channels = images.shape
    out = np.empty(images.shape, dtype=np.float64)
    low, high = cfg.scale_range
    centre = np.array([(height - 1) / 2.0, (width - 1) / 2.0])
    grid = np.stack(np.meshgrid(np.arange(height), np.arange(width), indexing="ij")).astype(float)
    for i in range(n):
        field = np.stack([gaussian_filter(draws.noise[i, c], cfg.sigma, mode="constant") * cfg.alpha
                          for c in range(2)])
        theta = np.deg2rad(cfg.max_rotation) * draws.rotation[i]
        rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        scale = low + (high - low) * draws.scale[i]
        shear = np.array([[1.0, 0.0], [cfg.max_shear * draws.shear[i], 1.0]])
        inverse = np.linalg.inv(rotation @ (scale * np.eye(2)) @ shear)
        relative = grid - (centre + cfg.max_translation * draws.translation[i])[:, None, None]
        source = np.einsum("ij,jhw->ihw", inverse, relative) + centre[:, None, None] + field
        for c in range(channels):
            out[i, ..., c] = map_coordinates(images[i, ..., c].astype(np.float64), source,
                                             order=1, mode="constant", cval=0.0)
    return np.clip(out, 0, 1).astype(np.float32)


@pytest.mark.parametrize("cfg", [DeformConfig(),
                                 DeformConfig(alpha=80.0, sigma=2.5, max_rotation=40.0,
                                              max_translation=6.0, max_shear=0.3)])
def test_the_warp_equals_scipys_gaussian_filter_and_map_coordinates(cfg):
    """The vectorised warp (banded Gaussian matrices, 4-neighbour gathers) against scipy.ndimage
    image by image, 3 channels, with large displacements so that many points fall outside."""
    rng = np.random.default_rng(3)
    images = rng.random((12, 28, 20, 3)).astype(np.float32)
    draws = deformations.draw_deformations(rng, 12, 28, 20)
    ours = deformations.apply_deformations(images, draws, cfg)
    np.testing.assert_allclose(ours, _scipy_reference(images, draws, cfg), rtol=0, atol=1e-6)
    assert (ours == 0).mean() > 0.02   # points outside the image are 0, not interpolated
