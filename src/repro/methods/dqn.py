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
Its network does not depend on the code length: it is trained once (:func:`train_network`)
and quantized at each length (:func:`opq_of`).

**DQNip** (slides: "replace pairwise cosine loss with Inner-Product loss"): L = mean of
(s_ij - <z_i, z_j> / width)^2 -- the slides' "previous works" loss with 1/B read as 1/width,
the largest |<z_i, z_j>| of tanh outputs -- plus the same lambda Q and quantization.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from repro.methods.hash_heads import HeadConfig

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
    from keras import ops

    from repro.methods.hash_heads import pair_similarity

    # the norm clamped before the square root: a z of zeros (all of fc7 dropped) gets a zero
    # gradient, not 0 x inf = NaN
    unit = z / ops.sqrt(ops.maximum(ops.sum(z * z, axis=1, keepdims=True), 1e-24))
    cos = ops.matmul(unit, ops.transpose(unit))
    return ops.mean(ops.square(pair_similarity(labels) - cos))


def inner_product_loss(labels, z):
    """DQNip's loss: mean over the n x n pairs of (s_ij - <z_i, z_j> / width)^2."""
    from keras import ops

    from repro.methods.hash_heads import pair_similarity

    width = ops.cast(ops.shape(z)[1], z.dtype)
    return ops.mean(ops.square(pair_similarity(labels) - ops.matmul(z, ops.transpose(z)) / width))


def quantization_loss(z, codebooks):
    """Eq. 4 in the authors' units: mean over images of ||z_i - C h_i||^2 summed over the
    width, h_i the nearest codeword (per subspace) to this z_i under ``codebooks`` (M, K,
    width / M; held fixed: no gradient flows into C or the choice of h)."""
    from keras import ops

    m, k, d = (int(v) for v in codebooks.shape)
    parts = ops.reshape(z, (-1, m, d))
    c = ops.stop_gradient(ops.convert_to_tensor(codebooks))
    cross = ops.einsum("nmd,mkd->nmk", parts, c)
    dist = ops.sum(c * c, axis=-1)[None, :, :] - 2.0 * cross
    nearest = ops.one_hot(ops.argmin(dist, axis=-1), k, dtype=z.dtype)
    recon = ops.stop_gradient(ops.einsum("nmk,mkd->nmd", nearest, c))
    return ops.mean(ops.sum(ops.square(parts - recon), axis=(1, 2)))


def make_loss(kind: str):
    """Keras loss(y, z), y the labels: the similarity loss ``kind`` (lambda x Q is added by
    the network's :func:`quantization_penalty` layer)."""
    return {"cosine": cosine_loss, "inner_product": inner_product_loss}[kind]


def quantization_penalty(n_subspaces: int, n_codewords: int, width: int, name: str = "q"):
    """A keras layer, identity on z, that adds lambda x Q(z; C) (:func:`quantization_loss`) to
    the model's losses from the z of the same forward pass. C (``codebooks``) and lambda
    (``weight``) are its non-trainable weights: part of the model's state on every backend, so
    assigning them between epochs reaches the one compiled training step (lambda 0 in the
    warm-up)."""
    import keras

    class QuantizationPenalty(keras.layers.Layer):
        def build(self, input_shape):
            self.codebooks = self.add_weight(
                shape=(n_subspaces, n_codewords, width // n_subspaces), initializer="zeros",
                trainable=False, name="codebooks")
            self.weight = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                          name="quantization_weight")

        def call(self, z):
            self.add_loss(self.weight * quantization_loss(z, self.codebooks))
            return z

    return QuantizationPenalty(name=name)


