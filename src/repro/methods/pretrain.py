"""Autoencoder pretraining, a step of its own so that one pretrained network serves several methods.

DEC (Xie et al. 2016, Sec. 3.2) pretrains its autoencoder greedily, layer by layer, as
denoising autoencoders (20% dropout), then fine-tunes it end to end. The Keras reference
implementations that the GAPDCEC paper compares against (DEC-keras, IDEC, DCEC by X. Guo) pretrain
end to end instead: Adam, MSE, batch 256, 200 epochs, shuffled; the DCEC paper (Sec. 3.3) states
that protocol for the CAE. We implement the end-to-end protocol for every autoencoder (dense and
convolutional); ``dense_autoencoder(..., dropout=...)`` offers input dropout as an option.

Typical use (the experiment runner): pretrain the dense autoencoder once per data set and seed,
then give each of DEC / IDEC / DCN a fresh copy with :meth:`PretrainedAutoencoder.build`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import keras
import numpy as np

from repro.models.autoencoders import conv_autoencoder, dense_autoencoder

OPTIMIZERS = ("adam", "sgd")


@dataclass
class PretrainConfig:
    """End-to-end autoencoder pretraining (DCEC paper Sec. 3.3; DEC-keras / IDEC / DCEC code)."""

    epochs: int = 200
    batch_size: int = 256
    optimizer: str = "adam"
    learning_rate: float = 0.001
    momentum: float = 0.0  # used by optimizer="sgd" only
    shuffle: bool = True
    # Label-free early stop (0 = off, the reference codes' fixed epoch count): stop once the
    # training loss fell by less than ``plateau_rel_tol`` (relative) over the last
    # ``plateau_window`` epochs; ``epochs`` stays the cap. See :class:`LossPlateau`.
    plateau_window: int = 0
    plateau_rel_tol: float = 0.0

    def __post_init__(self):
        if self.epochs < 0 or self.batch_size < 1:
            raise ValueError(f"PretrainConfig needs epochs >= 0 and batch_size >= 1, got "
                             f"{self.epochs} and {self.batch_size}")
        if self.plateau_window < 0 or not 0 <= self.plateau_rel_tol < 1:
            raise ValueError(f"PretrainConfig needs plateau_window >= 0 and 0 <= plateau_rel_tol < 1, "
                             f"got {self.plateau_window} and {self.plateau_rel_tol}")


class LossPlateau(keras.callbacks.Callback):
    """Stop training when the epoch loss fell by less than ``rel_tol`` (relative) over the last
    ``window`` epochs: ``(loss[e - window] - loss[e]) / loss[e - window] < rel_tol``.

    A label-free budget rule: it reads the training loss only, never labels or test data.
    """

    def __init__(self, window: int, rel_tol: float):
        super().__init__()
        self.window, self.rel_tol, self.losses = int(window), float(rel_tol), []

    def on_epoch_end(self, epoch, logs=None):
        self.losses.append(float((logs or {}).get("loss", np.nan)))
        if len(self.losses) > self.window:
            before, now = self.losses[-1 - self.window], self.losses[-1]
            if before > 0 and (before - now) / before < self.rel_tol:
                self.model.stop_training = True


def make_optimizer(name: str, learning_rate, momentum: float = 0.0, *,
                   weight_decay: float | None = None,
                   nesterov: bool = False) -> keras.optimizers.Optimizer:
    """A fresh Keras optimizer: "adam" (default betas) or "sgd" (with ``momentum``, Nesterov's
    form where ``nesterov``); ``learning_rate`` a float or a schedule, ``weight_decay`` Keras'
    decoupled decay (None: none)."""
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate, weight_decay=weight_decay)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum,
                                    weight_decay=weight_decay, nesterov=nesterov)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")


def as_model_input(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """x (n, ...) reshaped to the model's input shape: images are flattened for a dense network."""
    x = np.asarray(x, dtype=np.float32)
    expected = tuple(model.inputs[0].shape[1:])
    if tuple(x.shape[1:]) == expected:
        return x
    if None not in expected and int(np.prod(expected)) == int(np.prod(x.shape[1:])):
        return x.reshape((len(x),) + expected)
    raise ValueError(f"data of shape {x.shape[1:]} per sample does not fit model input {expected}")


