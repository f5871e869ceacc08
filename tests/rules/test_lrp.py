"""Known answers for layer-wise relevance propagation: every rule against a NumPy implementation
of its formula (Montavon et al., 2019), conservation, gradient × input, residual sums, batch
normalization canonization and the errors for what no rule covers."""

import keras
from helpers import models
import numpy as np
import pytest
from helpers.state import assert_model_unchanged, model_state

import keras_vis
from keras_vis import rules

SHAPE = (8, 8, 3)
TINY = 1e-12  # the least stabilizer, LRP-0's
STABILIZER = 1e-6  # the other rules' (and the proportional rule's) default


# --- A NumPy implementation of the published rules ------------------------------------------


def stab(z, epsilon):
    """`z + ε·sign(z)`, with sign(0) = +1."""
    return z + epsilon * np.where(z >= 0, 1.0, -1.0)


def conv_matrix(kernel, in_shape, padding):
    """The stride-1 convolution `kernel` as a matrix `M`: `conv(x).flat = x.flat @ M`.

    Args:
        kernel: `(kh, kw, C, K)`.
        in_shape: `(H, W, C)`.
        padding: `"same"` (zero padding, odd kernels) or `"valid"`.

    Returns:
        `(M, out_shape)`, `M` of shape `(H·W·C, H'·W'·K)`.
    """
    kh, kw, channels, filters = kernel.shape
    height, width, _ = in_shape
    if padding == "same":
        top, left, out_h, out_w = (kh - 1) // 2, (kw - 1) // 2, height, width
    else:
        top, left, out_h, out_w = 0, 0, height - kh + 1, width - kw + 1
    matrix = np.zeros((height, width, channels, out_h, out_w, filters))
    for i in range(out_h):
        for j in range(out_w):
            for di in range(kh):
                for dj in range(kw):
                    y, x = i + di - top, j + dj - left
                    if 0 <= y < height and 0 <= x < width:
                        matrix[y, x, :, i, j, :] = kernel[di, dj]
    return matrix.reshape(height * width * channels, -1), (out_h, out_w, filters)


class Linear:
    """A linear layer `z = x @ M + b` in matrix form, `M` built from a (transformed) kernel.

    Every entry of `M` is one kernel entry or a structural zero, so `M` of `f(kernel)` is `f`
    applied to `M`'s entries (with the zeros kept).
    """

    def __init__(self, kernel, bias, in_shape, padding=None, scale_in=None):
        self.kernel = np.asarray(kernel, np.float64)
        self.in_shape = in_shape
        self.padding = padding
        self.scale_in = scale_in  # a normalization `a·x + c` folded in before, per channel
        self.out_shape = self.build(np.zeros_like(self.kernel))[1]
        size = int(np.prod(self.out_shape))
        bias = np.zeros(self.out_shape[-1]) if bias is None else np.asarray(bias, np.float64)
        self.bias = np.broadcast_to(bias, self.out_shape).reshape(size)

    def build(self, kernel):
        if self.padding is None:
            return kernel, (kernel.shape[1],)
        return conv_matrix(kernel, self.in_shape, self.padding)

    def matrix(self, transform=None):
        """`M` of `transform(kernel)` (of the kernel folded with the scale before, if any)."""
        kernel = self.kernel
        if self.scale_in is not None:
            kernel = kernel * self.scale_in[0].reshape([1] * (kernel.ndim - 2) + [-1, 1])
        return self.build(kernel if transform is None else transform(kernel))[0]

    def fold_shift(self):
        """The bias with a shift folded in before: `c @ M + b`, position by position."""
        if self.scale_in is not None:
            shift = np.broadcast_to(self.scale_in[1], self.in_shape).reshape(-1)
            self.bias = self.bias + shift @ self.build(self.kernel)[0]


def np_epsilon(epsilon):
    """LRP-ε (LRP-0 for ε = 0): `z_jk = x_j w_jk`, bias in the denominator."""
    def rule(x, linear, relevance):
        z = x[:, None] * linear.matrix()
        return z @ (relevance / stab(z.sum(0) + linear.bias, max(epsilon, TINY)))
    return rule


def np_gamma(gamma):
    """LRP-γ favouring the contributions of the output's own sign.

    For `z_k > 0` (the layer's output): `z_jk = x_j⁺ (w + γw⁺) + x_j⁻ (w + γw⁻)`, bias
    `b + γb⁺`; otherwise the favoured parts swapped, `x_j⁺ (w + γw⁻) + x_j⁻ (w + γw⁺)`,
    `b + γb⁻`. For non-negative inputs and positive outputs: `x_j (w_jk + γ w_jk⁺)`.
    """
    def rule(x, linear, relevance):
        up = x @ linear.matrix() + linear.bias > 0
        more = linear.matrix(lambda k: k + gamma * np.maximum(k, 0))
        less = linear.matrix(lambda k: k + gamma * np.minimum(k, 0))
        positive, negative = np.maximum(x, 0)[:, None], np.minimum(x, 0)[:, None]
        z = np.where(up, positive * more + negative * less, positive * less + negative * more)
        bias = linear.bias + gamma * np.where(up, np.maximum(linear.bias, 0),
                                              np.minimum(linear.bias, 0))
        return z @ (relevance / stab(z.sum(0) + bias, STABILIZER))
    return rule


def np_alpha_beta(alpha, beta):
    """LRP-αβ: positive and negative contributions `(x_j w_jk)^±` normalised apart, no bias."""
    def rule(x, linear, relevance):
        z = x[:, None] * linear.matrix()
        positive, negative = np.maximum(z, 0), np.minimum(z, 0)
        return (alpha * positive @ (relevance / stab(positive.sum(0), STABILIZER))
                - beta * negative @ (relevance / stab(negative.sum(0), STABILIZER)))
    return rule


def np_alpha_beta_zennit(alpha, beta):
    """zennit's LRP-αβ: the bias's positive part counts with the positive contributions, its
    negative part with the negative ones (absorbing relevance)."""
    def rule(x, linear, relevance):
        z = x[:, None] * linear.matrix()
        positive, negative = np.maximum(z, 0), np.minimum(z, 0)
        up = positive.sum(0) + np.maximum(linear.bias, 0)
        down = negative.sum(0) + np.minimum(linear.bias, 0)
        return (alpha * positive @ (relevance / stab(up, STABILIZER))
                - beta * negative @ (relevance / stab(down, STABILIZER)))
    return rule


