"""Deep Quantization Network (Cao, Long, Wang, Zhu, Wen, AAAI 2016) and its two ablations.

**DQN** (slides, Eq. 2-5): the shared backbone's fc6 / fc7, then a bottleneck ``z = tanh(W
fc7 + b)`` of width ``width``, trained on

    L + lambda * Q,   L = mean over pairs i != j of (s_ij - cos(z_i, z_j))^2     (Eq. 3)
                      Q = mean over images of ||z_i - C h_i||^2 / width         (Eq. 4 / width)

with s_ij = +1 if images i and j share a label, -1 otherwise (pairs of one mini-batch), and
block-diagonal codebooks C = diag(C_1 .. C_M) with one-hot h_i per subspace (product
quantization of z). Alternating optimisation, as the slides' objective (2) is solved: the
network is trained one epoch with C and H fixed (the term Q pulls z_i towards its current
reconstruction C h_i); then C is updated to the least-squares solution with H fixed and H to
the exact nearest codeword per subspace with C fixed (:mod:`repro.quantization.dqn_codes`).
C and H start from PQ (k-means per subspace) of the network's z after ``warmup_epochs`` epochs
of L alone (the slides do not say how C starts; PQ of random-bottleneck features would pull
z towards meaningless codewords).

Retrieval: database items are stored as their codes h_x; a query q is ranked by AQD (Eq. 5)
= sum_m ||z_qm - C_m h_xm||^2, through one M x K look-up table per query
(:meth:`repro.quantization.ProductQuantizer.asymmetric_distances`).

**Code length.** B = M log2 K bits. K = 256 cannot give 12 bits, so one rule for every length:
K = 16 codewords per subspace (4 bits each) and M = B / 4 subspaces -- 3, 6, 8, 12 subspaces
for 12, 24, 32, 48 bits; ``width`` must be divisible by every M (288 = 24 x 12 by default,
close to the 300 of the authors' re-implementations).

**lambda.** The paper's value is unconfirmed (wave2_facts.md: 1e-4 in re-implementations that
*sum* the losses over pairs and images). Here both terms are means (above; Q also over the
width, so lambda does not change with it) and ``lambda`` is ours, ``quantization_weight``
(default 1: the two terms start at the same order), stated in the report; it was not tuned
on the test queries.

**DQN2+** (slides: "two step method, Similarity Preserving + OPQ"): the same network trained
with the cosine loss only (lambda = 0, no codebooks), then OPQ (Ge et al. 2013) of its
training features with the same (M, K), AQD retrieval through OPQ's rotated look-up tables.

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
    quantization_weight: float = 1.0      # lambda (ours; see the module docstring)
    warmup_epochs: int = 1                # epochs of L alone before C and H start
    n_codewords: int = CODEWORDS_PER_SUBSPACE
    kmeans_iter: int = 25                 # PQ k-means of the initial codebooks
    opq_iter: int = 10                    # DQN2+: OPQ's outer iterations

    def __post_init__(self):
        if self.width < 1 or self.quantization_weight < 0:
            raise ValueError(f"dqn: width >= 1 and quantization_weight >= 0 needed, got "
                             f"{self.width}, {self.quantization_weight}")
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
    """Eq. 3 on one mini-batch: mean over pairs i != j of (s_ij - cos(z_i, z_j))^2."""
    from keras import ops

    from repro.methods.hash_heads import off_diagonal_mean, pair_similarity

    unit = z / ops.maximum(ops.sqrt(ops.sum(z * z, axis=1, keepdims=True)), 1e-12)
    cos = ops.matmul(unit, ops.transpose(unit))
    return off_diagonal_mean(ops.square(pair_similarity(labels) - cos))


def inner_product_loss(labels, z):
    """DQNip's loss: mean over pairs i != j of (s_ij - <z_i, z_j> / width)^2."""
    from keras import ops

    from repro.methods.hash_heads import off_diagonal_mean, pair_similarity

    width = ops.cast(ops.shape(z)[1], z.dtype)
    return off_diagonal_mean(ops.square(pair_similarity(labels) - ops.matmul(z, ops.transpose(z)) / width))


