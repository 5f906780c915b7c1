"""Clustering, classification and retrieval metrics.

Clustering (GAPDCEC, PQDEC, UCNN stages): :func:`cluster_acc` (Hungarian),
:func:`nmi`, :func:`ari`. Classification (DeepCluster linear probes):
:func:`top1_accuracy`. Retrieval (DQN stage): :func:`hamming_distance`,
:func:`rank`, :func:`relevance`, :func:`mean_average_precision`,
:func:`precision_at_top`, :func:`precision_recall_curve`.
"""

from .classification import top1_accuracy
from .clustering import (ari, cluster_acc, cluster_to_class_mapping, clustering_scores,
                         contingency_matrix, nmi)
from .hamming import hamming_distance
from .ranking import rank, relevance
from .retrieval import (average_precisions, mean_average_precision, precision_at_top,
                        precision_recall_at_top, precision_recall_curve)
