"""Inference-mode forward passes: the one predict helper of the project.

Which one to use (the rule):

- :func:`forward` for small dense models (heads over feature vectors): the model called
  directly on chunks of rows, without ``Model.predict``'s per-call set-up;
- :func:`predict` for conv trunks over many images: ``Model.predict`` in batches of
  ``batch_size`` images, ``chunk`` images per call, several outputs allowed (the DeepCluster
  probes read five layers in one pass); a direct call on 8192 images at once would hold a
  whole chunk's activations (AlexNet's conv1 at 64 x 64 px: 8192 x 64 x 64 x 96 float32,
  about 13 GB).

``keras.Model.predict`` builds a data pipeline and a step function on every call: on this
2-core CPU ~0.2 s for a small head over 5000 rows, where the computation itself takes
~0.05 s (measured 2026-12-01). The retrieval methods call it several times per trained model
(DQN: between epochs, for the training set, the queries and the database), so
:func:`forward` calls the model directly on chunks of rows instead (``training=False``: dropout
off), on any Keras backend (torch: without recording gradients).
"""

from __future__ import annotations

import contextlib

import numpy as np


def _no_grad():
    import keras

    if keras.backend.backend() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def forward(model, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """``model``'s outputs on ``x`` (float32), ``batch_size`` rows per call, inference mode.

    A single-output model only; an empty ``x`` gives an empty ``(0, *output_shape)`` array."""
    from keras import ops

    if batch_size < 1:
        raise ValueError(f"forward: batch_size must be >= 1, got {batch_size}")
    x = np.asarray(x)
    if len(x) == 0:
        shape = tuple(int(s) for s in model.output_shape[1:])
        return np.zeros((0, *shape), dtype=np.float32)
    with _no_grad():
        parts = [np.asarray(ops.convert_to_numpy(model(x[i:i + batch_size], training=False)),
                            dtype=np.float32)
                 for i in range(0, len(x), batch_size)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def predict(model, x: np.ndarray, batch_size: int = 512, chunk: int = 8192):
    """``model.predict`` over ``x`` in chunks of ``chunk`` images, ``batch_size`` per batch
    (inference mode: BatchNorm's moving statistics, no dropout); float32 arrays, a list of
    them for a model with several outputs. No images is an error."""
    if batch_size < 1 or chunk < 1:
        raise ValueError(f"predict: batch_size and chunk must be >= 1, got {batch_size}, {chunk}")
    parts = [model.predict(x[i:i + chunk], batch_size=batch_size, verbose=0)
             for i in range(0, len(x), chunk)]
    if not parts:
        raise ValueError("predict: no images")
    if isinstance(parts[0], (list, tuple)):
        return [np.concatenate([np.asarray(p[j], np.float32) for p in parts])
                for j in range(len(parts[0]))]
    return np.concatenate([np.asarray(p, np.float32) for p in parts])
