"""repro.models.inference.forward: the model's inference-mode outputs, chunked."""

import numpy as np
import pytest


def _model():
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(6,))
    h = layers.Dense(5, activation="relu")(inputs)
    h = layers.Dropout(0.5)(h)          # must be off: outputs equal predict's
    return keras.Model(inputs, layers.Dense(3)(h))


def test_forward_equals_predict_in_any_chunking():
    from repro.models.inference import forward

    model = _model()
    x = np.random.default_rng(0).normal(size=(23, 6)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    for batch_size in (1, 7, 23, 100):
        out = forward(model, x, batch_size)
        assert out.dtype == np.float32 and out.shape == (23, 3)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(forward(model, x, 7), forward(model, x, 7))   # dropout off


def test_forward_empty_and_bad_batch_size():
    from repro.models.inference import forward

    model = _model()
    assert forward(model, np.zeros((0, 6), np.float32)).shape == (0, 3)
    with pytest.raises(ValueError, match="batch_size"):
        forward(model, np.zeros((2, 6), np.float32), 0)


def test_predict_in_chunks_equals_one_call_and_keeps_several_outputs():
    import keras

    from repro.models.inference import predict

    model = _model()
    x = np.random.default_rng(1).normal(size=(23, 6)).astype(np.float32)
    whole = predict(model, x, batch_size=64, chunk=100)
    assert whole.dtype == np.float32 and whole.shape == (23, 3)
    np.testing.assert_allclose(predict(model, x, batch_size=4, chunk=5), whole, rtol=1e-5,
                               atol=1e-6)
    two = keras.Model(model.inputs, [model.outputs[0], model.layers[1].output])
    first, hidden = predict(two, x, batch_size=4, chunk=5)
    np.testing.assert_allclose(first, whole, rtol=1e-5, atol=1e-6)
    assert hidden.shape == (23, 5) and hidden.dtype == np.float32
    with pytest.raises(ValueError, match="no images"):
        predict(model, x[:0])
    with pytest.raises(ValueError, match="chunk"):
        predict(model, x, chunk=0)
