"""IDEC: Improved Deep Embedded Clustering with local structure preservation
(Guo, Gao, Liu, Yin, IJCAI 2017).

DEC keeping the decoder: the autoencoder keeps reconstructing while the encoder is trained on the
clustering loss, ``L = L_r + gamma * L_c`` (Eq. 7) with ``gamma = 0.1``; the target distribution,
update interval and stopping rule are DEC's (:mod:`repro.methods.self_training`). As in the
authors' Keras code, ``L_r`` is the batch mean squared error (Keras ``"mse"``).
"""
from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from repro.models.deep_clustering import DeepClusteringModel

from .base import ClusteringResult, check_inputs
from .self_training import SelfTrainingConfig, prepare_input, run_self_training


@dataclass
class IDECConfig(SelfTrainingConfig):
    """IDEC clustering phase: :class:`SelfTrainingConfig` defaults plus gamma = 0.1 (IDEC Sec. 4.1)."""

    gamma: float = 0.1


def cluster_idec(autoencoder: keras.Model, encoder: keras.Model, x: np.ndarray, n_clusters: int,
                 cfg: IDECConfig | None = None, *, seed: int, y: np.ndarray | None = None,
                 verbose: int = 1) -> ClusteringResult:
    """Run IDEC's clustering phase on a pretrained (autoencoder, encoder) pair (trained in place).

    Same arguments as :func:`repro.methods.dec.cluster_dec`, plus the autoencoder whose
    reconstruction loss is kept; the encoder must be part of it (as built by repro.models).
    """
    cfg = cfg or IDECConfig()
    x = prepare_input(encoder, check_inputs(x, n_clusters, y))
    model = DeepClusteringModel(encoder, n_clusters, len(x), autoencoder=autoencoder,
                                gamma=cfg.gamma, alpha=cfg.alpha, name="idec")
    result = run_self_training(model, x, cfg, seed=seed, y=y, verbose=verbose)
    result.info["method"] = "IDEC"
    return result
