"""KSH: Supervised Hashing with Kernels (Liu, Wang, Ji, Jiang, Chang; CVPR 2012).

The DQN paper's shallow baseline (KSH on pixels or GIST, KSH-D on fc7 features). This
follows the authors' MATLAB release (ColumbiaDVMM/Supervised-Hashing-with-Kernels,
``KSH_demo.m`` and ``OptProjectionFast.m``), re-written in numpy/scipy:

Kernel features. m anchors drawn at random from the training set (without replacement).
``D = squared Euclidean distances`` of *all* n training vectors to the anchors;
``sigma = mean(D)`` over the whole ``(n, m)`` matrix (the MATLAB ``mean(mean(KTrain, 2))``
before the exponential), the kernel is ``exp(-D / (2 sigma))`` (so sigma plays the role of
a variance, not of a width), and the features are centred with their mean over the n
training vectors; sigma and that mean are stored and reused by :meth:`KSH.encode`.

Labels. l of the n training vectors are drawn at random (independently of the anchors) as
the labelled set. ``S_ij = +1`` when i and j share a label (equal class for a 1-D label
vector, at least one common class for an ``(n, c)`` multi-hot matrix), else -1; the target
is ``r S`` for r bits. Hamming affinities of codes: ``code_i . code_j``.

Greedy bits. For bit k the residual ``R_k = r S - sum_{j<k} y_j y_j^T`` (y_j = the chosen
bits of the labelled samples in {-1,+1}); the bit is ``sign(K a)`` with ``K`` the (l, m)
centred kernel features of the labelled samples and ``a`` found by

1. spectral relaxation: the top generalised eigenvector of ``(K^T R_k K) a = lambda (K^T K) a``
   (``K^T K`` gets a ridge of 1e-6 of its mean diagonal, which the singular matrices of
   near-duplicate data need; MATLAB's ``eig(LM, RM)`` uses the QZ algorithm instead), scaled
   so that ``||K a||^2 = l``;
2. gradient descent from there on the smooth cost ``-phi^T R_k phi``,
   ``phi = 2 / (1 + exp(-K a)) - 1``, with the scheme of ``OptProjectionFast.m``: Nesterov
   accelerated gradient steps, the step ``1 / beta`` found by backtracking (beta starts at
   1, is doubled up to 50 times per step until the quadratic upper bound
   ``g(z) <= g(v) + g'(v)^T (z - v) + beta/2 ||z - v||^2`` holds, and never decreases), at
   most ``n_iter`` steps (500), stopping early when the cost changes by at most
   ``gd_tol`` (1e-2) per labelled sample or the backtracking fails;
3. whichever of the two ``a`` gives the larger discrete objective ``y^T R_k y`` is kept
   (ties keep the spectral one, as the MATLAB ``>``), and ``R_{k+1} = R_k - y y^T``.

Encoding: ``sign(A^T k(x))`` with 0 mapped to -1, as int8 in {-1, +1}.

Speed: ``R_k v`` never forms the (l, l) matrix: S is ``P T P^T`` with P the indicator of
the u distinct label sets among the labelled samples and T their (u, u) sign table, and the
earlier bits are a rank-(k-1) term, so one product costs ``O(l (u_small + k) + u^2)``.
``K^T R_k K`` is updated by a rank-one downdate per bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse
from threadpoolctl import threadpool_limits

from repro.methods.hash_heads import HammingRanking, check_bits
from repro.quantization.product_quantizer import _check_count, _check_matrix, _squared_distances

_CHUNK_ELEMENTS = 1 << 22
_RIDGE = 1e-6
_MAX_BACKTRACK = 50


@dataclass(frozen=True)
class KSHConfig:
    """KSH hyper-parameters (defaults: the authors' demo).

    n_anchors: m kernel anchors. n_train: l labelled samples. n_iter: gradient steps per bit.
    gd_tol: early stop of the gradient descent when |cost change| / l <= gd_tol.
    """

    n_anchors: int = 300
    n_train: int = 2000
    n_iter: int = 500
    gd_tol: float = 1e-2

    def __post_init__(self) -> None:
        for name, low in (("n_anchors", 1), ("n_train", 1), ("n_iter", 0)):
            _check_count(f"KSHConfig.{name}", getattr(self, name), low)
        if not (isinstance(self.gd_tol, (int, float)) and np.isfinite(self.gd_tol) and self.gd_tol >= 0):
            raise ValueError(f"KSHConfig.gd_tol must be a finite number >= 0, got {self.gd_tol!r}")


def _label_groups(labels, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(group (n,) int64, table (u, u) float64)``: label set index of each row and the
    +-1 similarity of each pair of distinct label sets."""
    array = np.asarray(labels)
    if array.ndim not in (1, 2) or array.shape[0] != n:
        raise ValueError(
            f"labels must be (n,) class labels or (n, c) multi-hot labels with n={n} rows like x, got shape {array.shape}"
        )
    if array.ndim == 1:
        if array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
            raise ValueError("labels holds non-integer or NaN values; class labels must be whole numbers")
        _, group = np.unique(array, return_inverse=True)
        u = int(group.max()) + 1
        return group.astype(np.int64), 2.0 * np.eye(u) - 1.0
    if array.shape[1] == 0 or not np.isin(array, (0, 1)).all():
        raise ValueError(f"multi-hot labels (shape {array.shape}) must hold only 0/1 entries")
    sets, group = np.unique(array.astype(np.int8), axis=0, return_inverse=True)
    shared = (sets.astype(np.float64) @ sets.T.astype(np.float64)) > 0
    return group.reshape(-1).astype(np.int64), np.where(shared, 1.0, -1.0)


class _Residual:
    """The residual target ``r S - Y Y^T`` of the greedy bits, applied to vectors."""

    def __init__(self, group: np.ndarray, table: np.ndarray, n_bits: int):
        self.group, self.table, self.scale = group, table, float(n_bits)
        self.u = table.shape[0]
        self.bits = np.zeros((group.shape[0], n_bits))
        self.n_chosen = 0

    def add_bit(self, y: np.ndarray) -> None:
        self.bits[:, self.n_chosen] = y
        self.n_chosen += 1

    def matvec(self, v: np.ndarray) -> np.ndarray:
        sums = np.bincount(self.group, weights=v, minlength=self.u)
        out = self.scale * (self.table @ sums)[self.group]
        if self.n_chosen:
            y = self.bits[:, :self.n_chosen]
            out -= y @ (y.T @ v)
        return out

    def quadratic(self, v: np.ndarray) -> float:
        return float(v @ self.matvec(v))


def _smooth(y0: np.ndarray) -> np.ndarray:
    """``phi = 2 / (1 + exp(-y)) - 1`` (= tanh(y / 2), without overflow)."""
    return np.tanh(0.5 * y0)


def _signs(values: np.ndarray) -> np.ndarray:
    return np.where(values > 0, 1.0, -1.0)


def _gradient_descent(kernel: np.ndarray, residual: _Residual, start: np.ndarray, n_iter: int,
                      tol: float) -> tuple[np.ndarray, int]:
    """Minimise ``-phi(K a)^T R phi(K a)`` from ``start`` (accelerated gradient + backtracking);
    returns the solution and the number of accepted steps."""
    n = kernel.shape[0]

    def cost(a: np.ndarray) -> tuple[float, np.ndarray]:
        phi = _smooth(kernel @ a)
        return -residual.quadratic(phi), phi

    previous, current = start.copy(), start.copy()
    last_cost = cost(current)[0]
    delta_prev, delta = 0.0, 1.0
    beta = 1.0
    steps = 0
    for _ in range(n_iter):
        alpha = (delta_prev - 1.0) / delta
        probe = current + alpha * (current - previous)
        phi = _smooth(kernel @ probe)
        r_phi = residual.matvec(phi)
        g_probe = -float(phi @ r_phi)
        grad = -(kernel.T @ (r_phi * (1.0 - phi * phi)))
        accepted = False
        for j in range(_MAX_BACKTRACK + 1):
            b = beta * 2.0**j
            trial = probe - grad / b
            g_trial = cost(trial)[0]
            step = trial - probe
            if g_trial <= g_probe + grad @ step + 0.5 * b * (step @ step):
                accepted = True
                beta = b
                previous, current = current, trial
                break
        if not accepted:
            break
        steps += 1
        delta_prev, delta = delta, 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * delta * delta))
        changed = abs(g_trial - last_cost)
        last_cost = g_trial
        if changed / n <= tol:
            break
    return current, steps


