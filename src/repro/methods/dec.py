"""DEC: Deep Embedded Clustering (Xie, Girshick, Farhadi, ICML 2016).

Given a pretrained encoder f (see :mod:`repro.methods.pretrain`), DEC discards the decoder,
initialises K centres by k-means on f(x), and then trains encoder and centres on the clustering
loss alone, ``L = KL(P || Q)`` (Eq. 2), with the soft assignment Q of Eq. 1 and the target P of
Eq. 3 recomputed on the whole data every ``update_interval`` steps; it stops when fewer than
``tol`` of the labels change between two updates (Sec. 3.1.3). The loop is
:func:`repro.methods.self_training.run_self_training`.
"""
from __future__ import annotations

from dataclasses import dataclass

from .self_training import SelfTrainingClusterer, SelfTrainingConfig


@dataclass
class DECConfig(SelfTrainingConfig):
    """DEC clustering phase. Defaults as :class:`SelfTrainingConfig`: batch 256, SGD lr 0.01
    momentum 0.9 (DEC Sec. 4.3 and GAPDCEC Sec. 4.1.2), T = 140, tol = 0.1%, alpha = 1,
    k-means n_init = 20, max_iter = 2e4 (DEC-keras)."""


class DEC(SelfTrainingClusterer):
    """DEC's clustering phase on a copy of ``pretrained`` (its encoder; the decoder is dropped):
    ``DEC(K, DECConfig(...), pretrained=...).fit(x, seed=..., y=None)``; x (n, ...) float data
    in [0, 1], flattened for a dense encoder; ``y`` only scores the history."""

    METHOD = "DEC"
    CONFIG = DECConfig
