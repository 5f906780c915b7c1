"""DQN's pairwise losses equal hand-computed values; the code-length rule; CNNH stage 1; DNNH
triplet loss and piece-wise threshold."""

from __future__ import annotations

import numpy as np
import pytest

from repro.methods.dqn import cosine_loss, inner_product_loss, quantization_loss, subspaces


def _np(x):
    from keras import ops

    return float(ops.convert_to_numpy(x))


LABELS = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)      # 0 ~ 1, 2 alone
Z = np.array([[1.0, 0.0], [0.6, 0.8], [-1.0, 0.0]], dtype=np.float32)


def test_cosine_loss_by_hand():
    # cos(0,1) = 0.6 (s=+1), cos(0,2) = -1 (s=-1), cos(1,2) = -0.6 (s=-1); the mean over the
    # 3 x 3 pairs, the diagonal (s = cos = 1: 0) included, as the authors' reduce_mean
    expected = ((1 - 0.6) ** 2 + (-1 + 1) ** 2 + (-1 + 0.6) ** 2) * 2 / 9
    assert _np(cosine_loss(LABELS, Z)) == pytest.approx(expected, rel=1e-6)


def test_cosine_loss_ignores_the_norms():
    scaled = Z * np.array([[3.0], [0.5], [7.0]], dtype=np.float32)
    assert _np(cosine_loss(LABELS, scaled)) == pytest.approx(_np(cosine_loss(LABELS, Z)), rel=1e-6)


def test_inner_product_loss_by_hand():
    # <z0,z1> = 0.6, <z0,z2> = -1, <z1,z2> = -0.6, each <z_i,z_i> = 1; divided by the width 2
    off = ((1 - 0.3) ** 2 + (-1 + 0.5) ** 2 + (-1 + 0.3) ** 2) * 2
    diagonal = 3 * (1 - 0.5) ** 2
    assert _np(inner_product_loss(LABELS, Z)) == pytest.approx((off + diagonal) / 9, rel=1e-6)


CODEBOOKS = np.array([[[0.0, 0.0], [1.0, 0.0]]], dtype=np.float32)   # M = 1, K = 2


def test_quantization_loss_by_hand_in_the_authors_units():
    # nearest codewords: z0 -> (1, 0) error 0; z1 -> (1, 0) error 0.16 + 0.64; z2 -> (0, 0)
    # error 1; summed over the width, averaged over images (DeepHash cq_loss_img)
    assert _np(quantization_loss(Z, CODEBOOKS)) == pytest.approx((0 + 0.8 + 1.0) / 3, rel=1e-6)


