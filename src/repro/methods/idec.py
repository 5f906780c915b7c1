"""IDEC: Improved Deep Embedded Clustering with local structure preservation
(Guo, Gao, Liu, Yin, IJCAI 2017).

DEC keeping the decoder: the autoencoder keeps reconstructing while the encoder is trained on the
clustering loss, ``L = L_r + gamma * L_c`` (Eq. 7) with ``gamma = 0.1``; the target distribution,
update interval and stopping rule are DEC's (:mod:`repro.methods.self_training`). As in the
authors' Keras code, ``L_r`` is the batch mean squared error (Keras ``"mse"``).
"""
from __future__ import annotations

from dataclasses import dataclass

from .self_training import SelfTrainingClusterer, SelfTrainingConfig


@dataclass
class IDECConfig(SelfTrainingConfig):
    """IDEC clustering phase: :class:`SelfTrainingConfig` defaults plus gamma = 0.1 (IDEC Sec. 4.1)."""

    gamma: float = 0.1


class IDEC(SelfTrainingClusterer):
    """IDEC's clustering phase on a copy of ``pretrained`` (encoder and decoder, both trained):
    same use as :class:`repro.methods.dec.DEC`."""

    METHOD = "IDEC"
    CONFIG = IDECConfig
    RECONSTRUCTS = True
