"""Reference reproduction of five papers on deep image clustering and quantization.

Subpackages:
    data          real datasets: registry, checksums, mirror/cache lookup, download
    metrics       clustering and retrieval metrics
    config        params.yaml profiles -> typed per-stage configs
    models        Keras 3 layers and networks (backend-agnostic, keras.ops only)
    methods       one module per algorithm (DEC, IDEC, DCN, DCEC, GAPDCEC, ...)
    papers        one module per paper (its experiment) + <paper>.yaml (reported numbers)
    report        reproduced-vs-reported tables, claim verdicts, provenance, figures
"""

import os as _os

# TensorFlow's C++ start-up chatter (oneDNN, CPU feature notes) drowns the notebooks' logs.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
