"""DCEC: Deep Clustering with Convolutional Autoencoders (Guo, Liu, Zhu, Yin, ICONIP 2017).

IDEC's objective on a convolutional autoencoder (CAE, :func:`repro.models.autoencoders.conv_autoencoder`):
the CAE is pretrained end to end (Adam, 200 epochs, batch 256; DCEC Sec. 3.3), centres are
initialised by k-means on the 10-d embedding, then ``L = L_r + gamma * L_c`` (Eq. 5, gamma = 0.1)
is minimised with DEC's target updates and stopping rule (:mod:`repro.methods.self_training`).

The same machinery runs GAPDCEC (``pooling="gap"``, :mod:`repro.methods.gapdcec`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from repro.models.deep_clustering import DeepClusteringModel

from .base import ClusteringResult, check_inputs
from .pretrain import PretrainConfig, PretrainedAutoencoder, pretrain_conv_autoencoder
from .self_training import SelfTrainingConfig, run_self_training


@dataclass
class DCECConfig(SelfTrainingConfig):
    """DCEC: :class:`SelfTrainingConfig` defaults (SGD lr 0.01 momentum 0.9 as GAPDCEC Sec. 4.1.2
    states for DCEC and GAPDCEC, T = 140, tol 0.1%, batch 256, max_iter 2e4) plus gamma = 0.1,
    the CAE (conv 32/64/128 channels, 10-d embedding) and its pretraining (Adam, 200 epochs)."""

    gamma: float = 0.1
    filters: tuple[int, ...] = (32, 64, 128)
    embedding_dim: int = 10
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)


def cluster_conv_autoencoder(autoencoder: keras.Model, encoder: keras.Model, x: np.ndarray,
                             n_clusters: int, cfg: DCECConfig, *, seed: int,
                             y: np.ndarray | None = None, verbose: int = 1) -> ClusteringResult:
    """DCEC's clustering phase on an already pretrained CAE (trained in place); x (n, h, w, c)."""
    x = check_inputs(x, n_clusters, y)
    if x.ndim != 4:
        raise ValueError(f"DCEC / GAPDCEC need images (n, h, w, c), got shape {x.shape}")
    model = DeepClusteringModel(encoder, n_clusters, len(x), autoencoder=autoencoder,
                                gamma=cfg.gamma, alpha=cfg.alpha, name="dcec")
    return run_self_training(model, x, cfg, seed=seed, y=y, verbose=verbose)


def run_dcec(x: np.ndarray, n_clusters: int, cfg: DCECConfig, *, pooling: str, seed: int,
             y: np.ndarray | None = None, verbose: int = 1,
             pretrained: PretrainedAutoencoder | None = None) -> ClusteringResult:
    """Pretrain a CAE with the given ``pooling`` (unless ``pretrained`` is given), then cluster."""
    x = check_inputs(x, n_clusters, y)
    if x.ndim != 4:
        raise ValueError(f"DCEC / GAPDCEC need images (n, h, w, c), got shape {x.shape}")
    if pretrained is not None and (pretrained.architecture != "conv"
                                   or pretrained.build_kwargs.get("pooling") != pooling):
        raise ValueError(f"pretrained autoencoder is {pretrained.architecture!r} with pooling "
                         f"{pretrained.build_kwargs.get('pooling')!r}; this method needs a conv "
                         f"autoencoder with pooling {pooling!r}")
    if pretrained is None:
        pretrained = pretrain_conv_autoencoder(
            x, cfg.pretrain, seed=seed, filters=cfg.filters, embedding_dim=cfg.embedding_dim,
            pooling=pooling, verbose=verbose)
    autoencoder, encoder = pretrained.build()
    result = cluster_conv_autoencoder(autoencoder, encoder, x, n_clusters, cfg, seed=seed, y=y,
                                      verbose=verbose)
    result.timings["pretrain_s"] = pretrained.seconds
    result.info["pretrain_loss"] = pretrained.loss_history
    result.info["pooling"] = pooling
    return result


def cluster_dcec(x: np.ndarray, n_clusters: int, cfg: DCECConfig | None = None, *, seed: int,
                 y: np.ndarray | None = None, verbose: int = 1,
                 pretrained: PretrainedAutoencoder | None = None) -> ClusteringResult:
    """DCEC end to end: pretrain its CAE (flatten -> dense embedding), then cluster.

    Args:
        x: (n, h, w, c) float images in [0, 1] (e.g. 28x28x1 MNIST, 16x16x1 USPS).
        n_clusters: K.
        cfg: hyperparameters (default :class:`DCECConfig`).
        seed: seeds Keras (weights, shuffling) and k-means.
        y: optional (n,) true labels, used only to log ACC / NMI.
        verbose: Keras verbosity for pretraining and clustering.
        pretrained: reuse this pretrained CAE (architecture "conv", pooling "flatten") instead.
    """
    result = run_dcec(x, n_clusters, cfg or DCECConfig(), pooling="flatten", seed=seed, y=y,
                      verbose=verbose, pretrained=pretrained)
    result.info["method"] = "DCEC"
    return result