@dataclass
class Quantized:
    """A trained quantization method: encode the database, rank by AQD."""

    network: object                # keras.Model: head inputs -> z
    quantizer: object              # ProductQuantizer, or OPQ (DQN2+)
    history: list
    train_z: np.ndarray

    def embed(self, x: np.ndarray) -> np.ndarray:
        from repro.methods.hash_heads import predict

        return predict(self.network, x)

    def encode(self, z: np.ndarray) -> np.ndarray:
        return self.quantizer.encode(z)

    def distances(self, zq: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """AQD (Eq. 5, squared Euclidean) of every query to every item: M x K look-up tables
        per query, three subspaces' tables merged
        (:func:`repro.quantization.dqn_codes.fast_asymmetric_distances`, the same sums
        regrouped); OPQ (DQN2+) rotates the queries first."""
        from repro.quantization.dqn_codes import fast_asymmetric_distances

        pq = getattr(self.quantizer, "pq", self.quantizer)
        rotate = getattr(self.quantizer, "rotate", None)
        return fast_asymmetric_distances(pq, rotate(zq) if rotate else zq, codes)

    def inner_product_distances(self, zq: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """-<z_q, C h_x>: the authors' evaluation ranking of i2i AQD (thulab/DeepHash,
        DeepHash/evaluation/__init__.py ``MAPs_CQ.get_mAPs_AQD``, dist_type inner_product);
        it differs from Eq. 5 by ||C h_x||^2, so it reorders items whose reconstructions
        differ in norm. OPQ (DQN2+): in its rotated space (the rotation keeps inner products)."""
        rotate = getattr(self.quantizer, "rotate", None)
        pq = getattr(self.quantizer, "pq", self.quantizer)
        zq = rotate(zq) if rotate else zq
        return -(np.asarray(zq, np.float32) @ pq.decode(codes).astype(np.float32).T)


def _network(inputs, cfg: DQNConfig, loss: str, bits, seed: int, penalty=None):
    from keras import layers

    from repro.methods.hash_heads import head_model

    def top(h):
        z = layers.Dense(cfg.width, activation="tanh", name="fcb")(h)
        return penalty(z) if penalty is not None else z

    return head_model(inputs, top, name=f"dqn_{loss}_{bits}", seed=seed)


def train_network(inputs, train_index: np.ndarray, labels: np.ndarray, cfg: DQNConfig,
                  head: HeadConfig, *, loss: str = "cosine", seed: int, verbose: int = 2,
                  log=print):
    """DQN2+'s network: the similarity loss alone (lambda 0, no codebooks), to the plateau.
    It does not depend on the code length. Returns (network, history, training z)."""
    from repro.methods.hash_heads import fit_epochs, label_matrix, predict

    x = inputs.rows(train_index)
    network = _network(inputs, cfg, loss, "any", seed)
    name = f"[{'dqn' if loss == 'cosine' else 'dqnip'}2+ network]"
    history = fit_epochs(network, x, label_matrix(labels), make_loss(loss), head, seed=seed,
                         verbose=verbose, log=log, what=name)
    return network, history, predict(network, x)


def opq_of(network, history, train_z: np.ndarray, bits: int, cfg: DQNConfig, *,
           seed: int) -> Quantized:
    """DQN2+ at ``bits``: OPQ of the trained network's training features with (M, K)."""
    from repro.quantization.opq import OPQ

    m = subspaces(bits, cfg.n_codewords)
    if cfg.width % m:
        raise ValueError(f"dqn.width {cfg.width} is not divisible by M = {m} subspaces ({bits} bits)")
    quantizer = OPQ().fit(train_z, n_subspaces=m, n_codewords=cfg.n_codewords, seed=seed,
                          n_iter=cfg.opq_iter)
    return Quantized(network, quantizer, history, train_z)


def train_dqn(inputs, train_index: np.ndarray, labels: np.ndarray, bits: int, cfg: DQNConfig,
              head: HeadConfig, *, loss: str = "cosine", quantize: bool = True, seed: int,
              verbose: int = 2, log=print) -> Quantized:
    """DQN (``loss="cosine"``), DQNip (``loss="inner_product"``) or, with ``quantize=False``,
    DQN2+ (:func:`train_network` then :func:`opq_of`). ``inputs``:
    :class:`~repro.methods.hash_heads.HeadInputs`; ``labels``: the training images' labels
    (classes or multi-hot). Training stops at the loss plateau (``head``), checked from the
    end of the warm-up on."""
    from repro.methods.hash_heads import fit_epochs, label_matrix, predict
    from repro.quantization import ProductQuantizer
    from repro.quantization.dqn_codes import update_codebooks, update_codes

    m = subspaces(bits, cfg.n_codewords)
    if cfg.width % m:
        raise ValueError(f"dqn.width {cfg.width} is not divisible by M = {m} subspaces ({bits} bits)")
    if not quantize:
        network, history, z = train_network(inputs, train_index, labels, cfg, head, loss=loss,
                                            seed=seed, verbose=verbose, log=log)
        return opq_of(network, history, z, bits, cfg, seed=seed)
    x = inputs.rows(train_index)
    y = label_matrix(labels)
    penalty = quantization_penalty(m, cfg.n_codewords, cfg.width)
    network = _network(inputs, cfg, loss, bits, seed, penalty)
    state = {}
    warmup = min(cfg.warmup_epochs, head.epochs - 1)

    def set_codebooks(c):
        state["codebooks"] = c
        penalty.codebooks.assign(c.astype(np.float32))
        penalty.weight.assign(cfg.quantization_weight)

    def start_codebooks():
        z0 = predict(network, x)
        pq = ProductQuantizer(m, cfg.n_codewords).fit(z0, seed=seed, n_iter=cfg.kmeans_iter)
        state["codes"] = pq.encode(z0)
        set_codebooks(pq.codebooks)

    def between(epoch):            # C (least squares given the codes), then the codes given C
        if "codebooks" not in state:
            if epoch + 1 == warmup:   # the warm-up's end: C and h start from PQ
                start_codebooks()
            return {}
        z = predict(network, x)
        c = update_codebooks(z, state["codes"], cfg.n_codewords, state["codebooks"])
        state["codes"] = update_codes(z, c)
        set_codebooks(c)
        recon = ProductQuantizer.from_codebooks(c).decode(state["codes"])
        return {"quantization_error": float(np.mean(np.sum((z - recon) ** 2, axis=1)))}

    name = f"[{'dqn' if loss == 'cosine' else 'dqnip'} {bits} bits]"
    if warmup == 0:
        start_codebooks()
    history = fit_epochs(network, x, y, make_loss(loss), head, seed=seed,
                         verbose=verbose, log=log, what=name, between=between,
                         min_epochs=warmup + 1)
    z = predict(network, x)
    if "codebooks" not in state:   # a cap shorter than the warm-up: PQ of the final z
        start_codebooks()
    return Quantized(network, ProductQuantizer.from_codebooks(state["codebooks"]), history, z)
