"""DCEC: Deep Clustering with Convolutional Autoencoders (Guo, Liu, Zhu, Yin, ICONIP 2017).

IDEC's objective on a convolutional autoencoder (CAE, :func:`repro.models.autoencoders.conv_autoencoder`):
the CAE is pretrained end to end (Adam, 200 epochs, batch 256; DCEC Sec. 3.3), centres are
initialised by k-means on the 10-d embedding, then ``L = L_r + gamma * L_c`` (Eq. 5, gamma = 0.1)
is minimised with DEC's target updates and stopping rule (:mod:`repro.methods.self_training`).

The same machinery runs GAPDCEC (``POOLING = "gap"``, :mod:`repro.methods.gapdcec`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .pretrain import PretrainConfig, pretrain_conv_autoencoder
from .self_training import SelfTrainingClusterer, SelfTrainingConfig


@dataclass
class DCECConfig(SelfTrainingConfig):
    """DCEC: :class:`SelfTrainingConfig` defaults (SGD lr 0.01 momentum 0.9 as GAPDCEC Sec. 4.1.2
    states for DCEC and GAPDCEC, T = 140, tol 0.1%, batch 256, max_iter 2e4) plus gamma = 0.1,
    the CAE (conv 32/64/128 channels, 10-d embedding) and its pretraining (Adam, 200 epochs)."""

    gamma: float = 0.1
    filters: tuple[int, ...] = (32, 64, 128)
    embedding_dim: int = 10
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)


class DCEC(SelfTrainingClusterer):
    """DCEC end to end on images x (n, h, w, c) in [0, 1] (e.g. 28x28x1 MNIST, 16x16x1 USPS):
    pretrain its CAE (``cfg.pretrain``, seeded by ``fit``'s seed; flatten -> dense embedding),
    then cluster. ``pretrained``: start from this CAE instead (a conv autoencoder with this
    class's ``POOLING``), e.g. one shared by several rows; its seconds are ``pretrain_s``."""

    METHOD = "DCEC"
    CONFIG = DCECConfig
    RECONSTRUCTS = True
    POOLING = "flatten"

    def _pretrained(self, x: np.ndarray, seed: int):
        if x.ndim != 4:
            raise ValueError(f"DCEC / GAPDCEC need images (n, h, w, c), got shape {x.shape}")
        pretrained = self.pretrained
        if pretrained is None:
            cfg = self.cfg
            return pretrain_conv_autoencoder(x, cfg.pretrain, seed=seed, filters=cfg.filters,
                                             embedding_dim=cfg.embedding_dim, pooling=self.POOLING,
                                             verbose=self.verbose)
        if pretrained.architecture != "conv" or pretrained.build_kwargs.get("pooling") != self.POOLING:
            raise ValueError(f"pretrained autoencoder is {pretrained.architecture!r} with pooling "
                             f"{pretrained.build_kwargs.get('pooling')!r}; {self.METHOD} needs a "
                             f"conv autoencoder with pooling {self.POOLING!r}")
        return pretrained

    def fit(self, x: np.ndarray, *, seed: int, y: np.ndarray | None = None):
        result = super().fit(x, seed=seed, y=y)
        result.info["pooling"] = self.POOLING
        return result