def np_wsquare_zennit(x, linear, relevance):
    """zennit's w²: `z_jk = w_jk²`, the squared bias in the denominator."""
    squares = linear.matrix(np.square)
    return squares @ (relevance / stab(squares.sum(0) + np.square(linear.bias), STABILIZER))


def np_flat(x, linear, relevance):
    """Flat: `z_jk = 1` over each output's receptive field."""
    ones = linear.matrix(np.ones_like)
    return ones @ (relevance / stab(ones.sum(0), STABILIZER))


def np_wsquare(x, linear, relevance):
    """w²: `z_jk = w_jk²`."""
    squares = linear.matrix(np.square)
    return squares @ (relevance / stab(squares.sum(0), STABILIZER))


def np_zbox(low=None, high=None):
    """zᴮ: `z_jk = x_j w_jk - l_j w_jk⁺ - h_j w_jk⁻`, bounds in the layer's input units (arrays
    shaped like its input), or the input's own minimum and maximum."""
    def rule(x, linear, relevance):
        lo = np.full_like(x, x.min()) if low is None else np.broadcast_to(
            low, linear.in_shape).reshape(-1)
        hi = np.full_like(x, x.max()) if high is None else np.broadcast_to(
            high, linear.in_shape).reshape(-1)
        z = (x[:, None] * linear.matrix() - lo[:, None] * linear.matrix(lambda k: np.maximum(k, 0))
             - hi[:, None] * linear.matrix(lambda k: np.minimum(k, 0)))
        return z @ (relevance / stab(z.sum(0), STABILIZER))
    return rule


np_zero = np_epsilon(0.0)


def linear_op(x, linear, rule):
    """Forward `x @ M + b` and the rule's backward."""
    z = (x.reshape(-1) @ linear.matrix() + linear.bias).reshape(linear.out_shape)
    return z, lambda r: rule(x.reshape(-1), linear, r.reshape(-1)).reshape(x.shape)


def pool_windows(x):
    """`(H/2, W/2, C, 4)`: the 2×2 windows of `x`, row-major within each window."""
    h, w, c = x.shape
    return x.reshape(h // 2, 2, w // 2, 2, c).transpose(0, 2, 4, 1, 3).reshape(h // 2, w // 2, c, 4)


def unpool(values, shape):
    """The inverse of `pool_windows`."""
    h, w, c = shape
    return values.reshape(h // 2, w // 2, c, 2, 2).transpose(0, 3, 1, 4, 2).reshape(shape)


def max_pool_op(x):
    """2×2 max pooling; relevance to each window's (first) maximum."""
    windows = pool_windows(x)
    winner = np.argmax(windows, axis=-1)
    mask = np.arange(4) == winner[..., None]
    return windows.max(-1), lambda r: unpool(mask * r[..., None], x.shape)


def avg_pool_op(x):
    """2×2 average pooling; relevance in proportion to each input's share of the mean."""
    windows = pool_windows(x)
    z = windows.mean(-1)
    return z, lambda r: unpool(windows / 4 * (r / stab(z, STABILIZER))[..., None], x.shape)


def gap_op(x):
    """Global average pooling, proportional."""
    z = x.mean((0, 1))
    return z, lambda r: x / (x.shape[0] * x.shape[1]) * r / stab(z, STABILIZER)


def add_op(a, b):
    """`a + b`; each input gets `x · R / stab(a + b)`."""
    z = a + b
    return z, lambda r: (a * r / stab(z, STABILIZER), b * r / stab(z, STABILIZER))


def batchnorm_affine(layer):
    gamma, beta, mean, variance = [w.astype(np.float64) for w in layer.get_weights()]
    scale = gamma / np.sqrt(variance + layer.epsilon)
    return scale, beta - mean * scale


def reference_lrp(model, image, target, rule_of):
    """The input relevance of a chain model, layer by layer in NumPy (float64).

    Args:
        model: a chain of Conv2D (stride 1), Dense, ReLU, Rescaling, MaxPooling2D and
            AveragePooling2D (2×2), GlobalAveragePooling2D, Flatten and BatchNormalization
            directly before a convolution (folded into it); the last Dense is the head.
        image: `(H, W, C)`.
        target: the class whose logit is the initial relevance.
        rule_of: `rule_of(layer)`, the NumPy rule of a convolution or dense layer.

    Returns:
        `(relevance (H, W, C), logits)`.
    """
    x = image.astype(np.float64)
    backward, folding = [], None
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            weights = layer.get_weights()
            padding = layer.padding if isinstance(layer, keras.layers.Conv2D) else None
            linear = Linear(weights[0], weights[1] if layer.use_bias else None, x.shape, padding,
                            scale_in=folding)
            linear.fold_shift()
            x, back = linear_op(x, linear, rule_of(layer))
            backward.append(back)
            folding = None
            if layer.activation.__name__ == "relu":
                x = np.maximum(x, 0)
            else:
                assert layer.activation.__name__ in ("linear", "softmax")
        elif isinstance(layer, keras.layers.BatchNormalization):
            folding = batchnorm_affine(layer)  # the next layer reads the normalization's input
        elif isinstance(layer, keras.layers.ReLU):
            x = np.maximum(x, 0)
        elif isinstance(layer, keras.layers.Rescaling):
            x = x * layer.scale + layer.offset
        elif isinstance(layer, keras.layers.MaxPooling2D):
            x, back = max_pool_op(x)
            backward.append(back)
        elif isinstance(layer, keras.layers.AveragePooling2D):
            x, back = avg_pool_op(x)
            backward.append(back)
        elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
            x, back = gap_op(x)
            backward.append(back)
        elif isinstance(layer, keras.layers.Flatten):
            shape = x.shape
            x = x.reshape(-1)
            backward.append(lambda r, shape=shape: r.reshape(shape))
        else:
            raise AssertionError(f"no reference for {layer}")
    logits = x
    relevance = np.zeros_like(logits)
    relevance[target] = logits[target]
    for back in reversed(backward):
        relevance = back(relevance)
    return relevance, logits


def reference_maps(model, images, targets, rule_of):
    """Channel sums and absolute channel sums of the reference relevance, and the logits."""
    found = [reference_lrp(model, image, t, rule_of) for image, t in zip(images, targets)]
    relevance = np.stack([r for r, _ in found])
    return relevance.sum(-1), np.abs(relevance).sum(-1), np.stack([z for _, z in found])


def relevance_maps(model, images, targets, composite, **options):
    """`keras_vis.lrp`'s raw signed and absolute channel sums."""
    signed = keras_vis.lrp(model, images, targets, composite=composite, normalize=False,
                           **options)
    absolute = keras_vis.lrp(model, images, targets, composite=composite, normalize=False,
                             reduce="abs_sum", **options)
    return signed, absolute


def assert_close(got, want, tolerance=1e-5):
    """Equal within `tolerance` relative to the largest magnitude of `want`."""
    scale = np.abs(want).max()
    assert scale > 0
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * scale)


# --- Models ---------------------------------------------------------------------------------


def chain_cnn(kind="flatten", bias=True, rescale=False):
    """8×8×3 → conv 3×3 'same' (relu) → max pool → conv 3×3 (relu) → head → Dense(3, softmax).

    `kind`: `"flatten"` (second conv 'valid', then Flatten), `"avgpool"` (second conv 'same',
    2×2 average pooling, Flatten) or `"gap"` (second conv 'same', global average pooling).
    """
    init = "random_normal" if bias else "zeros"
    conv = dict(activation="relu", bias_initializer=init)
    inputs = keras.Input(SHAPE)
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="rescale")(inputs) if rescale else inputs
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv1", **conv)(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    padding = "valid" if kind == "flatten" else "same"
    x = keras.layers.Conv2D(5, 3, padding=padding, name="conv2", **conv)(x)
    if kind == "avgpool":
        x = keras.layers.AveragePooling2D(2, name="avg")(x)
    x = (keras.layers.GlobalAveragePooling2D(name="gap") if kind == "gap"
         else keras.layers.Flatten(name="flatten"))(x)
    outputs = keras.layers.Dense(3, activation="softmax", bias_initializer=init, name="dense")(x)
    return keras.Model(inputs, outputs, name=f"chain_{kind}")


