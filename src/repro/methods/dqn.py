"""Deep Quantization Network (Cao, Long, Wang, Zhu, Wen, AAAI 2016) and its two ablations.

**DQN** (slides, Eq. 2-5): the shared backbone's fc6 / fc7, then a bottleneck ``z = tanh(W
fc7 + b)`` of width ``width``, trained on

    L + lambda * Q,   L = mean over the n x n pairs (i, j) of one mini-batch of
                          (s_ij - cos(z_i, z_j))^2                                  (Eq. 3)
                      Q = mean over images of ||z_i - C h_i||^2 (summed over the width)  (Eq. 4)

with s_ij = +1 if images i and j share a label, -1 otherwise, and block-diagonal codebooks
C = diag(C_1 .. C_M) with one-hot h_i per subspace (product quantization of z). **Units as the
authors' code** (thulab/DeepHash, DeepHash/model/dqn/dqn.py, ``apply_loss_function``:
``cos_loss = reduce_mean`` of the n x n squared differences, the diagonal included, where it
is 0; ``cq_loss_img = reduce_mean(reduce_sum(square(z - b C), 1))``; ``loss = cos_loss +
q_lambda * cq_loss_img``), so **lambda = 1e-4 is the authors' value** (examples/dqn/
train_val.sh ``q_lambda=0.0001``), not a re-scaled one.

**Q consistent with z.** Within an epoch C is fixed and h_i is the nearest codeword (per
subspace) to the z_i *of the same training-mode forward pass* -- the same dropout mask -- so Q
measures how far the z the loss sees lies from its own quantization, not dropout noise
against an inference-mode target. The authors do the same in effect: the codes are updated
from the outputs their training steps produced (``feed_batch_output`` of the training pass).
Between epochs C is updated to the least-squares solution given the codes of the
inference-mode z of the training images (:mod:`repro.quantization.dqn_codes`); C starts from
PQ (k-means per subspace) of z after ``warmup_epochs`` epochs of L alone (the authors: lambda
0 until their first code update, after 2 epochs, C from k-means of the outputs).

Retrieval: database items are stored as their codes h_x; a query q is ranked by AQD (Eq. 5)
= sum_m ||z_qm - C_m h_xm||^2 (squared Euclidean, as Eq. 5), through one M x K look-up table
per query (:meth:`repro.quantization.ProductQuantizer.asymmetric_distances`). The authors'
evaluation code ranks i2i AQD by the inner product -<z_q, C h_x> instead (DeepHash/evaluation
``MAPs_CQ.get_mAPs_AQD``, ``dist_type='inner_product'``); the stage reports that ranking
beside ours (``map_ip``).

**Code length.** B = M log2 K bits. K = 256 cannot give 12 bits, so one rule for every length:
K = 16 codewords per subspace (4 bits each) and M = B / 4 subspaces -- 3, 6, 8, 12 subspaces
for 12, 24, 32, 48 bits; ``width`` must be divisible by every M (288 = 24 x 12 by default,
close to the authors' 300).

**DQN2+** (slides: "two step method, Similarity Preserving + OPQ"): the same network trained
with the cosine loss only (lambda = 0, no codebooks), then OPQ (Ge et al. 2013) of its
training features with the same (M, K), AQD retrieval through OPQ's rotated look-up tables.
Its network does not depend on the code length: a paper trains it once
(:meth:`DQN2Plus.train_network`) and hands it to the estimator of each length.

**DQNip** (slides: "replace pairwise cosine loss with Inner-Product loss"): L = mean of
(s_ij - <z_i, z_j> / width)^2 -- the slides' "previous works" loss with 1/B read as 1/width,
the largest |<z_i, z_j>| of tanh outputs -- plus the same lambda Q and quantization.

**Estimators** (:mod:`repro.methods.base`): :class:`DQN` (``loss`` "cosine" = DQN,
"inner_product" = DQNip) and :class:`DQN2Plus`, constructed with the code length, the
:class:`DQNConfig`, the shared head settings and backbone; ``fit(x, y, *, seed)`` returns a
:class:`QuantizationIndex` (``encode`` -> z and codes, ``rank`` by AQD). The network trains as
a ``DQNModel`` (a keras.Model owning its loss, C and lambda its non-trainable state).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

from repro.methods.hash_heads import DeepHead, check_training_data, pair_similarity
from repro.metrics import rank
from repro.models.inference import forward
from repro.quantization import ProductQuantizer
from repro.quantization.dqn_codes import fast_asymmetric_distances, update_codebooks, update_codes
from repro.quantization.opq import OPQ

CODEWORDS_PER_SUBSPACE = 16   # K: 4 bits per subspace, M = bits / 4


@dataclass
class DQNConfig:
    width: int = 288
    quantization_weight: float = 1e-4     # lambda, in the authors' units (module docstring)
    warmup_epochs: int = 2                # epochs of L alone before C and h start (authors: 2)
    n_codewords: int = CODEWORDS_PER_SUBSPACE
    kmeans_iter: int = 25                 # PQ k-means of the initial codebooks
    opq_iter: int = 10                    # DQN2+: OPQ's outer iterations

    def __post_init__(self):
        if self.width < 1 or self.quantization_weight < 0 or self.warmup_epochs < 0:
            raise ValueError(f"dqn: width >= 1, quantization_weight >= 0 and warmup_epochs >= 0 "
                             f"needed, got {self.width}, {self.quantization_weight}, "
                             f"{self.warmup_epochs}")
        if self.n_codewords < 2 or self.n_codewords & (self.n_codewords - 1):
            raise ValueError(f"dqn.n_codewords must be a power of 2, got {self.n_codewords}")


def subspaces(bits: int, n_codewords: int = CODEWORDS_PER_SUBSPACE) -> int:
    """M for a code of ``bits`` bits with K = ``n_codewords``: bits / log2 K (exact)."""
    per = int(np.log2(n_codewords))
    if bits % per:
        raise ValueError(f"{bits} bits cannot be made of {per}-bit subspace codes "
                         f"(K = {n_codewords}); choose bits divisible by {per}")
    return bits // per


def cosine_loss(labels, z):
    """Eq. 3 on one mini-batch: mean over the n x n pairs of (s_ij - cos(z_i, z_j))^2, the
    diagonal (0 there) included, as the authors' ``reduce_mean``."""
    # the norm clamped before the square root: a z of zeros (all of fc7 dropped) gets a zero
    # gradient, not 0 x inf = NaN
    unit = z / ops.sqrt(ops.maximum(ops.sum(z * z, axis=1, keepdims=True), 1e-24))
    cos = ops.matmul(unit, ops.transpose(unit))
    return ops.mean(ops.square(pair_similarity(labels) - cos))