class KSH(HammingRanking):
    """Kernel-based supervised hashing at ``bits`` bits (a :class:`~repro.methods.base.Retriever`
    whose ``fit`` returns the fitted estimator itself as the index: ``encode``, Hamming
    ``rank``); see the module docstring for the algorithm.

    After :meth:`fit`: ``anchors`` (m, d) float64, ``sigma`` float, ``mean`` (m,) the training
    mean of the kernel features, ``projections`` (m, bits) float64 (the MATLAB ``A1``),
    ``used_gradient`` (bits,) bool (True where the gradient-descent solution was kept),
    ``gd_steps`` (bits,) the accepted gradient steps of each bit,
    ``anchor_index`` and ``train_index`` (the rows of x used).
    """

    def __init__(self, bits: int, config: KSHConfig | None = None):
        self.bits = check_bits(bits)
        self.config = config if config is not None else KSHConfig()
        if not isinstance(self.config, KSHConfig):
            raise ValueError(f"config must be a KSHConfig, got {type(self.config).__name__}")
        self.projections: np.ndarray | None = None   # the other attributes: set by fit

    def _sq_distances(self, x: np.ndarray) -> np.ndarray:
        anchors = self.anchors
        anchor_norms = np.einsum("md,md->m", anchors, anchors)
        out = np.empty((x.shape[0], anchors.shape[0]))
        step = max(1, _CHUNK_ELEMENTS // max(anchors.shape[0], x.shape[1]))
        for start in range(0, x.shape[0], step):
            out[start:start + step] = _squared_distances(x[start:start + step], anchors, anchor_norms)
        return out

    def _features(self, x: np.ndarray) -> np.ndarray:
        """Centred kernel features ``(n, m)`` float64 of checked input."""
        kernel = np.exp(-self._sq_distances(x) / (2.0 * self.sigma))
        kernel -= self.mean
        return kernel

    def fit(self, x, y, *, seed: int) -> KSH:
        """Learn ``bits`` hash functions; returns ``self`` (the index).

        Args:
            x: ``(n, d)`` training vectors (pixels flattened or CNN features), n >= n_anchors
                and n >= n_train.
            y: ``(n,)`` class labels or ``(n, c)`` multi-hot 0/1 labels of x.
            seed: draws the anchors and the labelled subset; fit is deterministic per seed.
        """
        x = _check_matrix("x", x, fitted="KSH")
        n, bits = x.shape[0], self.bits
        cfg = self.config
        if n < cfg.n_anchors:
            raise ValueError(f"x has {n} rows, fewer than n_anchors={cfg.n_anchors}")
        if n < cfg.n_train:
            raise ValueError(f"x has {n} rows, fewer than n_train={cfg.n_train} labelled samples")
        group_all, table = _label_groups(y, n)
        rng = np.random.default_rng(seed)
        self.anchor_index = np.sort(rng.choice(n, cfg.n_anchors, replace=False))
        self.train_index = np.sort(rng.choice(n, cfg.n_train, replace=False))
        self.anchors = x[self.anchor_index].astype(np.float64)

        distances = self._sq_distances(x)
        sigma = float(distances.mean())
        if not sigma > 0:
            raise ValueError("x's rows all equal the anchors (mean squared distance 0): no kernel width")
        kernel_all = np.exp(-distances / (2.0 * sigma))
        del distances
        self.sigma = sigma
        self.mean = kernel_all.mean(axis=0)
        kernel = kernel_all[self.train_index] - self.mean
        del kernel_all

        used, table_used = np.unique(group_all[self.train_index], return_inverse=True)
        residual = _Residual(table_used.reshape(-1), table[np.ix_(used, used)], bits)
        l, m = kernel.shape
        gram = kernel.T @ kernel
        ridge = _RIDGE * max(float(np.trace(gram)) / m, np.finfo(float).tiny)
        gram_reg = gram + ridge * np.eye(m)
        indicator = sparse.csr_matrix((np.ones(l), (residual.group, np.arange(l))), shape=(residual.u, l))
        grouped = indicator @ kernel  # P^T K, (u, m)
        lm = bits * (grouped.T @ residual.table @ grouped)  # K^T (r S) K
        projections = np.zeros((m, bits))
        used_gradient = np.zeros(bits, dtype=bool)
        gd_steps = np.zeros(bits, dtype=np.int64)
        with threadpool_limits(limits=1, user_api="blas"):  # small products: threads only cost
            self._greedy_bits(kernel, residual, lm, gram, gram_reg, projections, used_gradient, gd_steps)
        self.projections, self.used_gradient, self.gd_steps = projections, used_gradient, gd_steps
        return self

    def _greedy_bits(self, kernel, residual, lm, gram, gram_reg, projections, used_gradient, gd_steps) -> None:
        """Fill ``projections`` column by column (steps 1-3 of the module docstring)."""
        cfg = self.config
        l, m = kernel.shape
        for k in range(projections.shape[1]):
            lm = 0.5 * (lm + lm.T)
            _, vector = linalg.eigh(lm, gram_reg, subset_by_index=[m - 1, m - 1])
            a_spec = vector[:, 0]
            a_spec = a_spec * np.sign(a_spec[np.argmax(np.abs(a_spec))])  # fix eigh's sign
            norm = float(a_spec @ gram @ a_spec)
            if norm > 0:
                a_spec = a_spec * np.sqrt(l / norm)
            a_gd, gd_steps[k] = _gradient_descent(kernel, residual, a_spec, cfg.n_iter, cfg.gd_tol)
            y_spec, y_gd = _signs(kernel @ a_spec), _signs(kernel @ a_gd)
            if residual.quadratic(y_gd) > residual.quadratic(y_spec):
                projections[:, k], y, used_gradient[k] = a_gd, y_gd, True
            else:
                projections[:, k], y = a_spec, y_spec
            residual.add_bit(y)
            ky = kernel.T @ y
            lm = lm - np.outer(ky, ky)

    def encode(self, x) -> np.ndarray:
        """``(n, d)`` -> ``(n, bits)`` int8 codes in {-1, +1} (``sign(A^T k(x))``, 0 -> -1)."""
        if self.projections is None:
            raise ValueError("this KSH is not fitted: call fit(x, y, seed=...)")
        x = _check_matrix("x", x, self.anchors.shape[1], fitted="KSH")
        codes = np.empty((x.shape[0], self.projections.shape[1]), dtype=np.int8)
        step = max(1, _CHUNK_ELEMENTS // max(self.anchors.shape[0], x.shape[1]))
        for start in range(0, x.shape[0], step):
            features = self._features(x[start:start + step])
            codes[start:start + step] = np.where(features @ self.projections > 0, 1, -1)
        return codes