def signed_images(rng, count=2):
    return rng.uniform(-1.0, 1.0, (count,) + SHAPE).astype(np.float32)


# --- LRP-0, conservation, z⁺ ----------------------------------------------------------------


@pytest.mark.parametrize("kind, tolerance", [("flatten", 1e-5), ("gap", 1e-4)])
def test_lrp0_of_bias_free_relu_network_is_gradient_times_input(kind, tolerance, rng):
    """Exact up to float32 round-off; global average pooling's proportional rule divides by
    `mean + 1e-6`, a relative change of about 1e-6 / |mean| (~2e-5 here)."""
    model = chain_cnn(kind, bias=False)
    for layer in model.layers:
        assert not getattr(layer, "use_bias", False) or not np.any(layer.get_weights()[1])
    images = signed_images(rng, 3)
    targets = [0, 2, 1]
    relevance = keras_vis.lrp(model, images, targets,
                              composite=rules.Composite([(rules.LINEAR, rules.Zero())]),
                              normalize=False)
    product = keras_vis.gradient_input(model, images, targets, reduce="sum", normalize=False)
    assert_close(relevance, product, tolerance)


@pytest.mark.parametrize("composite", rules.COMPOSITES)
def test_zero_biases_conserve_relevance(composite, rng):
    """Large enough inputs that the 1e-6 stabilizers of z⁺ and pooling absorb < 1e-5."""
    model = chain_cnn("gap", bias=False)
    images = 10.0 * signed_images(rng, 3)
    targets = [1, 0, 2]
    relevance = keras_vis.lrp(model, images, targets, composite=composite, normalize=False)
    logits = reference_maps(model, images, targets, lambda layer: np_zero)[2]
    score = logits[np.arange(3), targets]
    assert np.all(np.abs(score) > 1e-3)
    np.testing.assert_allclose(relevance.sum((1, 2)), score, rtol=1e-4)


def test_zplus_relevance_is_nonnegative_for_a_positive_logit(rng):
    model = chain_cnn("flatten", bias=True)
    dense = model.get_layer("dense")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel, bias + 5.0])  # every logit positive
    images = signed_images(rng, 4)
    logits = reference_maps(model, images, [0] * 4, lambda layer: np_zero)[2]
    targets = logits.argmax(-1)
    assert np.all(logits[np.arange(4), targets] > 0)
    composite = rules.Composite([(rules.LINEAR, rules.ZPlus())])
    signed, absolute = relevance_maps(model, images, targets, composite)
    assert signed.min() >= 0 and signed.max() > 0
    np.testing.assert_allclose(signed, absolute, rtol=1e-6)  # no channel negative either


# --- Every rule against its formula ---------------------------------------------------------


RULES = [
    ("zero", rules.Zero, np_zero),
    ("epsilon", lambda: rules.Epsilon(0.05), np_epsilon(0.05)),
    ("gamma", lambda: rules.Gamma(0.25), np_gamma(0.25)),
    ("zplus", rules.ZPlus, np_alpha_beta(1.0, 0.0)),
    ("alpha1_beta0", lambda: rules.AlphaBeta(1.0, 0.0), np_alpha_beta(1.0, 0.0)),
    ("alpha2_beta1", lambda: rules.AlphaBeta(2.0, 1.0), np_alpha_beta(2.0, 1.0)),
    ("flat", rules.Flat, np_flat),
    ("wsquare", rules.WSquare, np_wsquare),
    ("zbox", rules.ZBox, np_zbox()),
]
# The rules that keep biases where zennit does, on the layers after the first.
ZENNIT_RULES = [
    ("zplus_zennit", lambda: rules.ZPlus(zennit_biases=True), np_alpha_beta_zennit(1.0, 0.0)),
    ("alpha2_beta1_zennit", lambda: rules.AlphaBeta(2.0, 1.0, zennit_biases=True),
     np_alpha_beta_zennit(2.0, 1.0)),
    ("wsquare_zennit", lambda: rules.WSquare(zennit_biases=True), np_wsquare_zennit),
]


@pytest.mark.parametrize("kind, name, make_rule, reference", [
    (kind, *rule) for kind in ("flatten", "avgpool") for rule in RULES] + [
    ("flatten", *rule) for rule in ZENNIT_RULES],
    ids=[f"{rule[0]}-{kind}" for kind in ("flatten", "avgpool") for rule in RULES] + [
    f"{rule[0]}-flatten" for rule in ZENNIT_RULES])
