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

import keras
import numpy as np

from repro.models.deep_clustering import DeepClusteringModel

from .base import ClusteringResult, check_inputs
from .self_training import SelfTrainingConfig, prepare_input, run_self_training


@dataclass
class DECConfig(SelfTrainingConfig):
    """DEC clustering phase. Defaults as :class:`SelfTrainingConfig`: batch 256, SGD lr 0.01
    momentum 0.9 (DEC Sec. 4.3 and GAPDCEC Sec. 4.1.2), T = 140, tol = 0.1%, alpha = 1,
    k-means n_init = 20, max_iter = 2e4 (DEC-keras)."""


def cluster_dec(encoder: keras.Model, x: np.ndarray, n_clusters: int,
                cfg: DECConfig | None = None, *, seed: int, y: np.ndarray | None = None,
                verbose: int = 1) -> ClusteringResult:
    """Run DEC's clustering phase on a pretrained ``encoder`` (trained in place).

    Args:
        encoder: pretrained encoder, input (n, d) or the image shape; output (n, embedding dim).
        x: (n, ...) float data in [0, 1]; images are flattened for a dense encoder.
        n_clusters: K.
        cfg: hyperparameters (default :class:`DECConfig`).
        seed: seeds Keras (``set_random_seed``) and the k-means initialisation.
        y: optional (n,) true labels, used only to log ACC / NMI.
        verbose: Keras verbosity (0 silent, 1 progress bars, 2 one line per update interval).
    """
    cfg = cfg or DECConfig()
    x = prepare_input(encoder, check_inputs(x, n_clusters, y))
    model = DeepClusteringModel(encoder, n_clusters, len(x), alpha=cfg.alpha, name="dec")
    result = run_self_training(model, x, cfg, seed=seed, y=y, verbose=verbose)
    result.info["method"] = "DEC"
    return result