def inner_product_loss(labels, z):
    """DQNip's loss: mean over the n x n pairs of (s_ij - <z_i, z_j> / width)^2."""
    width = ops.cast(ops.shape(z)[1], z.dtype)
    return ops.mean(ops.square(pair_similarity(labels) - ops.matmul(z, ops.transpose(z)) / width))


def quantization_loss(z, codebooks):
    """Eq. 4 in the authors' units: mean over images of ||z_i - C h_i||^2 summed over the
    width, h_i the nearest codeword (per subspace) to this z_i under ``codebooks`` (M, K,
    width / M; held fixed: no gradient flows into C or the choice of h)."""
    m, k, d = (int(v) for v in codebooks.shape)
    parts = ops.reshape(z, (-1, m, d))
    c = ops.stop_gradient(ops.convert_to_tensor(codebooks))
    cross = ops.einsum("nmd,mkd->nmk", parts, c)
    dist = ops.sum(c * c, axis=-1)[None, :, :] - 2.0 * cross
    nearest = ops.one_hot(ops.argmin(dist, axis=-1), k, dtype=z.dtype)
    recon = ops.stop_gradient(ops.einsum("nmk,mkd->nmd", nearest, c))
    return ops.mean(ops.sum(ops.square(parts - recon), axis=(1, 2)))


SIMILARITY_LOSSES = {"cosine": cosine_loss, "inner_product": inner_product_loss}