def test_rule_on_every_linear_layer_matches_formula(kind, name, make_rule, reference, rng):
    model = chain_cnn(kind)
    images = signed_images(rng)
    targets = [1, 2]
    composite = rules.Composite([(rules.LINEAR, make_rule())])
    signed, absolute = relevance_maps(model, images, targets, composite)
    want_signed, want_absolute, _ = reference_maps(model, images, targets, lambda l: reference)
    assert_close(signed, want_signed)
    assert_close(absolute, want_absolute)


def test_gamma_tends_to_zplus_for_positive_inputs_and_outputs(rng):
    """Montavon et al.: as γ grows, LRP-γ on `x >= 0` and `z > 0` (no bias, which γ would
    favour too) becomes LRP-α1β0; favouring the output's sign, also for signed inputs."""
    model = chain_cnn("gap", bias=False)
    images = signed_images(rng, 3)
    logits = reference_maps(model, images, [0] * 3, lambda layer: np_zero)[2]
    targets = logits.argmax(-1)
    assert np.all(logits[np.arange(3), targets] > 0)
    composite = rules.Composite([(rules.LINEAR, rules.Gamma(1e5))])
    signed, absolute = relevance_maps(model, images, targets, composite)
    zplus = relevance_maps(model, images, targets,
                           rules.Composite([(rules.LINEAR, rules.ZPlus())]))
    assert_close(signed, zplus[0], 1e-3)
    assert_close(absolute, zplus[1], 1e-3)
    zero = relevance_maps(model, images, targets, rules.Composite([(rules.LINEAR, rules.Zero())]))
    assert np.abs(zero[0] - zplus[0]).max() > 0.05 * np.abs(zplus[0]).max()


LOW, HIGH = np.array([0.0, -0.5, 0.1]), np.array([1.0, 1.5, 0.9])
FIRST_RULES = RULES + [("zbox_bounds", lambda: rules.ZBox(low=LOW, high=HIGH),
                        np_zbox(2.0 * LOW - 1.0, 2.0 * HIGH - 1.0)),
                       ("zbox_numbers", lambda: rules.ZBox(low=0.0, high=1.0),
                        np_zbox(-1.0, 1.0))]


@pytest.mark.parametrize("name, make_rule, reference", FIRST_RULES,
                         ids=[r[0] for r in FIRST_RULES])
def test_first_rule_matches_formula(name, make_rule, reference, rng):
    model = chain_cnn("avgpool", rescale=True)  # bounds are carried through the rescaling
    images = rng.random((2,) + SHAPE, dtype=np.float32)
    targets = [0, 2]
    composite = rules.Composite([(rules.LINEAR, rules.Epsilon(0.01))], first=make_rule())
    signed, absolute = relevance_maps(model, images, targets, composite)

    def rule_of(layer):
        return reference if layer.name == "conv1" else np_epsilon(0.01)

    want_signed, want_absolute, _ = reference_maps(model, images, targets, rule_of)
    assert_close(signed, want_signed)
    assert_close(absolute, want_absolute)


def test_box_bounds_go_through_a_per_image_standardization(rng):
    """Bounds given in the model's input units are mapped by a layer normalization with each
    image's own statistics, as the image is (the demo model's standardization)."""
    inputs = keras.Input(SHAPE)
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = keras.layers.LayerNormalization(axis=(1, 2), center=False, scale=False, name="norm")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="dense")(x))
    images = rng.uniform(0, 255, (2,) + SHAPE).astype(np.float32)
    composite = rules.Composite([(rules.LINEAR, rules.Epsilon(0.01))],
                                first=rules.ZBox(low=0.0, high=255.0))
    signed, _ = relevance_maps(model, images, [1, 2], composite)
    twin = keras.Sequential([keras.Input(SHAPE)] + model.layers[3:])  # from conv1 on, same layers
    norm = model.get_layer("norm")
    for index, (image, target) in enumerate(zip(images, [1, 2])):
        scaled = image.astype(np.float64) / 255
        mean, std = scaled.mean((0, 1)), np.sqrt(scaled.var((0, 1)) + norm.epsilon)
        low, high = (0.0 - mean) / std, (1.0 - mean) / std
        rule = {"conv1": np_zbox(np.broadcast_to(low, SHAPE), np.broadcast_to(high, SHAPE)),
                "dense": np_epsilon(0.01)}
        want, _ = reference_lrp(twin, (scaled - mean) / std, target, lambda l: rule[l.name])
        assert_close(signed[index], want.sum(-1))


def test_rules_by_layer_name_and_kind(rng):
    model = chain_cnn("flatten")
    images = signed_images(rng)
    targets = [2, 0]
    composite = rules.Composite([(rules.DENSE, rules.Epsilon(0.1)), (rules.CONV, rules.Gamma(0.5))],
                                names={"conv2": rules.AlphaBeta(2.0, 1.0)}, first=rules.WSquare())
    signed, absolute = relevance_maps(model, images, targets, composite)
    chosen = {"conv1": np_wsquare, "conv2": np_alpha_beta(2.0, 1.0), "dense": np_epsilon(0.1)}
    want = reference_maps(model, images, targets, lambda layer: chosen[layer.name])
    assert_close(signed, want[0])
    assert_close(absolute, want[1])


# --- Sums and residual blocks ---------------------------------------------------------------


def test_add_splits_relevance_in_proportion_to_contributions(rng):
    inputs = keras.Input(SHAPE)
    y = keras.layers.Conv2D(3, 3, padding="same", use_bias=False, name="conv")(inputs)
    s = keras.layers.Add(name="add")([inputs, y])
    s = keras.layers.Flatten()(s)
    outputs = keras.layers.Dense(3, name="dense")(s)
    model = keras.Model(inputs, outputs)
    images = signed_images(rng)
    targets = [0, 1]
    relevance = keras_vis.lrp(model, images, targets, normalize=False,
                              composite=rules.Composite([(rules.LINEAR, rules.Epsilon(0.01))]))
    kernel = model.get_layer("conv").get_weights()[0]
    dense_kernel, dense_bias = model.get_layer("dense").get_weights()

    def reference(image, target, split):
        x = image.astype(np.float64)
        conv = Linear(kernel, None, SHAPE, "same")
        dense = Linear(dense_kernel, dense_bias, (x.size,))
        y, conv_back = linear_op(x, conv, np_epsilon(0.01))
        logits, dense_back = linear_op((x + y).reshape(-1), dense, np_epsilon(0.01))
        seed = np.zeros(3)
        seed[target] = logits[target]
        r_sum = dense_back(seed).reshape(SHAPE)
        r_skip, r_branch = split(x, y, r_sum)
        return (r_skip + conv_back(r_branch)).sum(-1)

    def proportional(x, y, r):
        return add_op(x, y)[1](r)

    def halves(x, y, r):
        return r / 2, r / 2

    want = np.stack([reference(i, t, proportional) for i, t in zip(images, targets)])
    assert_close(relevance, want)
    other = np.stack([reference(i, t, halves) for i, t in zip(images, targets)])
    assert np.abs(other - want).max() > 0.05 * np.abs(want).max()  # the split matters here


