"""One colour per method, the same in every figure of the project.

:func:`method_color` maps a method key (as the papers' YAML files and results.csv name it)
to a fixed colour: DEC is the same blue in GAPDCEC's, PQDEC's and UCNN's figures, K-means the
same grey, and each paper's own method is red. Within one paper every method has its own
hue (the test suite checks each paper's YAML and results). The paper's number and ours
differ by hatch, alpha or line style, never by hue. A key not in :data:`METHOD_COLORS` gets
a colour from :data:`FALLBACK` picked by a stable hash of the key (CRC-32, not Python's
salted ``hash``), so it too is the same in every figure and every process.

A method's variants (PQ code length "12".."48") keep the method's hue in shades:
:func:`variant_shades`.
"""

from __future__ import annotations

import zlib

from matplotlib.colors import to_hex, to_rgb

# tab10 and a few darker tab20b hues; named so the mapping below reads as colours.
BLUE, ORANGE, GREEN, RED, PURPLE = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"
BROWN, PINK, GREY, OLIVE, CYAN = "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"
INDIGO, OCHRE, MOSS, MAROON, BLACK = "#393b79", "#8c6d31", "#637939", "#843c39", "#252525"

# Every method key any paper's YAML or results use. Shared keys (kmeans, dec) have one
# colour everywhere; each paper's proposed method is red; within a paper hues are distinct.
METHOD_COLORS: dict[str, str] = {
    # shared
    "kmeans": GREY, "dec": BLUE,
    # GAPDCEC (Kolla & VenuGopal 2018)
    "idec": CYAN, "dcn": OLIVE, "dcec": ORANGE, "dcec_sgd": OCHRE, "gapdcec": RED,
    # PQDEC
    "kmedoids": BROWN, "kdkmeans": PINK, "bqdec": ORANGE, "pqdec": RED,
    # PQDEC's accuracy controls (issue 24)
    "kmeans-embedding": CYAN, "pqkmeans-random": OLIVE, "pqkmeans-kmeans++": PURPLE,
    "pqdec-kmeans++init": MAROON,
    # UCNN (Hsu & Lin 2017)
    "cnn_cm": GREEN, "cnn_rc": PURPLE, "baseline_1": OLIVE, "baseline_2": CYAN,
    "baseline_3": BROWN, "ucnn": RED,
    # DQN (Cao et al. 2016) and the references measured beside it
    "ksh": CYAN, "ksh_d": OLIVE, "cnnh": GREEN, "dnnh": BROWN, "dqn2plus": ORANGE,
    "dqnip": PURPLE, "dqn": RED, "float_features": BLACK, "aqd_lookup": PINK,
    "float_exhaustive": GREY, "faiss_indexpq": INDIGO, "faiss_flat": OCHRE,
    "faiss_pqfastscan": MOSS,
    # DeepCluster (Caron et al. 2018) and the other papers' columns of its Table 1
    "imagenet_labels": INDIGO, "places_labels": MAROON, "random": GREY, "deepcluster": RED,
    "pathak": ORANGE, "doersch": GREEN, "zhang_color": PURPLE, "donahue": BROWN,
    "noroozi_jigsaw": PINK, "noroozi_counting": OLIVE, "split_brain": CYAN,
}

# For keys not listed above (a new method, a test's "a"): picked by CRC-32 of the key.
FALLBACK = ("#6b6ecf", "#b5cf6b", "#e7ba52", "#d6616b", "#ce6dbd", "#9c9ede", "#8ca252",
            "#bd9e39", "#ad494a", "#a55194", "#3182bd", "#e6550d", "#31a354", "#756bb1")

# The paper's number beside ours: same hue, lighter and hatched (bars) or dashed (lines).
PAPER_ALPHA, PAPER_HATCH = 0.35, "//"


def method_color(key: str) -> str:
    """The colour of method ``key`` in every figure ("#rrggbb")."""
    key = str(key)
    if key in METHOD_COLORS:
        return METHOD_COLORS[key]
    return FALLBACK[zlib.crc32(key.encode("utf-8")) % len(FALLBACK)]


def shade(color: str, amount: float) -> str:
    """``color`` darkened (``amount`` < 0, towards black) or lightened (> 0, towards white);
    ``amount`` in [-1, 1]."""
    rgb = to_rgb(color)
    target = 1.0 if amount > 0 else 0.0
    return to_hex(tuple(c + (target - c) * abs(amount) for c in rgb))


def variant_shades(color: str, n: int) -> list[str]:
    """``n`` shades of one hue, dark to light (the method's own colour in the middle), for
    a method's variants drawn side by side; one variant: the colour itself."""
    if n <= 1:
        return [to_hex(color)]
    return [shade(color, -0.45 + 0.9 * i / (n - 1)) if i != (n - 1) / 2 else to_hex(color)
            for i in range(n)]
