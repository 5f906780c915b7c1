"""Clustering algorithms, one module per method.

Modules:
    base       ClusteringResult, the value every method returns
    pretrain   end-to-end autoencoder pretraining, shared by DEC / IDEC / DCN / DCEC / GAPDCEC
    kmeans     k-means on raw pixels (baseline)
    dec        DEC   (Xie et al., ICML 2016)
    idec       IDEC  (Guo et al., IJCAI 2017)
    dcec       DCEC  (Guo et al., ICONIP 2017)
    gapdcec    GAPDCEC (Kolla and Venugopal, 2018)
    dcn        DCN   (Yang et al., ICML 2017)
    kmedoids   K-medoids, alternating (Voronoi iteration) with chunked distances
    kdkmeans   KDK-means: k-means with Kanungo et al.'s k-d tree filtering (equals Lloyd's)
    pqdec      PQDEC (Kolla and Venugopal): DEC with a product-quantized embedding + PQ k-means
    bqdec      BQDEC: DEC with a binary (256-bit) embedding + binary k-means (Hamming)
"""