def residual_cnn():
    """conv(relu) = a → conv(relu) → conv = b → Add([a, b]) → ReLU → GAP → Dense(softmax)."""
    init = dict(bias_initializer="random_normal")
    inputs = keras.Input(SHAPE)
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv0", **init)(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1", **init)(a)
    b = keras.layers.Conv2D(4, 3, padding="same", name="conv2", **init)(b)
    x = keras.layers.Add(name="add")([a, b])
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="dense", **init)(x)
    return keras.Model(inputs, outputs, name="residual")


def reference_residual(model, image, target, rule_of):
    """`residual_cnn`'s input relevance in NumPy."""
    def linear(name, x):
        layer = model.get_layer(name)
        kernel, bias = layer.get_weights()
        padding = getattr(layer, "padding", None)
        return linear_op(x, Linear(kernel, bias, x.shape, padding), rule_of(layer))

    x = image.astype(np.float64)
    a, back0 = linear("conv0", x)
    a = np.maximum(a, 0)
    h, back1 = linear("conv1", a)
    b, back2 = linear("conv2", np.maximum(h, 0))
    s, back_add = add_op(a, b)
    pooled, back_gap = gap_op(np.maximum(s, 0))
    logits, back_dense = linear("dense", pooled)
    seed = np.zeros(3)
    seed[target] = logits[target]
    r_a, r_b = back_add(back_gap(back_dense(seed)))
    return back0(r_a + back1(back2(r_b)))


@pytest.mark.parametrize("composite, rule_of", [
    (rules.Composite([(rules.LINEAR, rules.Epsilon(0.01))]), lambda layer: np_epsilon(0.01)),
    (rules.Composite([(rules.LINEAR, rules.Zero())]), lambda layer: np_zero),
    ("epsilon_plus_flat", lambda layer: {"conv0": np_flat, "dense": np_epsilon(1e-6)}.get(
        layer.name, np_alpha_beta(1.0, 0.0))),
    ("epsilon_alpha2_beta1", lambda layer: np_epsilon(1e-6) if layer.name == "dense"
     else np_alpha_beta(2.0, 1.0)),
], ids=["epsilon", "zero", "epsilon_plus_flat", "epsilon_alpha2_beta1"])
def test_residual_block_matches_reference(composite, rule_of, rng):
    model = residual_cnn()
    images = signed_images(rng)
    targets = [2, 1]
    signed, absolute = relevance_maps(model, images, targets, composite)
    want = np.stack([reference_residual(model, i, t, rule_of) for i, t in zip(images, targets)])
    assert_close(signed, want.sum(-1))
    assert_close(absolute, np.abs(want).sum(-1))


# --- Batch normalization canonization -------------------------------------------------------


def randomize_batchnorm(layer, rng):
    channels = layer.get_weights()[0].shape[0]
    layer.set_weights([rng.uniform(0.5, 2.0, channels), rng.normal(0, 0.5, channels),
                       rng.normal(0, 0.5, channels), rng.uniform(0.3, 3.0, channels)])


CANONIZED = ["epsilon", "epsilon_plus_flat", "epsilon_plus", "epsilon_gamma_box",
             "epsilon_alpha2_beta1", "alpha1_beta0",
             rules.Composite([(rules.LINEAR, rules.Zero())], name="zero"),
             rules.Composite([(rules.LINEAR, rules.WSquare())], name="wsquare")]


def bn_after_conv(fold):
    """conv1 (bias) → BN → ReLU → pool → conv2 (relu) → GAP → Dense; `fold=True`: the same with
    the normalization folded into conv1 by hand."""
    inputs = keras.Input(SHAPE)
    conv1 = keras.layers.Conv2D(4, 3, padding="same", bias_initializer="random_normal",
                                name="conv1")
    x = conv1(inputs)
    bn = None if fold else keras.layers.BatchNormalization(name="bn")
    x = x if fold else bn(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu",
                            bias_initializer="random_normal", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs), bn


def bn_before_conv(fold, padding):
    """conv1 (relu) → pool → BN → conv2 (relu) → GAP → Dense; `fold=True`: without the BN."""
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu",
                            bias_initializer="random_normal", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    bn = None if fold else keras.layers.BatchNormalization(name="bn")
    x = x if fold else bn(x)
    x = keras.layers.Conv2D(5, 3, padding=padding, activation="relu",
                            bias_initializer="random_normal", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs), bn


def copy_weights(source, target, skip=()):
    for layer in target.layers:
        if layer.weights and layer.name not in skip:
            layer.set_weights(source.get_layer(layer.name).get_weights())


def assert_same_relevance(model, folded, images, targets):
    np.testing.assert_allclose(model.predict(images, verbose=0),
                               folded.predict(images, verbose=0), rtol=1e-4, atol=1e-6)
    before = model_state(model)
    for composite in CANONIZED:
        got = relevance_maps(model, images, targets, composite)
        want = relevance_maps(folded, images, targets, composite)
        for g, w in zip(got, want):
            assert_close(g, w, 1e-4)
    assert_model_unchanged(model, before)


def test_batchnorm_after_conv_is_folded_into_it(rng):
    model, bn = bn_after_conv(False)
    randomize_batchnorm(bn, rng)
    folded, _ = bn_after_conv(True)
    copy_weights(model, folded, skip=("conv1",))
    kernel, bias = model.get_layer("conv1").get_weights()
    scale, shift = batchnorm_affine(bn)
    folded.get_layer("conv1").set_weights([kernel * scale, bias * scale + shift])
    assert_same_relevance(model, folded, signed_images(rng, 3), [0, 1, 2])


