"""Grad-CAM of the bundled demo model points at the object: on 200 fresh generated images, the
map's maximum lies inside the object's mask for at least 95 % of them."""

import numpy as np

from keras_vis import demo
from keras_vis.attribution import gradcam
from keras_vis.demo import shapes, train
from keras_vis.metrics import pointing_game

# Never seen in training (epoch e trains on seed TRAIN_SEED_OFFSET + e) nor in its evaluation.
SEED = 4242
COUNT = 200


def test_seed_is_fresh():
    assert SEED != train.TEST_SEED
    assert not train.TRAIN_SEED_OFFSET <= SEED < train.TRAIN_SEED_OFFSET + 10_000


def test_gradcam_points_inside_the_object():
    images, labels, masks = shapes(COUNT, size=demo.INPUT_SIZE, seed=SEED)
    model = demo.load_model()
    maps = gradcam(model, images.astype(np.float32), labels)

    # The pointing game by hand: the first maximum of each map, looked up in its mask.
    peaks = maps.reshape(COUNT, -1).argmax(axis=1)
    by_hand = masks.reshape(COUNT, -1)[np.arange(COUNT), peaks]
    result = pointing_game(maps, masks)
    np.testing.assert_array_equal(result.hits, by_hand)
    assert result.mean >= 0.95, f"Grad-CAM pointing game {result.mean:.1%} < 95 %"
