"""BQDEC: binary-quantized deep embedded clustering, the authors' previous method (ref. [28] of the
PQDEC paper), as the PQDEC paper describes it: "BQDEC is also a similar parameter setting as DEC.
Only embedded layer is binary quantized. We take 256-bit code length" (Sec. IV.B.2).

Our reading (ref. [28] is not available to us):

* Network: DEC's dense autoencoder with a 256-unit embedding, d-500-500-2000-256 (the runner
  pretrains it with ``dims=(500, 500, 2000, 256)``), so that one bit per unit gives 256-bit codes.
* Codes: bits ``[z_i > 0]`` (:class:`~repro.models.quantization_layers.BinaryQuantization`),
  stored packed, 32 bytes per code.
* Objective: ``L = L_r + gamma * L_q`` with ``L_q = mean_i ||z_i - b_i||^2 / B``, the
  deep-hashing quantization loss between the bottleneck and its binary code, as PQDEC's Eq. 4-5
  with the product quantizer replaced by the binary one, gamma = 0.1 as PQDEC. The code's value
  is ``b = a * sign(z)`` with a per-unit scale ``a_j`` = batch mean of ``|z_j|``
  (``code_scale="mean_abs"``; our choice, the bits are unchanged). With a = 1 (``"unit"``, sign
  in {-1, +1}) a pretrained embedding of small magnitude is pulled towards +-1, and L_q falls
  fastest by shifting whole units to one sign: most bits turn constant over the data set and
  k-majority leaves clusters empty. With a = mean |z| the pull matches the embedding's scale.
  L_q is divided by B = 256 (``lq_reduction="mean"``; our choice): L_r is a mean over pixels
  (Keras ``"mse"``), and with the sum over 256 bits gamma * L_q starts orders of magnitude
  larger than L_r, so SGD drives every bit to a constant. ``lq_reduction="sum"`` gives the summed form. (PQDEC's L_q over 10
  dimensions is summed, as Eq. 4; it stays of the order of L_r.)
* Decoder input: the binary code. The paper's Eq. 2 describes this encoder-decoder pair:
  "Encoder f_w maps real data points into binary code vector with c bits and Decoder g_u maps
  binary codes back to real data points", ``f_w(x) = sigma(Wx)`` with sigma "an element wise step
  function" (the binary autoencoder of its ref. [18]), and Eq. 5 reconstructs through it. The
  decoder therefore reads the code's value a * sign(z) (``decode="quantized"``), trained through the step with the
  straight-through gradient, so that the codes themselves must carry what the decoder needs.
* Clustering: binary k-means under the Hamming distance (:class:`~repro.quantization.KMajority`,
  centres = per-bit majority of the members), initial centres best of ``n_init`` random starts,
  re-run warm-started after every epoch; PQDEC's epoch loop and stopping rule
  (:class:`repro.methods.pqdec.QuantizedDEC`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from repro.models.quantization_layers import BinaryQuantization, QuantizedAutoencoder
from repro.quantization import KMajority, pack_bits

from .pqdec import QuantizedClusteringConfig, QuantizedDEC, best_of_restarts


@dataclass
class BQDECConfig(QuantizedClusteringConfig):
    """BQDEC: :class:`~repro.methods.pqdec.QuantizedClusteringConfig` (DEC-like) plus the codes.

    n_bits 256: "We take 256-bit code length" (IV.B.2); must equal the embedding dimension.
    kmajority_iter 10: k-majority assignment steps per epoch, warm-started (our choice, as
    PQDEC's ``pq_kmeans_iter``).
    lq_reduction "mean": L_q averaged over the bits, "sum": summed (module docstring; our choice).
    decode "quantized": the decoder reconstructs from the binary code (Eq. 2, module docstring);
    "continuous": from the real-valued embedding, as PQDEC's decoder.
    code_scale "mean_abs": the code's value is a * sign(z), a = batch mean of |z| per unit;
    "unit": sign(z) in {-1, +1} (module docstring; our choice).
    """

    n_bits: int = 256
    kmajority_iter: int = 10
    lq_reduction: str = "mean"
    decode: str = "quantized"
    code_scale: str = "mean_abs"

    _COUNT_FIELDS: ClassVar[tuple[str, ...]] = QuantizedClusteringConfig._COUNT_FIELDS + (
        "n_bits", "kmajority_iter")

    def __post_init__(self):
        super().__post_init__()
        if self.lq_reduction not in BinaryQuantization.REDUCTIONS:
            raise ValueError(f"unknown lq_reduction {self.lq_reduction!r}; "
                             f"expected one of {BinaryQuantization.REDUCTIONS}")
        if self.code_scale not in BinaryQuantization.SCALES:
            raise ValueError(f"unknown code_scale {self.code_scale!r}; "
                             f"expected one of {BinaryQuantization.SCALES}")
        if self.decode not in QuantizedAutoencoder.DECODE:
            raise ValueError(f"unknown decode {self.decode!r}; expected one of {QuantizedAutoencoder.DECODE}")


class BinaryCodeClustering:
    """k-majority (binary k-means, Hamming distance) of (n, B) bits; centres are (K, B) bits."""

    def __init__(self, n_clusters: int, cfg: BQDECConfig, seed: int):
        self.n_clusters, self.cfg, self.seed = n_clusters, cfg, seed
        self.code_bits = cfg.n_bits

    def initial(self, codes):
        make = lambda s: KMajority(self.n_clusters, n_iter=self.cfg.init_iter, seed=s)  # noqa: E731
        fit = best_of_restarts(make, codes.astype(np.uint8), self.cfg.n_init, self.seed)
        self.centres = fit.centres_
        return fit.labels_

    def refine(self, codes):
        fit = KMajority(self.n_clusters, n_iter=self.cfg.kmajority_iter, seed=self.seed).fit(
            codes.astype(np.uint8), init_centres=self.centres)
        self.centres = fit.centres_
        return fit.labels_

    def stored(self, codes):
        """Packed codes (n, B/8) and centres (K, B/8) uint8: 8 bits per byte."""
        return pack_bits(codes.astype(np.uint8)), pack_bits(self.centres)


class BQDEC(QuantizedDEC):
    """BQDEC's clustering phase (module docstring): ``BQDEC(n_clusters, config, autoencoder=,
    encoder=, verbose=).fit(x, seed=..., y=None)``.

    autoencoder, encoder: pretrained, sharing layers, embedding dimension ``config.n_bits``
    (256: ``dense_autoencoder(d, dims=(500, 500, 2000, 256))``). x: (n, ...) float data in
    [0, 1]; images are flattened for a dense net. seed: seeds Keras and the k-majority
    restarts. y: (n,) labels, only to score the history.

    Beside :class:`~repro.methods.pqdec.QuantizedDEC`'s result: ``code_bits`` 256,
    ``code_bytes`` 32, ``codes`` (n, 32) and ``centres`` (K, 32) packed uint8.
    """

    name = "BQDEC"
    config_class = BQDECConfig

    @property
    def decode(self) -> str:
        return self.config.decode

    def _check(self):
        cfg = self.config
        embedding_dim = self.encoder.outputs[0].shape[-1]
        if embedding_dim != cfg.n_bits:
            raise ValueError(
                f"BQDEC's {cfg.n_bits}-bit codes take one bit per embedding unit, but the "
                f"encoder's embedding has {embedding_dim} units; pretrain a dense autoencoder "
                f"with dims=(500, 500, 2000, {cfg.n_bits}) or set n_bits={embedding_dim}")
        if cfg.init != "random":
            raise ValueError(f"BQDEC's k-majority starts from random codes only, got "
                             f"init={cfg.init!r}")

    def _layer(self):
        return BinaryQuantization(self.config.lq_reduction, self.config.code_scale,
                                  name="binary_quantization")

    def _code_clustering(self, layer, x, seed):
        return BinaryCodeClustering(int(self.n_clusters), self.config, seed), 0.0

    def _info(self, layer):
        return {"codebooks_nbytes": 0}