def make_loss(kind: str, n_labels: int):
    """Keras loss(y, z): y = [labels (n_labels columns) | reconstruction C h (width columns) |
    lambda (one column, the same in every row)], so one compiled training step serves the
    warm-up (lambda 0: the similarity loss alone) and the epochs after it (lambda > 0)."""
    from keras import ops

    similarity = {"cosine": cosine_loss, "inner_product": inner_product_loss}[kind]

    def loss(y, z):
        target, weight = y[:, n_labels:-1], ops.mean(y[:, -1])
        return similarity(y[:, :n_labels], z) + weight * ops.mean(ops.square(z - target))

    return loss


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
        """AQD (Eq. 5) of every query to every item: M x K look-up tables per query, three
        subspaces' tables merged (:func:`repro.quantization.dqn_codes.fast_asymmetric_distances`,
        the same sums regrouped); OPQ (DQN2+) rotates the queries first."""
        from repro.quantization.dqn_codes import fast_asymmetric_distances

        pq = getattr(self.quantizer, "pq", self.quantizer)
        rotate = getattr(self.quantizer, "rotate", None)
        return fast_asymmetric_distances(pq, rotate(zq) if rotate else zq, codes)


def train_dqn(inputs, train_index: np.ndarray, labels: np.ndarray, bits: int, cfg: DQNConfig,
              head: HeadConfig, *, loss: str = "cosine", quantize: bool = True, seed: int,
              verbose: int = 2, log=print) -> Quantized:
    """DQN (``loss="cosine"``), DQNip (``loss="inner_product"``) or, with ``quantize=False``,
    DQN2+'s network followed by OPQ. ``inputs``: :class:`~repro.methods.hash_heads.HeadInputs`;
    ``labels``: the training images' labels (classes or multi-hot)."""
    from keras import layers

    from repro.methods.hash_heads import fit_epochs, head_model, label_matrix, predict
    from repro.quantization import ProductQuantizer
    from repro.quantization.dqn_codes import update_codebooks, update_codes

    m = subspaces(bits, cfg.n_codewords)
    if cfg.width % m:
        raise ValueError(f"dqn.width {cfg.width} is not divisible by M = {m} subspaces ({bits} bits)")
    x = inputs.rows(train_index)
    y = label_matrix(labels)
    network = head_model(inputs, lambda h: layers.Dense(cfg.width, activation="tanh", name="fcb")(h),
                         name=f"dqn_{loss}_{bits}")
    state = {}
    warmup = min(cfg.warmup_epochs, head.epochs - 1) if quantize else head.epochs

    def start_codebooks():
        z0 = predict(network, x)
        pq = ProductQuantizer(m, cfg.n_codewords).fit(z0, seed=seed, n_iter=cfg.kmeans_iter)
        state.update(codebooks=pq.codebooks, codes=pq.encode(z0))

    def targets(epoch):   # [labels | C h | lambda]; zeros and lambda 0 before the codebooks
        if "codebooks" not in state:
            return np.concatenate([y, np.zeros((len(y), cfg.width + 1), np.float32)], axis=1)
        recon = ProductQuantizer.from_codebooks(state["codebooks"]).decode(state["codes"])
        weight = np.full((len(y), 1), cfg.quantization_weight, np.float32)
        return np.concatenate([y, recon.astype(np.float32), weight], axis=1)

    def between(epoch):            # C (least squares given H), then H (nearest codeword given C)
        if "codebooks" not in state:
            if quantize and epoch + 1 == warmup:   # the warm-up's end: C and H start from PQ
                start_codebooks()
            return {}
        z = predict(network, x)
        state["codebooks"] = update_codebooks(z, state["codes"], cfg.n_codewords, state["codebooks"])
        state["codes"] = update_codes(z, state["codebooks"])
        recon = ProductQuantizer.from_codebooks(state["codebooks"]).decode(state["codes"])
        return {"quantization_error": float(np.mean(np.sum((z - recon) ** 2, axis=1)))}

    name = f"[{'dqn' if loss == 'cosine' else 'dqnip'}{'' if quantize else '2+'} {bits} bits]"
    if quantize and warmup == 0:
        start_codebooks()
    # one compiled step for every epoch: lambda travels in the targets (0 in the warm-up)
    history = fit_epochs(network, x, targets, make_loss(loss, y.shape[1]), head, seed=seed,
                         verbose=verbose, log=log, what=name, between=between)
    z = predict(network, x)
    if quantize:
        quantizer = ProductQuantizer.from_codebooks(state["codebooks"])
    else:
        from repro.quantization.opq import OPQ

        quantizer = OPQ().fit(z, n_subspaces=m, n_codewords=cfg.n_codewords, seed=seed,
                              n_iter=cfg.opq_iter)
    return Quantized(network, quantizer, history, z)