class DQNModel(keras.Model):
    """``network`` (inputs -> z) trained on ``L(y, z) + lambda Q(z; C)`` (``y``: the label
    matrix): it owns its loss, holds C (``codebooks``, (M, K, width / M)) and lambda as
    non-trainable variables that the one compiled training step reads (lambda 0 in the
    warm-up), and the training images' codes (``codes``, (n, M)) and C (``books``, as
    computed) between epochs. ``n_subspaces`` None: L alone (DQN2+'s network)."""

    def __init__(self, network, loss: str, n_subspaces: int | None = None,
                 n_codewords: int = CODEWORDS_PER_SUBSPACE):
        super().__init__(name=network.name)
        self.network, self.similarity = network, SIMILARITY_LOSSES[loss]
        self.quantized, self.codes, self.books = n_subspaces is not None, None, None
        if self.quantized:
            shape = (n_subspaces, n_codewords, int(network.output_shape[-1]) // n_subspaces)
            self.codebooks = self.add_weight(shape=shape, initializer="zeros",
                                             trainable=False, name="codebooks")
            self.quantization_weight = self.add_weight(
                shape=(), initializer="zeros", trainable=False, name="quantization_weight")

    def call(self, x, training=None):
        return self.network(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = self.similarity(y, y_pred)
        if self.quantized:
            loss = loss + self.quantization_weight * quantization_loss(y_pred, self.codebooks)
        return loss

    def start(self, z: np.ndarray, weight: float, *, seed: int, kmeans_iter: int) -> None:
        """C and h from PQ (k-means per subspace) of the training images' z; lambda on."""
        m, k = (int(v) for v in self.codebooks.shape[:2])
        pq = ProductQuantizer(m, k).fit(z, seed=seed, n_iter=kmeans_iter)
        self.codes, self.books = pq.encode(z), pq.codebooks
        self.codebooks.assign(self.books.astype(np.float32))
        self.quantization_weight.assign(weight)

    def update(self, z: np.ndarray) -> float:
        """Between epochs: C by least squares given the codes, then the codes given C;
        returns the quantization error of z (mean over images, summed over the width)."""
        self.books = update_codebooks(z, self.codes, int(self.codebooks.shape[1]), self.books)
        self.codes = update_codes(z, self.books)
        self.codebooks.assign(self.books.astype(np.float32))
        recon = ProductQuantizer.from_codebooks(self.books).decode(self.codes)
        return float(np.mean(np.sum((z - recon) ** 2, axis=1)))


@dataclass
class Encoded:
    """What :meth:`QuantizationIndex.encode` returns: the embeddings z (what a query is
    ranked by: AQD does not quantize it) and the codes (what a database item is stored as)."""

    z: np.ndarray
    codes: np.ndarray


@dataclass
class QuantizationIndex:
    """A trained quantization method: encode items, rank a database by AQD (or by -<z, C h>)."""

    network: object                # keras.Model: head inputs -> z
    quantizer: object              # ProductQuantizer, or OPQ (DQN2+)
    history: list

    def encode(self, x: np.ndarray) -> Encoded:
        z = forward(self.network, x)
        return Encoded(z, self.quantizer.encode(z))

    def rank(self, queries: Encoded, database: Encoded, top: int | None = None, *,
             distance: str = "aqd") -> np.ndarray:
        """Database indices per query, nearest first (ties: lower index first), by
        ``distance``: "aqd" = Eq. 5 (squared Euclidean) through M x K look-up tables per query,
        three subspaces' tables merged (:func:`repro.quantization.dqn_codes.
        fast_asymmetric_distances`, the same sums regrouped); "inner_product" = -<z_q, C h_x>,
        the authors' evaluation ranking of i2i AQD (thulab/DeepHash, DeepHash/evaluation/
        __init__.py ``MAPs_CQ.get_mAPs_AQD``, dist_type inner_product), which differs from
        Eq. 5 by ||C h_x||^2. OPQ (DQN2+): in its rotated space (queries rotated; the rotation
        keeps both)."""
        pq = getattr(self.quantizer, "pq", self.quantizer)
        rotate = getattr(self.quantizer, "rotate", None)
        zq = rotate(queries.z) if rotate else queries.z
        if distance == "aqd":
            return rank(fast_asymmetric_distances(pq, zq, database.codes), top)
        if distance == "inner_product":
            return rank(-(np.asarray(zq, np.float32)
                          @ pq.decode(database.codes).astype(np.float32).T), top)
        raise ValueError(f"dqn: unknown distance {distance!r}; known: aqd, inner_product")


class _QuantizationHead(DeepHead):
    def __init__(self, bits: int, cfg: DQNConfig, head, backbone, *, loss: str = "cosine",
                 verbose: int = 2, log=print):
        super().__init__(bits, cfg, head, backbone, verbose=verbose, log=log)
        if loss not in SIMILARITY_LOSSES:
            raise ValueError(f"dqn: unknown loss {loss!r}; known: {sorted(SIMILARITY_LOSSES)}")
        self.loss = loss
        self.n_subspaces = subspaces(self.bits, cfg.n_codewords)
        if cfg.width % self.n_subspaces:
            raise ValueError(f"dqn.width {cfg.width} is not divisible by M = {self.n_subspaces} "
                             f"subspaces ({self.bits} bits)")

    def _network(self, x: np.ndarray, seed: int):
        return self._model(x, lambda h: layers.Dense(self.cfg.width, activation="tanh",
                                                     name="fcb")(h), seed)


class DQN(_QuantizationHead):
    """DQN (``loss="cosine"``) or DQNip (``loss="inner_product"``) at ``bits`` bits (a
    :class:`~repro.methods.base.Retriever`): ``fit`` trains the head as a :class:`DQNModel`
    (L + lambda Q, C and h updated between epochs, module docstring) and stops at the loss
    plateau (``head``), checked from the end of the warm-up on."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.name = "dqn" if self.loss == "cosine" else "dqnip"

    def fit(self, x: np.ndarray, y: np.ndarray, *, seed: int) -> QuantizationIndex:
        x, labels = check_training_data(x, y)
        cfg = self.cfg
        network = self._network(x, seed)
        model = DQNModel(network, self.loss, self.n_subspaces, cfg.n_codewords)
        warmup = min(cfg.warmup_epochs, self.head.epochs - 1)

        def start():
            model.start(forward(network, x), cfg.quantization_weight, seed=seed,
                        kmeans_iter=cfg.kmeans_iter)

        def between(epoch):
            if model.books is not None:
                return {"quantization_error": model.update(forward(network, x))}
            if epoch + 1 == warmup:   # the warm-up's end: C and h start from PQ
                start()
            return {}

        if warmup == 0:
            start()
        history = self._train(model, x, labels, None, seed, between=between,
                              min_epochs=warmup + 1)
        if model.books is None:   # a cap shorter than the warm-up: PQ of the final z
            start()
        return QuantizationIndex(network, ProductQuantizer.from_codebooks(model.books), history)


class DQN2Plus(_QuantizationHead):
    """DQN2+ at ``bits`` bits: the similarity network (the loss alone, no codebooks: it does
    not depend on the code length) then OPQ of its training features with (M, K).

    ``network``: (keras network, history) of :meth:`train_network` on the same training rows,
    labels and seed, so that a paper trains it once and quantizes it at every length; None:
    ``fit`` trains it."""

    name = "dqn2+"

    def __init__(self, *args, network=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.network = network

    def train_network(self, x: np.ndarray, y: np.ndarray, *, seed: int):
        """(network, history): the similarity loss to the plateau."""
        x, labels = check_training_data(x, y)
        network = self._network(x, seed)
        model = DQNModel(network, self.loss)
        return network, self._train(model, x, labels, None, seed)

    def fit(self, x: np.ndarray, y: np.ndarray, *, seed: int) -> QuantizationIndex:
        x, _ = check_training_data(x, y)
        network, history = self.network or self.train_network(x, y, seed=seed)
        z = forward(network, x)
        quantizer = OPQ().fit(z, n_subspaces=self.n_subspaces, n_codewords=self.cfg.n_codewords,
                              seed=seed, n_iter=self.cfg.opq_iter)
        return QuantizationIndex(network, quantizer, history)
