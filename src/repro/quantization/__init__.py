"""Quantization: product quantization, PQ k-means, binary codes (PQDEC and BQDEC stages).

    from repro.quantization import ProductQuantizer, PQKMeans
    pq = ProductQuantizer(n_subspaces=4, n_codewords=256).fit(z, seed=0)   # PQDEC: 4 x 8 bits
    codes = pq.encode(z)                                                  # (n, 4) uint8
    km = PQKMeans(pq, n_clusters=10, n_iter=10, seed=0).fit(codes)        # km.labels_, km.centres_

Binary codes (BQDEC): :func:`pack_bits`, :func:`packed_hamming_distance`,
:class:`KMajority`.

DQN retrieval stage: :class:`OPQ` (non-parametric OPQ, for DQN2+); the block-diagonal
quantization updates :func:`update_codes` / :func:`update_codebooks` and
:func:`quantization_loss` (module ``dqn_codes``, which also holds the Eq. 6 check
:func:`eq6_bound_fraction`, :func:`faiss_index_pq` and the faster AQD scan
:func:`fast_asymmetric_distances` / :func:`aqd_search`).
"""

from .binary_codes import KMajority, majority_centres, pack_bits, packed_hamming_distance
from .dqn_codes import (aqd_search, eq6_bound_fraction, faiss_index_pq,
                        fast_asymmetric_distances, quantization_loss, update_codebooks, update_codes)
from .opq import OPQ
from .pq_kmeans import PQKMeans, symmetric_distances_to_centres, update_centres
from .product_quantizer import ProductQuantizer, code_dtype
