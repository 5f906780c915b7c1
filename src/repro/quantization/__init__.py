"""Quantization: product quantization, PQ k-means, binary codes (PQDEC and BQDEC stages).

    from repro.quantization import ProductQuantizer, PQKMeans
    pq = ProductQuantizer(n_subspaces=4, n_codewords=256).fit(z, seed=0)   # PQDEC: 4 x 8 bits
    codes = pq.encode(z)                                                  # (n, 4) uint8
    km = PQKMeans(pq, n_clusters=10, n_iter=10, seed=0).fit(codes)        # km.labels_, km.centres_

Binary codes (BQDEC): :func:`binarize`, :func:`pack_bits`, :func:`packed_hamming_distance`,
:class:`KMajority`.
"""

from .binary_codes import (
    KMajority,
    binarize,
    check_bits,
    majority_centres,
    pack_bits,
    packed_hamming_distance,
    popcount,
    unpack_bits,
)
from .pq_kmeans import PQKMeans, assign_to_centres, symmetric_distances_to_centres, update_centres
from .product_quantizer import MAX_CODEWORDS, ProductQuantizer, check_codes, code_dtype

__all__ = [
    "MAX_CODEWORDS",
    "KMajority",
    "PQKMeans",
    "ProductQuantizer",
    "assign_to_centres",
    "binarize",
    "check_bits",
    "check_codes",
    "code_dtype",
    "majority_centres",
    "pack_bits",
    "packed_hamming_distance",
    "popcount",
    "symmetric_distances_to_centres",
    "unpack_bits",
    "update_centres",
]