def test_batchnorm_before_conv_is_folded_into_its_input_channels(rng):
    model, bn = bn_before_conv(False, "valid")
    randomize_batchnorm(bn, rng)
    folded, _ = bn_before_conv(True, "valid")
    copy_weights(model, folded, skip=("conv2",))
    kernel, bias = model.get_layer("conv2").get_weights()
    scale, shift = batchnorm_affine(bn)
    folded.get_layer("conv2").set_weights(
        [kernel * scale[:, None], bias + np.einsum("hwio,i->o", kernel, shift)])
    assert_same_relevance(model, folded, signed_images(rng, 3), [2, 0, 1])


@pytest.mark.parametrize("name, make_rule, reference", [
    ("epsilon", lambda: rules.Epsilon(0.01), np_epsilon(0.01)),
    ("gamma", lambda: rules.Gamma(0.25), np_gamma(0.25)),
    ("alpha2_beta1", lambda: rules.AlphaBeta(2.0, 1.0), np_alpha_beta(2.0, 1.0)),
    ("flat", rules.Flat, np_flat),
], ids=["epsilon", "gamma", "alpha2_beta1", "flat"])
def test_batchnorm_before_same_padded_conv_matches_reference(name, make_rule, reference, rng):
    """The normalization's shift is not seen by the zero padding: a position-dependent bias."""
    model, bn = bn_before_conv(False, "same")
    randomize_batchnorm(bn, rng)
    before = model_state(model)
    images = signed_images(rng)
    targets = [1, 0]
    composite = rules.Composite([(rules.LINEAR, make_rule())])
    signed, absolute = relevance_maps(model, images, targets, composite)
    want_signed, want_absolute, logits = reference_maps(model, images, targets,
                                                        lambda layer: reference)
    np.testing.assert_allclose(keras.ops.log_softmax(logits).numpy(),
                               np.log(model.predict(images, verbose=0)), atol=1e-4)
    assert_close(signed, want_signed)
    assert_close(absolute, want_absolute)
    assert_model_unchanged(model, before)


def test_batchnorm_before_same_padded_conv_conserves_and_is_finite(rng):
    model, bn = bn_before_conv(False, "same")
    randomize_batchnorm(bn, rng)
    images = signed_images(rng, 3)
    targets = [0, 1, 2]
    logits = reference_maps(model, images, targets, lambda layer: np_zero)[2]
    for composite in CANONIZED:
        relevance = keras_vis.lrp(model, images, targets, composite=composite, normalize=False)
        assert np.all(np.isfinite(relevance))
    relevance = keras_vis.lrp(model, images, targets, composite="alpha1_beta0", normalize=False)
    np.testing.assert_allclose(relevance.sum((1, 2)), logits[np.arange(3), targets], rtol=1e-4)


def test_batchnorm_not_next_to_a_linear_layer_gets_epsilon(rng):
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    bn = keras.layers.BatchNormalization(name="bn")
    x = keras.layers.GlobalAveragePooling2D()(bn(x))
    outputs = keras.layers.Dense(3, activation="softmax", name="dense")(x)
    model = keras.Model(inputs, outputs)
    randomize_batchnorm(bn, rng)
    images = signed_images(rng)
    targets = [0, 2]
    epsilon = 0.01
    relevance = keras_vis.lrp(model, images, targets, composite="epsilon", epsilon=epsilon,
                              normalize=False)
    scale, shift = batchnorm_affine(bn)

    def reference(image, target):
        layer = model.get_layer("conv")
        kernel, bias = layer.get_weights()
        a, conv_back = linear_op(image.astype(np.float64), Linear(kernel, bias, SHAPE, "same"),
                                 np_epsilon(epsilon))
        a = np.maximum(a, 0)
        normed = a * scale + shift
        pooled, gap_back = gap_op(normed)
        kernel, bias = model.get_layer("dense").get_weights()
        logits, dense_back = linear_op(pooled, Linear(kernel, bias, pooled.shape),
                                       np_epsilon(epsilon))
        seed = np.zeros(3)
        seed[target] = logits[target]
        r = gap_back(dense_back(seed))
        return conv_back(a * scale * r / stab(normed, epsilon)).sum(-1)

    assert_close(relevance, np.stack([reference(i, t) for i, t in zip(images, targets)]))


# --- Errors ---------------------------------------------------------------------------------


def test_unknown_composite_name_lists_the_names(rng):
    model = chain_cnn()
    with pytest.raises(ValueError) as raised:
        keras_vis.lrp(model, signed_images(rng), composite="epsilon_plus_flatt")
    for name in rules.COMPOSITES:
        assert repr(name) in str(raised.value)


def test_alpha_beta_must_differ_by_one():
    with pytest.raises(ValueError, match="alpha"):
        rules.AlphaBeta(alpha=2.0, beta=2.0)
    with pytest.raises(ValueError, match="alpha"):
        rules.AlphaBeta(alpha=1.0, beta=1.0)
    assert rules.AlphaBeta(3.0, 2.0).beta == 2.0


def test_layer_no_rule_covers_is_named():
    model = models.cnn_with_unknown_layer()
    for composite in ("epsilon", rules.Composite([(rules.LINEAR, rules.Zero())])):
        with pytest.raises(ValueError, match="doubling"):
            keras_vis.lrp(model, models.images(1), composite=composite)


def test_subclassed_model_is_refused():
    with pytest.raises(ValueError, match="subclassed"):
        keras_vis.lrp(models.subclassed_cnn(), models.images(1))


def test_weight_rule_on_a_layer_without_weights_is_refused(rng):
    model = chain_cnn("avgpool")
    composite = rules.Composite([(rules.LINEAR, rules.Epsilon())],
                                names={"avg": rules.Gamma()})
    with pytest.raises(ValueError, match="avg"):
        keras_vis.lrp(model, signed_images(rng), composite=composite)


def test_normalized_relevance_is_the_positive_evidence_scaled_by_its_maximum(rng):
    model = chain_cnn("gap")
    images = signed_images(rng)
    raw = keras_vis.lrp(model, images, [0, 1], composite="epsilon", normalize=False)
    maps = keras_vis.lrp(model, images, [0, 1], composite="epsilon")
    positive = np.maximum(raw, 0)
    np.testing.assert_allclose(maps, positive / positive.max(axis=(1, 2), keepdims=True),
                               rtol=1e-6, atol=1e-7)
    assert np.all(maps[raw <= 0] == 0)