def test_quantization_targets_come_from_the_same_z():
    # h is chosen from the z the loss sees: z on a codeword has Q = 0, whatever other pass
    on_codewords = np.array([[1.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    assert _np(quantization_loss(on_codewords, CODEBOOKS)) == pytest.approx(0.0, abs=1e-7)
    moved = on_codewords + np.float32(0.3)   # (1.3, .3) -> (1, 0): .18; (.3, .3) -> (0, 0): .18
    assert _np(quantization_loss(moved, CODEBOOKS)) == pytest.approx(0.18, rel=1e-5)


def test_quantization_gradient_reaches_z_only():
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the gradient is taken with tf.GradientTape")
    import tensorflow as tf

    z = tf.Variable(Z)
    c = tf.Variable(CODEBOOKS)
    with tf.GradientTape() as tape:
        value = quantization_loss(z, c)
    grad_z, grad_c = tape.gradient(value, [z, c])
    expected = 2 * (Z - np.array([[1, 0], [1, 0], [0, 0]], np.float32)) / 3
    np.testing.assert_allclose(grad_z.numpy(), expected, rtol=1e-5, atol=1e-7)
    assert grad_c is None or not np.any(grad_c.numpy())


def test_dqn_model_loss_is_similarity_plus_lambda_q_from_its_state():
    # one compiled step for warm-up and training: C and lambda are the model's non-trainable
    # variables, lambda 0 -> the similarity loss alone
    import keras

    from repro.methods.dqn import DQNModel

    inputs = keras.Input((2,))
    model = DQNModel(keras.Model(inputs, inputs, name="z"), "cosine", 1, 2)
    assert [v.name for v in model.non_trainable_variables] == ["codebooks", "quantization_weight"]
    assert _np(model.compute_loss(y=LABELS, y_pred=Z)) == pytest.approx(
        _np(cosine_loss(LABELS, Z)), rel=1e-6)
    z0 = np.tile(CODEBOOKS[0], (8, 1))          # every z on one of the two codewords
    model.start(z0, 0.5, seed=0, kmeans_iter=3)  # C from PQ of z0: the two codewords
    np.testing.assert_allclose(np.sort(model.codebooks.numpy()[0], axis=0), CODEBOOKS[0])
    assert float(model.quantization_weight.numpy()) == 0.5
    np.testing.assert_array_equal(model.books[0][model.codes[:, 0]], z0)   # h: nearest codeword
    assert model.update(z0) == pytest.approx(0.0, abs=1e-12)             # z0 is its own C h
    assert _np(model.compute_loss(y=LABELS, y_pred=Z)) == pytest.approx(
        _np(cosine_loss(LABELS, Z)) + 0.5 * 0.6, rel=1e-6)
    np.testing.assert_array_equal(model(Z), Z)   # z itself: the loss lives in the model
    ip = DQNModel(keras.Model(inputs, inputs, name="z"), "inner_product")
    assert not ip.non_trainable_variables       # DQN2+'s network: no codebooks
    assert _np(ip.compute_loss(y=LABELS, y_pred=Z)) == pytest.approx(
        _np(inner_product_loss(LABELS, Z)), rel=1e-6)


def test_plateau_rule():
    from repro.methods.hash_heads import plateaued

    falling = list(np.linspace(1.0, 0.5, 12))
    assert not plateaued(falling, 3, 0.01)
    flat = [1.0, 0.9, 0.8, 0.75, 0.75, 0.749, 0.75, 0.749, 0.75]
    assert plateaued(flat, 3, 0.01)
    assert not plateaued(flat[:5], 3, 0.01)     # fewer than 2 windows: keep going
    assert not plateaued(flat, 0, 0.01)         # window 0: never


def test_head_weights_do_not_depend_on_what_was_built_before():
    import keras

    from repro.methods.hash_heads import HeadConfig, head_model
    from repro.models.retrieval import Backbone, BackboneConfig

    cfg = BackboneConfig(fc_widths=(4, 4))
    rng = np.random.default_rng(0)
    fc = [(rng.normal(size=(6, 4)).astype(np.float32), np.zeros(4, np.float32)),
          (rng.normal(size=(4, 4)).astype(np.float32), np.zeros(4, np.float32))]
    backbone, head = Backbone(None, fc, cfg), HeadConfig(finetune_trunk=False)
    top = lambda h: keras.layers.Dense(5, name="top")(h)      # noqa: E731
    first = head_model(backbone, head, (6,), top, name="a", seed=3).get_layer("top").get_weights()[0]
    keras.layers.Dense(7).build((None, 9))                    # another method's draws
    head_model(backbone, head, (6,), top, name="b", seed=4)
    again = head_model(backbone, head, (6,), top, name="c", seed=3).get_layer("top").get_weights()[0]
    np.testing.assert_array_equal(first, again)


def test_code_length_rule():
    assert [subspaces(b) for b in (12, 24, 32, 48)] == [3, 6, 8, 12]
    with pytest.raises(ValueError, match="bits"):
        subspaces(10)


def test_cnnh_stage1_fits_the_similarity():
    from repro.methods.cnnh import CNNHConfig, stage1_codes, stage1_objective

    labels = np.repeat(np.arange(4), 25)
    codes = stage1_codes(labels, 8, CNNHConfig(sweeps=2, gradient_steps=5), seed=0)
    assert codes.shape == (100, 8) and set(np.unique(codes)) <= {-1, 1}
    random = np.random.default_rng(0).choice([-1, 1], size=(100, 8)).astype(np.int8)
    assert stage1_objective(labels, codes) < 0.5 * stage1_objective(labels, random)
    # same class -> same code (the exact minimiser for 4 classes and 8 bits separates them)
    same = (codes[:, None, :] == codes[None, :, :]).all(axis=2)
    assert (same == (labels[:, None] == labels[None, :])).mean() > 0.95


def test_dnnh_triplet_loss_by_hand():
    from repro.methods.dnnh import triplet_loss

    labels = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    h = np.array([[0.0], [0.5], [1.0]], dtype=np.float32)
    # anchors with a positive and a negative: (0, 1, 2): 1 - (1 - 0.25) = 0.25;
    # (1, 0, 2): 1 - (0.25 - 0.25) = 1
    assert _np(triplet_loss(labels, h)) == pytest.approx((0.25 + 1.0) / 2, rel=1e-6)


def test_dnnh_piecewise_threshold():
    from repro.methods.dnnh import PiecewiseThreshold

    layer = PiecewiseThreshold(0.1)
    s = np.array([[0.1, 0.45, 0.55, 0.9]], dtype=np.float32)
    from keras import ops

    out = ops.convert_to_numpy(layer(s, training=True))
    np.testing.assert_allclose(out, [[0.0, 0.45, 0.55, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(layer(s, training=False)), s)


def _fake_backbone(rng, dim=20):
    from repro.models.retrieval import Backbone, BackboneConfig

    fc = [(rng.normal(size=(dim, 16)).astype(np.float32) * 0.3, np.zeros(16, np.float32)),
          (rng.normal(size=(16, 16)).astype(np.float32) * 0.3, np.zeros(16, np.float32))]
    return Backbone(None, fc, BackboneConfig(fc_widths=(16, 16)))


def test_lambda_reaches_the_compiled_training_step():
    """After the warm-up the loss carries lambda x Q and the quantization error falls, the
    same initial network (seeded) without it drifts: C and lambda are read at every step."""
    from repro.methods.dqn import DQN, DQNConfig
    from repro.methods.hash_heads import HeadConfig

    rng = np.random.default_rng(0)
    backbone = _fake_backbone(rng)
    x, y = rng.normal(size=(400, 20)).astype(np.float32), rng.integers(0, 4, 400)
    head = HeadConfig(epochs=5, finetune_trunk=False, optimizer="adam", learning_rate=1e-3)
    runs = {lam: DQN(12, DQNConfig(width=24, quantization_weight=lam, warmup_epochs=1,
                                   kmeans_iter=5), head, backbone, verbose=0).fit(
        x, y, seed=0).history for lam in (0.0, 10.0)}
    assert runs[0.0][0]["loss"] == pytest.approx(runs[10.0][0]["loss"])   # the same warm-up
    assert runs[10.0][1]["loss"] > runs[0.0][1]["loss"] + 1.0             # + lambda Q
    err = {lam: [r["quantization_error"] for r in h[1:]] for lam, h in runs.items()}
    assert err[10.0][-1] < err[10.0][0] and err[10.0][-1] < err[0.0][-1]