def pretrain_autoencoder(autoencoder: keras.Model, x: np.ndarray, cfg: PretrainConfig, *,
                         seed: int, verbose: int = 1) -> dict:
    """Train ``autoencoder`` to reconstruct x with the MSE loss (in place).

    Returns ``{"loss": [per-epoch mean MSE], "seconds": float, "epochs": int}`` (epochs run:
    fewer than ``cfg.epochs`` where the loss-plateau rule stopped it).
    """
    keras.utils.set_random_seed(seed)
    x = as_model_input(autoencoder, x)
    autoencoder.compile(optimizer=make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.momentum),
                        loss="mse")
    start = time.perf_counter()
    callbacks = [LossPlateau(cfg.plateau_window, cfg.plateau_rel_tol)] if cfg.plateau_window else []
    history = autoencoder.fit(x, x, batch_size=cfg.batch_size, epochs=cfg.epochs,
                              shuffle=cfg.shuffle, verbose=verbose, callbacks=callbacks)
    seconds = time.perf_counter() - start
    losses = [float(v) for v in history.history.get("loss", [])]
    return {"loss": losses, "seconds": seconds, "epochs": len(losses)}


@dataclass
class PretrainedAutoencoder:
    """Weights of a pretrained autoencoder plus how to rebuild it; :meth:`build` gives a fresh copy.

    architecture: "dense" (:func:`dense_autoencoder`) or "conv" (:func:`conv_autoencoder`);
    build_kwargs: the builder's arguments; weights: ``autoencoder.get_weights()``.
    """

    architecture: str
    build_kwargs: dict
    weights: list = field(repr=False)
    loss_history: list[float] = field(default_factory=list)
    seconds: float = 0.0
    seed: int | None = None

    def build(self) -> tuple[keras.Model, keras.Model]:
        """(autoencoder, encoder) with the pretrained weights, independent of every other copy."""
        builders = {"dense": dense_autoencoder, "conv": conv_autoencoder}
        if self.architecture not in builders:
            raise ValueError(f"unknown architecture {self.architecture!r}; expected one of {sorted(builders)}")
        autoencoder, encoder = builders[self.architecture](**self.build_kwargs)
        autoencoder.set_weights(self.weights)
        return autoencoder, encoder


def pretrain_dense_autoencoder(x: np.ndarray, cfg: PretrainConfig, *, seed: int,
                               dims=(500, 500, 2000, 10), dropout: float = 0.0,
                               init: str = "glorot_uniform",
                               verbose: int = 1) -> PretrainedAutoencoder:
    """Build (seeded) and pretrain DEC's dense autoencoder on x (n, ...) flattened to (n, d);
    ``init`` is the kernel initialiser (:data:`repro.models.autoencoders.DENSE_INITS`)."""
    keras.utils.set_random_seed(seed)
    kwargs = {"input_dim": int(np.prod(np.shape(x)[1:])), "dims": tuple(dims), "dropout": dropout,
              "seed": seed}
    if init != "glorot_uniform":  # the default stays out of the kwargs (stored cells keep their key)
        kwargs["init"] = init
    return _pretrain("dense", kwargs, x, cfg, seed=seed, verbose=verbose)


def pretrain_conv_autoencoder(x: np.ndarray, cfg: PretrainConfig, *, seed: int,
                              filters=(32, 64, 128), embedding_dim: int = 10,
                              pooling: str = "flatten", verbose: int = 1) -> PretrainedAutoencoder:
    """Build (seeded) and pretrain the CAE of DCEC (pooling="flatten") or GAPDCEC ("gap") on x (n, h, w, c)."""
    if np.ndim(x) != 4:
        raise ValueError(f"the convolutional autoencoder needs images (n, h, w, c), got shape {np.shape(x)}")
    keras.utils.set_random_seed(seed)
    kwargs = {"input_shape": tuple(np.shape(x)[1:]), "filters": tuple(filters),
              "embedding_dim": embedding_dim, "pooling": pooling}
    return _pretrain("conv", kwargs, x, cfg, seed=seed, verbose=verbose)


def _pretrain(architecture: str, kwargs: dict, x, cfg: PretrainConfig, *, seed: int,
              verbose: int) -> PretrainedAutoencoder:
    builder = dense_autoencoder if architecture == "dense" else conv_autoencoder
    autoencoder, _ = builder(**kwargs)
    result = pretrain_autoencoder(autoencoder, x, cfg, seed=seed, verbose=verbose)
    return PretrainedAutoencoder(architecture, kwargs, autoencoder.get_weights(),
                                 result["loss"], result["seconds"], seed)
