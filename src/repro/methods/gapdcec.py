"""GAPDCEC: Global Average Pooled Deep Convolutional Embedded Clustering
(Kolla and Venugopal, 2018; the GAPDCEC paper).

The paper changes one thing in DCEC (Sec. 3, Fig. 1): "We performed GAP on these feature maps
instead of they flatten in DCEC. Then fully connected embedded layer with only 10-dimensional
feature space. We keep the decoder as it is like in DCEC". Our reading, implemented by
``conv_autoencoder(..., pooling="gap")``:

* encoder: conv1 32@5x5/2, conv2 64@5x5/2, conv3 128@3x3/2 (ReLU; 3x3x128 maps on MNIST),
  then global average pooling F^k = (1/Z) sum_ij A^k_ij per map (Eq. 2; the printed "1/7" is
  read as 1/Z, Z the number of pixels, as the text under the equation says), giving 128
  values, then the dense 10-unit linear embedding. Eq. 3, ``f_W(x) = sigma[(x * W) + F^k]``, is
  read as this composition conv -> GAP -> dense (not as adding F^k to the conv output);
* decoder: DCEC's, unchanged: dense (ReLU) from the 10-d embedding to 3x3x128, reshape,
  transposed convolutions 64@3x3/2, 32@5x5/2, c@5x5/2 back to the input shape;
* objective, optimisation and stopping rule: DCEC's (Eq. 4-8: L = L_r + gamma L_c, SGD with
  momentum, P updated every T steps, stop at tol), with the Sec. 4.1.2 settings: lr 0.01,
  momentum 0.9, tol 0.1%, T = 140; pretraining as DCEC's (Adam, 200 epochs, batch 256).
"""
from __future__ import annotations

from dataclasses import dataclass

from .dcec import DCEC, DCECConfig


@dataclass
class GAPDCECConfig(DCECConfig):
    """GAPDCEC hyperparameters: identical to :class:`DCECConfig` (GAPDCEC Sec. 4.1.2)."""


class GAPDCEC(DCEC):
    """GAPDCEC end to end: pretrain its GAP CAE, then cluster as :class:`~repro.methods.dcec.DCEC`
    (same arguments; ``pretrained`` must be a CAE built with ``pooling="gap"``)."""

    METHOD = "GAPDCEC"
    CONFIG = GAPDCECConfig
    POOLING = "gap"
