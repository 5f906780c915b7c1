"""Overhead of the DEC-family clustering machinery over a bare ``model.fit``.

For DEC (dense autoencoder's encoder + clustering layer, L = KL) and DCEC (CAE + clustering layer,
L = mse + 0.1 KL) this measures training steps per second of

* bare:   ``keras.Model(x -> outputs).fit(x, fixed targets)`` on in-memory arrays, same network,
          batch size, optimizer (SGD 0.01 / 0.9) and loss, no callbacks;
* method: :func:`repro.methods.self_training.run_self_training`'s ``fit`` (endless sequential
          batches, target lookup by index, P recomputed on the full data every T=140 steps,
          delta_label / tol check, loss trackers), with tol = 0 so it never stops early;

after a warm-up (tracing) of ``--warmup`` steps, and prints the overhead in percent. It also
times one pretraining epoch of each autoencoder (Adam, batch 256).

Data: MNIST-test (10000 images) via ``repro.data.load("mnist-test")`` (set REPRO_DATA_MIRRORS to
a folder holding the MNIST files), else random images of the same shape (the script says which).

    python benchmarks/bench_clustering_overhead.py [--steps 560] [--warmup 140]
"""
from __future__ import annotations

import argparse
import time

import keras
import numpy as np

from repro.methods.dcec import DCECConfig
from repro.methods.dec import DECConfig
from repro.methods.pretrain import make_optimizer
from repro.methods.self_training import run_self_training
from repro.models.autoencoders import conv_autoencoder, dense_autoencoder
from repro.models.clustering import target_distribution
from repro.models.deep_clustering import DeepClusteringModel


class StepClock(keras.callbacks.Callback):
    """Wall time from the end of step ``warmup`` to the end of training; steps counted."""

    def __init__(self, warmup: int):
        super().__init__()
        self.warmup, self.steps, self.start, self.seconds = warmup, 0, None, None

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == self.warmup:
            self.start = time.perf_counter()

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self.start

    @property
    def steps_per_second(self) -> float:
        return (self.steps - self.warmup) / self.seconds


def load_images() -> tuple[np.ndarray, str]:
    try:
        from repro.data import load

        return load("mnist-test").x, "MNIST-test (real, 10000 images)"
    except Exception as exc:  # noqa: BLE001 -- benchmark falls back to random data, says so
        rng = np.random.default_rng(0)
        return rng.random((10000, 28, 28, 1), dtype=np.float32), f"random 28x28 images ({exc})"


def build(kind: str, x: np.ndarray, n_clusters: int):
    """(DeepClusteringModel, model input) for "dec" (dense) or "dcec" (conv)."""
    if kind == "dec":
        _, encoder = dense_autoencoder(int(np.prod(x.shape[1:])), seed=0)
        return DeepClusteringModel(encoder, n_clusters, len(x)), x.reshape(len(x), -1)
    autoencoder, encoder = conv_autoencoder(x.shape[1:])
    return DeepClusteringModel(encoder, n_clusters, len(x), autoencoder=autoencoder, gamma=0.1), x


def bare_fit(kind: str, x: np.ndarray, n_clusters: int, steps: int, warmup: int,
             *, same_model: bool) -> tuple[float, int]:
    """Bare ``fit`` on arrays, fixed targets, no callbacks.

    same_model=True: the DeepClusteringModel itself fed ``(x, sample index)`` (same compute_loss);
    False: a plain functional model of the same network with Keras's compiled "kld" (+ "mse") losses.
    """
    model, xin = build(kind, x, n_clusters)
    model.set_centres(np.random.default_rng(0).normal(size=(n_clusters, 10)))
    p = target_distribution(model.predict_soft_assignments(xin))
    full = len(xin) // 256 * 256  # whole batches only, like the method's stream
    if same_model:
        model.set_targets(p)
        model.compile(optimizer=make_optimizer("sgd", 0.01, 0.9))
        net, inputs, targets = model, xin[:full], np.arange(full)
    else:
        net = keras.Model(model.network.inputs, model.network.outputs)
        losses = "kld" if kind == "dec" else ["kld", "mse"]
        net.compile(optimizer=make_optimizer("sgd", 0.01, 0.9), loss=losses,
                    loss_weights=None if kind == "dec" else [0.1, 1.0])
        inputs, targets = xin[:full], p[:full] if kind == "dec" else (p[:full], xin[:full])
    clock = StepClock(warmup)
    net.fit(inputs, targets, batch_size=256, epochs=int(np.ceil(steps / (full // 256))),
            shuffle=False, callbacks=[clock], verbose=0)
    return clock.steps_per_second, clock.steps


def method_fit(kind: str, x: np.ndarray, n_clusters: int, steps: int, warmup: int) -> float:
    model, xin = build(kind, x, n_clusters)
    cfg_cls = DECConfig if kind == "dec" else DCECConfig
    cfg = cfg_cls(tol=0.0, max_iter=steps, n_init=1)
    clock = StepClock(warmup)
    run_self_training(model, xin, cfg, seed=0, verbose=0, callbacks=[clock])
    return clock.steps_per_second, clock.steps


def pretrain_epoch_seconds(kind: str, x: np.ndarray, epochs: int = 2) -> float:
    """Seconds per pretraining epoch (Adam, batch 256, MSE), first epoch (tracing) excluded."""
    if kind == "dec":
        autoencoder, _ = dense_autoencoder(int(np.prod(x.shape[1:])), seed=0)
        x = x.reshape(len(x), -1)
    else:
        autoencoder, _ = conv_autoencoder(x.shape[1:])
    autoencoder.compile(optimizer="adam", loss="mse")
    autoencoder.fit(x, x, batch_size=256, epochs=1, verbose=0)
    start = time.perf_counter()
    autoencoder.fit(x, x, batch_size=256, epochs=epochs, verbose=0)
    return (time.perf_counter() - start) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=560, help="training steps per measurement")
    parser.add_argument("--warmup", type=int, default=140, help="steps excluded (tracing)")
    parser.add_argument("--methods", nargs="+", default=["dec", "dcec"], choices=["dec", "dcec"])
    args = parser.parse_args()
    x, source = load_images()
    print(f"data: {source}; backend {keras.backend.backend()}; batch 256; T = 140")
    for kind in args.methods:
        keras.utils.set_random_seed(0)
        rates = {
            "bare (same model, arrays)": bare_fit(kind, x, 10, args.steps, args.warmup, same_model=True),
            "bare (Keras losses)": bare_fit(kind, x, 10, args.steps, args.warmup, same_model=False),
            "method": method_fit(kind, x, 10, args.steps, args.warmup),
        }
        method_rate = rates["method"][0]
        for name, (rate, steps) in rates.items():
            overhead = "" if name == "method" else f" -> method overhead {100 * (rate / method_rate - 1):+.1f}%"
            print(f"{kind.upper():5s} {name:26s} {rate:7.2f} steps/s ({steps} steps){overhead}")
        print(f"{kind.upper():5s} clustering epoch (n/256 steps) ~{len(x) / 256 / method_rate:.2f}s; "
              f"pretraining epoch ~{pretrain_epoch_seconds(kind, x):.2f}s")


if __name__ == "__main__":
    main()
