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

__version__ = "0.1.0"
