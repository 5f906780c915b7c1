"""Keras 3 layers and networks (backend-agnostic: ``keras`` and ``keras.ops`` only).

Modules:
    autoencoders   dense autoencoder (DEC/IDEC/DCN) and convolutional autoencoder (DCEC/GAPDCEC)
    clustering     Student's t clustering layer, target distribution, KL(P||Q) loss (DEC)
    deep_clustering  the Keras models that own the clustering-phase loss (DEC / IDEC / DCEC)
    quantization_layers  product / binary quantization layers and the model owning
                     L = L_r + gamma L_q (PQDEC / BQDEC)
"""