# --- Operations, per-channel scales, resampling, gates and rules by name ----------------------


def two_convs(preprocess, merge, scale=None):
    """8×8×3 → `preprocess` → conv 3×3 (relu) "a" → conv 3×3 "b" [→ `scale`] → `merge(a, b)` →
    relu → GAP → Dense(3); the same weights whatever `preprocess`, `merge` and `scale` are."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input(SHAPE)
    x = preprocess(inputs)
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="a")(x)
    b = keras.layers.Conv2D(4, 3, padding="same", name="b")(a)
    if scale is not None:
        b = scale(b)
    x = keras.layers.ReLU(name="relu")(merge(a, b))
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="dense")(x))


def as_layers(inputs):
    return keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)


def as_operations(inputs):
    return inputs / 127.5 - 1.0


def add_layer(a, b):
    return keras.layers.Add()([a, b])


def add_operation(a, b):
    return a + b


@pytest.mark.parametrize("composite", ["epsilon_plus_flat", "epsilon_alpha2_beta1"])
def test_operations_get_the_rules_of_the_layers_they_stand_for(composite, rng):
    """`preprocess_input`'s `x / 127.5 - 1` passes relevance through as `Rescaling` does, and a
    residual `a + b` shares it in proportion as `Add` does."""
    layers = two_convs(as_layers, add_layer)
    written = two_convs(as_operations, add_operation)
    images = rng.uniform(0, 255, (2,) + SHAPE).astype(np.float32)
    np.testing.assert_allclose(keras_vis.lrp(written, images, [0, 2], composite=composite,
                                             normalize=False),
                               keras_vis.lrp(layers, images, [0, 2], composite=composite,
                                             normalize=False), rtol=1e-4, atol=1e-6)


def test_a_per_channel_scale_passes_relevance_as_if_folded_into_its_convolution(rng):
    """ConvNeXt's `LayerScale` is a diagonal linear map: relevance through `γ · conv(x)` is the
    relevance through a convolution with `γ` folded into its kernel and bias (γ > 0)."""
    (layer_scale,) = rules.kinds.CHANNEL_SCALES
    scaled = two_convs(as_layers, add_layer, scale=layer_scale(1.0, 4, name="scale"))
    gamma = rng.uniform(0.3, 2.0, 4).astype(np.float32)
    scaled.get_layer("scale").set_weights([gamma])
    folded = two_convs(as_layers, add_layer)
    kernel, bias = folded.get_layer("b").get_weights()
    folded.get_layer("b").set_weights([kernel * gamma, bias * gamma])
    images = rng.uniform(0, 255, (2,) + SHAPE).astype(np.float32)
    for composite in ("epsilon", "epsilon_plus_flat", "alpha1_beta0"):
        np.testing.assert_allclose(
            keras_vis.lrp(scaled, images, [1, 0], composite=composite, normalize=False),
            keras_vis.lrp(folded, images, [1, 0], composite=composite, normalize=False),
            rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("resample", [
    lambda x: keras.layers.UpSampling2D(interpolation="bilinear")(x),
    lambda x: keras.layers.UpSampling2D(interpolation="nearest")(x),
    lambda x: keras.layers.Resizing(13, 11, interpolation="bicubic")(x),
], ids=["bilinear upsampling", "nearest upsampling", "bicubic resizing"])
def test_lrp0_through_resampling_is_gradient_times_input(resample, rng):
    """Resampling is a fixed linear map: on a bias-free linear network (a fully convolutional one
    ending in a resized map) LRP-0 is gradient × input, and relevance sums to the logit."""
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(3, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.Flatten()(resample(x))
    model = keras.Model(inputs, keras.layers.Dense(2, use_bias=False)(x))
    images = 100.0 * signed_images(rng, 2)  # so the stabilizer's 1e-6 is negligible
    relevance = keras_vis.lrp(model, images, [0, 1], normalize=False,
                              composite=rules.Composite([(rules.LINEAR, rules.Zero())]))
    product = keras_vis.gradient_input(model, images, [0, 1], reduce="sum", normalize=False)
    assert_close(relevance, product, 1e-4)
    logits = model.predict(images, verbose=0)[[0, 1], [0, 1]]
    np.testing.assert_allclose(relevance.sum((1, 2)), logits, rtol=1e-4)


def hard_swish_net():
    """conv (linear, no bias) → hard swish written as MobileNetV3 writes it: `x * relu6(x + 3) *
    (1 / 6)`, a `Multiply` of a map by a gate computed from it → GAP → Dense (no bias)."""
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="conv")(inputs)
    gate = keras.layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)
    x = keras.layers.Multiply(name="swish")([x, gate])
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, use_bias=False)(x))


def test_a_gate_computed_from_its_signal_gets_no_relevance(rng):
    """The signal and its gate have the same shape; the data flow tells the gate apart, and the
    whole relevance reaches the signal: with LRP-0 and no biases it sums to the logit, as
    relevance through `x · g` with `g` held fixed does."""
    model = hard_swish_net()
    images = 3.0 * signed_images(rng, 3)
    targets = [0, 1, 2]
    relevance = keras_vis.lrp(model, images, targets, normalize=False,
                              composite=rules.Composite([(rules.LINEAR, rules.Zero())]))
    logits = model.predict(images, verbose=0)[np.arange(3), targets]
    np.testing.assert_allclose(relevance.sum((1, 2)), logits, rtol=1e-4)
    # The same as the gradient × input of the network whose gate is a constant of the image:
    # conv(x) · g(x) with g fixed is linear in x.
    conv = keras.Model(model.inputs, model.get_layer("conv").output).predict(images, verbose=0)
    gate = np.clip(conv + 3.0, 0, 6) / 6
    kernel = model.layers[-1].get_weights()[0]
    weights = kernel[:, targets].T[:, None, None, :] * gate / (SHAPE[0] * SHAPE[1])
    expected = conv * weights  # relevance at the conv output, per channel
    np.testing.assert_allclose(relevance.sum((1, 2)), expected.sum((1, 2, 3)), rtol=1e-4)


def test_the_rule_suggested_for_a_layer_no_rule_covers_works():
    model = models.lambda_cnn()
    images = models.images(2)
    with pytest.raises(ValueError) as raised:
        keras_vis.lrp(model, images)
    message = str(raised.value)
    assert "'double'" in message and "rules={'double': 'elementwise'}" in message
    assert "--rule double=elementwise" in message
    maps = keras_vis.lrp(model, images, rules={"double": "elementwise"}, normalize=False)
    assert maps.shape == (2, 16, 16) and np.all(np.isfinite(maps)) and np.any(maps)
    np.testing.assert_array_equal(
        keras_vis.lrp(model, images, rules={"double": rules.Pass()}, normalize=False), maps)


def test_a_rule_by_name_reaches_an_operation(rng):
    """`x + 1.0` has its rule; naming it gives it another, with the constant held apart."""
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten()(x + 1.0)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    (add,) = [op for op in model.operations if op.name.startswith("add")]
    images = signed_images(rng)
    passed = keras_vis.lrp(model, images, composite="epsilon", normalize=False)
    np.testing.assert_array_equal(keras_vis.lrp(model, images, composite="epsilon",
                                                normalize=False, rules={add.name: rules.Pass()}),
                                  passed)
    composite = rules.Composite([(rules.LINEAR, rules.Epsilon())], names={add.name: rules.Norm()})
    absorbed = keras_vis.lrp(model, images, composite=composite, normalize=False)
    # The proportional rule lets the constant absorb its share: less reaches the input.
    assert np.all(np.abs(absorbed.sum((1, 2))) < np.abs(passed.sum((1, 2))))


def test_rules_by_name_are_checked_before_any_work():
    model = models.lambda_cnn()
    with pytest.raises(ValueError, match="Did you mean: 'double'"):
        keras_vis.lrp(model, models.images(1), rules={"doubel": "elementwise"})
    with pytest.raises(ValueError, match="'elementwise', 'linear', 'routing', 'gate'"):
        keras_vis.lrp(model, models.images(1), rules={"double": "twice"})
    with pytest.raises(TypeError, match="dict"):
        keras_vis.lrp(model, models.images(1), rules=["double"])


# --- zennit's convention, and where relevance goes layer by layer ----------------------------


@pytest.mark.parametrize("composite, conv_rule", [
    ("epsilon_plus_flat", np_alpha_beta_zennit(1.0, 0.0)),
    ("epsilon_alpha2_beta1", np_alpha_beta_zennit(2.0, 1.0)),
])
def test_a_named_composite_in_zennits_convention_matches_a_reference_keeping_biases(
        composite, conv_rule, rng):
    """zennit's EpsilonPlusFlat and EpsilonAlpha2Beta1: flat (no bias) or αβ for the first
    convolution, z⁺ or αβ keeping `b⁺`/`b⁻` for the others, ε (bias kept) for dense layers."""
    model = chain_cnn("flatten", bias=True)
    images = signed_images(rng, 2)
    targets = [2, 0]
    signed, absolute = relevance_maps(model, images, targets, composite, zennit_biases=True)

    def rule_of(layer):
        if isinstance(layer, keras.layers.Dense):
            return np_epsilon(1e-6)
        if layer.name == "conv1" and composite == "epsilon_plus_flat":
            return np_flat
        return conv_rule

    want_signed, want_absolute, _ = reference_maps(model, images, targets, rule_of)
    assert_close(signed, want_signed)
    assert_close(absolute, want_absolute)
    ours = relevance_maps(model, images, targets, composite)[0]
    assert np.abs(ours - signed).max() > 1e-3 * np.abs(signed).max()  # the biases made a change


def test_zennit_biases_belong_to_named_composites():
    with pytest.raises(ValueError, match="zennit_biases=True"):
        keras_vis.lrp(chain_cnn(), np.zeros((1,) + SHAPE, np.float32), zennit_biases=True,
                      composite=rules.Composite([(rules.LINEAR, rules.ZPlus())]))
    with pytest.raises(TypeError, match="zennit_biases"):
        rules.ZPlus(zennit_biases="yes")


def test_layer_sums_show_where_relevance_goes(rng):
    model = chain_cnn("gap", bias=True)
    images = 10.0 * signed_images(rng, 3)
    targets = [1, 0, 2]
    maps, layers = keras_vis.lrp(model, images, targets, composite="epsilon", normalize=False,
                                 return_layers=True)
    assert layers.names == ("conv1", "conv2", "dense", "input")
    logits = reference_maps(model, images, targets, lambda layer: np_zero)[2]
    np.testing.assert_allclose(layers.score, logits[np.arange(3), targets], rtol=1e-5)
    np.testing.assert_allclose(layers.sums[:, 2], layers.score, rtol=1e-5)  # the head's output
    np.testing.assert_allclose(layers.sums[:, -1], maps.sum((1, 2)), rtol=1e-5)
    # The biases absorb their share on the way down: ε-LRP's layer sums differ from the score.
    assert np.abs(layers.shares[:, :2] - 1).max() > 1e-3
    assert "conv2" in str(layers) and "share of the score" in str(layers)
    _, unbiased = keras_vis.lrp(chain_cnn("gap", bias=False), images, targets,
                                composite="epsilon", normalize=False, return_layers=True)
    np.testing.assert_allclose(unbiased.shares, 1.0, rtol=1e-4)


def test_lrp_starts_from_the_output_with_logits_false(rng):
    model = chain_cnn("gap", bias=False)
    images = 10.0 * signed_images(rng, 2)
    maps, layers = keras_vis.lrp(model, images, [0, 1], composite="epsilon", logits=False,
                                 normalize=False, return_layers=True)
    probabilities = model.predict(images, verbose=0)[[0, 1], [0, 1]]
    np.testing.assert_allclose(layers.score, probabilities, rtol=1e-5)
    np.testing.assert_allclose(maps.sum((1, 2)), probabilities, rtol=1e-3)


def test_pass_on_a_sum_of_two_tensors_says_which_rule_fits(rng):
    model = two_convs(as_operations, add_operation)
    (add,) = [op for op in model.operations if type(op).__name__ == "Add"]
    with pytest.raises(ValueError, match=r"from 2 tensors\. Give it `keras_vis.rules.Norm\(\)`"):
        keras_vis.lrp(model, rng.uniform(0, 255, (1,) + SHAPE).astype(np.float32),
                      rules={add.name: rules.Pass()})
