"""Writes the tutorial notebooks of `notebooks/` from the cells below, without outputs.

Run `python notebooks/generate.py` after editing a cell; the test suite executes the notebooks with
`KERAS_VIS_FAST=1`, which each notebook reads to use tiny step counts.
"""

import pathlib
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

FOLDER = pathlib.Path(__file__).resolve().parent

SETUP = '''\
%matplotlib inline
import os

# The test suite sets KERAS_VIS_FAST=1 to run this notebook with tiny step counts.
FAST = os.environ.get("KERAS_VIS_FAST") == "1"

import numpy as np

from keras_vis import demo, plot
from keras_vis.demo import SHAPE_CLASSES, shapes
from keras_vis.layers import conv_layers

model = demo.load_model()  # the bundled CNN, trained on generated shapes; no download
convolutions = [layer.name for layer in conv_layers(model)]
print("convolutions:", convolutions)'''

INSPECT = [
    "# Inspecting a model and its feature maps\n\n"
    "Before asking *why* a network decides something, look at *what* it is: its layers, the "
    "filters it learned and what those filters compute for an image. This notebook uses the "
    "bundled demo model, a small VGG-style CNN trained on generated images of five shapes "
    "(circle, square, triangle, cross, star), so it runs offline in seconds. Everything works the "
    "same on `keras.applications` models and on your own.",
    SETUP,
    "## The layer table\n\n`summary` lists every layer with its output shape, parameters, "
    "filters or units, kernel, strides, activation and trainable flag. Printed, it is a table; in "
    "Jupyter it is an HTML table; and it is data.",
    "from keras_vis.inspect import summary\n\ntable = summary(model)\ntable",
    "row = table[demo.LAST_CONV_LAYER]\n"
    "print(row.type, row.output_shape, row.filters, row.kernel_size, row.activation)\n"
    "print(f\"{table.total_params:,} parameters\")",
    "## Configurations and weights\n\n`layer_configs` and `layer_weights` give every layer's "
    "configuration and weight arrays as plain dicts, keyed by layer path.",
    "from keras_vis.inspect import filter_weights, layer_configs, layer_weights\n\n"
    "first = convolutions[0]\nconfigs = layer_configs(model)\n"
    "print(configs[first][\"filters\"], configs[first][\"kernel_size\"])\n"
    "shapes_of_weights = {name: [w.shape for w in values]\n"
    "                     for name, values in layer_weights(model).items() if values}\n"
    "shapes_of_weights",
    "## Filters\n\nThe first convolution sees RGB pixels directly, so each of its 3×3×3 kernels "
    "can be drawn as a tiny colour image: the colour edge or blob it responds to. Deeper kernels "
    "have as many input channels as the layer below has filters; they are drawn as grey grids.",
    "kernel = filter_weights(model, first)\nprint(kernel.shape)  # (kh, kw, in, out)\n"
    "plot.filters(model, first)",
    "plot.filters(model, convolutions[1], max_filters=16)",
    "## Feature maps\n\nFeed images through the model and look at the output of chosen layers. "
    "`feature_maps` computes any set of layers in one batched forward pass.",
    "images, labels, masks = shapes(4, seed=2024)\n"
    "plot.grid(images, titles=[SHAPE_CLASSES[label] for label in labels], cols=4)",
    "from keras_vis.inspect import feature_maps\n\n"
    "layers = convolutions[:2] + convolutions[-2:]\n"
    "maps = feature_maps(model, images.astype(\"float32\"), layers)\n"
    "{name: values.shape for name, values in maps.items()}",
    "Early layers keep the full resolution and respond to edges and colours; later layers are "
    "coarser and respond to parts of the shape. The first eight channels of each layer, for the "
    "first image:",
    "plot.feature_maps(model, images[0].astype(\"float32\"), layers, max_channels=8)",
    "## Any architecture: a `keras.applications` base inside your own model\n\n"
    "Transfer-learning models nest a pretrained base inside a `Sequential` or functional model. "
    "Layers are found inside nested models too (by name, or by a path such as "
    "`\"vgg16/block5_conv3\"`), and the layer for class activation maps is chosen from the "
    "architecture. Here the base is VGG16 with random weights (`weights=None`): this shows the "
    "mechanics, "
    "not a trained model.",
    "import keras\n\n"
    "from keras_vis.layers import find_layer, last_conv_layer\n\n"
    "base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(64, 64, 3))\n"
    "transfer = keras.Sequential([keras.Input((64, 64, 3)), base,\n"
    "                             keras.layers.GlobalAveragePooling2D(),\n"
    "                             keras.layers.Dense(5, activation=\"softmax\")])\n"
    "nested = summary(transfer)\n"
    "print(len(transfer.layers), \"top-level layers,\", len(nested), "
    "\"rows with the nested ones\")\n"
    "print(find_layer(transfer, \"vgg16/block5_conv3\").name, \"|\", "
    "last_conv_layer(transfer).name)",
    "Keras's own `transfer.get_layer(\"block5_conv3\")` fails here, since the layer belongs to the "
    "nested VGG16; the techniques do not care. Grad-CAM on the nested model, with the layer found "
    "automatically:",
    "from keras_vis.attribution import gradcam\n\n"
    "pictures = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype(\"float32\")\n"
    "heatmaps = gradcam(transfer, pictures)\nheatmaps.shape, heatmaps.min(), heatmaps.max()",
    "Next: *explaining a prediction* shows where in an image the evidence for a class lies.",
]

EXPLAIN = [
    "# Explaining a prediction\n\n"
    "Which pixels made the model say *star*? Gradient methods measure how sensitive the class "
    "score is to each pixel; class activation maps (CAM) weight the last convolution's feature "
    "maps by their importance for the class; occlusion hides parts of the image and watches the "
    "probability drop. The generated shapes come with the object's pixel mask, so we can check "
    "where each map points.",
    SETUP,
    "images, labels, masks = shapes(6, seed=31)\n"
    "inputs = images.astype(\"float32\")  # the demo model takes 0–255 pixels\n"
    "probabilities = model.predict(inputs, verbose=0)\n"
    "predicted = probabilities.argmax(axis=1)\n"
    "titles = [f\"{SHAPE_CLASSES[p]} {probabilities[i, p]:.0%}\"\n"
    "          for i, p in enumerate(predicted)]\n"
    "plot.grid(images, cols=6, titles=titles)",
    "## Gradients\n\n"
    "Every function takes `(model, images, target=None, *, options)` and returns one map per "
    "image, `(N, H, W)` in [0, 1]. `target=None` explains the predicted class. The softmax is "
    "replaced by a linear output for the gradient (the logit), without touching your model.",
    "from keras_vis.attribution import gradient_input, integrated_gradients, saliency\n\n"
    "samples = 4 if FAST else 32\nig_steps = 4 if FAST else 64\n"
    "gradient_maps = {\n"
    "    \"gradient\": saliency(model, inputs),\n"
    "    \"guided backprop\": saliency(model, inputs, method=\"guided\"),\n"
    "    \"deconvnet\": saliency(model, inputs, method=\"deconvnet\"),\n"
    "    \"SmoothGrad\": saliency(model, inputs, smooth_samples=samples, seed=0),\n"
    "    \"gradient × input\": gradient_input(model, inputs),\n"
    "    \"integrated gradients\": integrated_gradients(model, inputs, steps=ig_steps),\n"
    "}",
    "def show(maps_by_name, over_image=False):\n"
    "    \"\"\"One row per image: the image, then each method's map.\"\"\"\n"
    "    tiles, titles = [], []\n"
    "    for index, image in enumerate(images):\n"
    "        tiles.append(image)\n"
    "        titles.append(SHAPE_CLASSES[predicted[index]])\n"
    "        for name, maps in maps_by_name.items():\n"
    "            alpha = 0.45 if over_image else 1.0\n"
    "            cmap = \"jet\" if over_image else \"inferno\"\n"
    "            tiles.append(plot.overlay(image, maps[index], cmap=cmap, alpha=alpha))\n"
    "            titles.append(name)\n"
    "    return plot.grid(tiles, cols=len(maps_by_name) + 1, titles=titles, tile_size=1.6)\n\n"
    "show(gradient_maps)",
    "## Class activation maps\n\n"
    "`cam(..., method=...)` runs every variant through one template; only the channel weights "
    "differ: dense weights (CAM), gradients (Grad-CAM, Grad-CAM++, LayerCAM, HiResCAM, "
    "XGrad-CAM), the score of the image seen through each channel (Score-CAM), the score lost "
    "without each channel (Ablation-CAM), or no weights at all, the first principal component of "
    "the feature maps (Eigen-CAM). FullGrad adds every convolution's bias gradients to the input "
    "gradient. Guided Grad-CAM multiplies guided backprop by Grad-CAM: sharp *and* "
    "class-specific.",
    "from keras_vis import registry\n"
    "from keras_vis.attribution import cam, guided_gradcam\n\n"
    "cam_maps = {spec.name: cam(model, inputs, method=spec.name)\n"
    "            for spec in registry.cam_variants()}\n"
    "show(cam_maps, over_image=True)",
    "show({\"guided Grad-CAM\": guided_gradcam(model, inputs)})",
    "Two options smooth any of them: `aug_smooth=True` averages the maps of mirrored and zoomed "
    "copies of each image (each mapped back first), `eigen_smooth=True` keeps the first "
    "principal component of the weighted feature maps instead of their sum.",
    "show({\"Grad-CAM\": cam_maps[\"gradcam\"],\n"
    "      \"aug_smooth\": cam(model, inputs, method=\"gradcam\", aug_smooth=True),\n"
    "      \"eigen_smooth\": cam(model, inputs, method=\"gradcam\", eigen_smooth=True)},\n"
    "     over_image=True)",
    "## Relevance: LRP and DeepLIFT\n\n"
    "Layer-wise relevance propagation hands the class logit back layer by layer, each layer "
    "sharing it among its inputs by a rule (a *composite* picks the rule of each layer); with "
    "`normalize=False` the map is signed. How much of the logit reaches the pixels depends on "
    "the rules: ε lets biases absorb their share, z⁺ drops the relevance of outputs with no "
    "positive contribution; `return_layers=True` shows the share each layer's output holds, "
    "below. DeepLIFT compares the image with a baseline: each pixel's share of the difference of "
    "the logits. Red is evidence for the class, blue against it, white none.",
    "from keras_vis.attribution import deeplift, lrp\n\n"
    "relevance_maps = {\n"
    "    \"LRP ε / z⁺ / flat\": lrp(model, inputs, normalize=False),\n"
    "    \"LRP ε / γ / box\": lrp(model, inputs, composite=\"epsilon_gamma_box\",\n"
    "                             normalize=False),\n"
    "    \"DeepLIFT\": deeplift(model, inputs, baseline=0.0, normalize=False),\n"
    "}\n\n"
    "def show_signed(maps_by_name):\n"
    "    \"\"\"Signed maps, zero at white: each scaled by its largest magnitude.\"\"\"\n"
    "    centred = {name: 0.5 + maps / (2 * abs(maps).max(axis=(1, 2), keepdims=True))\n"
    "               for name, maps in maps_by_name.items()}\n"
    "    tiles, titles = [], []\n"
    "    for index, image in enumerate(images):\n"
    "        tiles.append(image)\n"
    "        titles.append(SHAPE_CLASSES[predicted[index]])\n"
    "        for name, maps in centred.items():\n"
    "            tiles.append(plot.overlay(image, maps[index], cmap=\"bwr\", alpha=1.0,\n"
    "                                      normalize=False))\n"
    "            titles.append(name)\n"
    "    return plot.grid(tiles, cols=len(centred) + 1, titles=titles, tile_size=1.6)\n\n"
    "show_signed(relevance_maps)",
    "Where did the relevance go? `return_layers=True` gives, image by image, the share of the "
    "logit each convolution's and dense layer's output holds, down to the pixels.",
    "maps, layers = lrp(model, inputs, normalize=False, return_layers=True)\n"
    "print(layers)",
    "## Occlusion\n\n"
    "Slide a grey square over the image and record the class probability for each position. "
    "Where hiding the square makes the probability drop, the model needed those pixels. All "
    "occluded copies run in batches.",
    "from keras_vis.attribution import apply_mask, occlusion, occlusion_mask\n\n"
    "heatmaps = occlusion(model, inputs, patch=8, stride=4 if not FAST else 8, fill=127.5)\n"
    "needed = occlusion_mask(heatmaps, 0.85)\n"
    "plot.grid(list(heatmaps[:3]) + list(apply_mask(images[:3], needed[:3])), cols=3,\n"
    "          cmap=\"jet\",\n"
    "          titles=[\"probability with the patch\"] * 3 + [\"regions the model needs\"] * 3)",
    "RISE shows the image through random masks instead, coarse grids of cells kept with "
    "probability `p`, and averages the masks weighted by the class probability each leaves: "
    "no patch size to choose, and many masks (seeded: the same seed, the same map). Occlusion, "
    "Score-CAM and RISE take the same `fill=` for the hidden pixels: a number, one per channel, "
    "an image, `\"mean\"` (each image's mean colour, the default of Score-CAM and RISE) or "
    "`\"blur\"`.",
    "from keras_vis.attribution import rise\n\n"
    "show({\"RISE\": rise(model, inputs, masks=200 if FAST else 2000, seed=0)}, over_image=True)",
    "## Do the maps point at the object?\n\n"
    "The pointing game counts an image as a hit when the map's maximum falls on the object. "
    "A map that reflects the model should point inside the mask on a model that learned the "
    "shapes.",
    "from keras_vis.metrics import pointing_game\n\n"
    "everything = {**gradient_maps, **cam_maps, **relevance_maps}\n"
    "for name, maps in everything.items():\n"
    "    print(f\"{name:>22}: {pointing_game(maps, masks).mean:.0%} of maxima on the object\")",
    "## Explaining another class\n\n"
    "Pass `target=` to ask about a class the model did not predict: the map shows the evidence "
    "*for that class*.",
    "square = SHAPE_CLASSES.index(\"square\")\n"
    "show({\"Grad-CAM predicted\": cam_maps[\"gradcam\"],\n"
    "      \"Grad-CAM 'square'\": cam(model, inputs, square, method=\"gradcam\")},\n"
    "     over_image=True)",
    "## Segmentation models: explain a region\n\n"
    "A segmentation model scores every pixel: its output is `(N, h, w, K)`, a score per pixel and "
    "class. `Region(k)` explains the sum of class `k`'s scores over the pixels predicted as `k`, "
    "and every gradient, CAM, RISE and occlusion method takes it. A tiny U-Net, trained here for "
    "a few seconds on the shapes' masks (background and the five shapes, one label per pixel), "
    "finds the objects well, though it barely tells their shapes apart.",
    "import keras\n\n"
    "from keras_vis import Region\n"
    "from keras_vis.attribution import gradcam\n\n"
    "keras.utils.set_random_seed(1)\n"
    "train_images, train_labels, train_masks = shapes(384, size=32, seed=1)\n"
    "pixel_labels = np.where(train_masks, train_labels[:, None, None] + 1, 0)  # 0: background\n"
    "layers = keras.layers\n"
    "pixels = keras.Input((32, 32, 3))\n"
    "top = layers.Conv2D(16, 3, padding=\"same\", activation=\"relu\")(pixels)\n"
    "bottom = layers.Conv2D(32, 3, padding=\"same\", activation=\"relu\")(\n"
    "    layers.MaxPooling2D()(top))\n"
    "bottom = layers.Conv2D(32, 3, padding=\"same\", activation=\"relu\")(bottom)\n"
    "up = layers.Concatenate()([layers.UpSampling2D()(bottom), top])\n"
    "up = layers.Conv2D(16, 3, padding=\"same\", activation=\"relu\")(up)\n"
    "scores = layers.Conv2D(len(SHAPE_CLASSES) + 1, 1, activation=\"softmax\")(up)\n"
    "segmenter = keras.Model(pixels, scores, name=\"tiny_unet\")\n"
    "segmenter.compile(keras.optimizers.Adam(5e-3), \"sparse_categorical_crossentropy\")\n"
    "segmenter.fit(train_images / np.float32(255), pixel_labels, epochs=8, batch_size=32,\n"
    "              sample_weight=np.where(train_masks, 12.0, 1.0), verbose=0)  # small objects\n"
    "segmenter.output_shape",
    "Grad-CAM of the pixels predicted as the class the segmenter finds most often:",
    "scene = shapes(4, size=32, seed=7)[0].astype(\"float32\") / 255\n"
    "labelled = segmenter.predict(scene, verbose=0).argmax(axis=-1)\n"
    "k = int(np.bincount(labelled[labelled > 0]).argmax())\n"
    "heatmaps = gradcam(segmenter, scene, Region(k))\n"
    "titles = [\"image\", f\"pixels predicted {SHAPE_CLASSES[k - 1]}\", \"Grad-CAM\"]\n"
    "plot.grid([*scene, *(labelled == k).astype(\"float32\"),\n"
    "           *(plot.overlay(image, heatmap) for image, heatmap in zip(scene, heatmaps))],\n"
    "          cols=4, titles=[title for title in titles for _ in range(4)])",
    "`Region(k, mask=...)` explains a region of your choice instead: an `(h, w)` mask for every "
    "image or `(N, h, w)` one per image, at the output's resolution, of bools, 0/1 or weights. "
    "Methods that alter the image (occlusion, RISE, Score-CAM) score every altered copy on the "
    "pixels predicted for the original image.",
]

MAXIMIZE = [
    "# Activation maximization\n\n"
    "Instead of explaining an image, *make* one: start from noise and follow the gradient to "
    "excite a channel, a neuron or a class as much as possible. The result shows what the unit "
    "looks for.",
    SETUP,
    "from keras_vis.maximization import (callbacks, class_visualization, filter_visualization,\n"
    "                                maximize, multiscale_visualization, objectives)\n\n"
    "steps = 4 if FAST else 128",
    "## Channels of a layer\n\n"
    "First pick channels worth looking at: some channels of a trained network never fire on real "
    "images (their ReLU is always off), so their gradient is zero and an image optimized for them "
    "stays grey. The feature maps of a few images tell which channels respond.",
    "from keras_vis.inspect import feature_maps\n\n"
    "sample = shapes(64, seed=1)[0].astype(\"float32\")\n"
    "activity = feature_maps(model, sample, [demo.LAST_CONV_LAYER])[demo.LAST_CONV_LAYER]\n"
    "activity = activity.mean(axis=(0, 1, 2))\n"
    "print(f\"{int((activity == 0).sum())} of {activity.size} channels never fire on these \"\n"
    "      \"images\")\n"
    "channels = np.sort(np.argsort(-activity)[:16])\nchannels",
    "`objectives.channel(layer, channels)` renders one image per channel, all in one batch. Random "
    "jitter, scaling and rotation at every step keep the images from exploiting single pixels.",
    "history = callbacks.History()\n"
    "pictures = maximize(model, objectives.channel(demo.LAST_CONV_LAYER, channels.tolist()),\n"
    "                    size=64, steps=steps, seed=0, callbacks=[history], progress=False)\n"
    "plot.grid(pictures, cols=8, titles=[str(k) for k in channels], tile_size=1.2)",
    "The objective rose at every step (one line per channel):",
    "from matplotlib.figure import Figure\n\n"
    "figure = Figure(figsize=(6, 3))\naxes = figure.subplots()\naxes.plot(history.values)\n"
    "axes.set_xlabel(\"step\")\naxes.set_ylabel(\"mean activation\")\nfigure",
    "## Objectives are algebra\n\n"
    "Combine terms with `+`, `-` and `*`: here a channel minus a total-variation penalty, for "
    "smoother images.",
    "smooth = (objectives.channel(convolutions[-2], range(8))\n"
    "          - 0.05 * objectives.total_variation())\n"
    "plot.grid(maximize(model, smooth, size=64, steps=steps, seed=0, progress=False), cols=8,\n"
    "          tile_size=1.2)",
    "## The classic recipes\n\n"
    "`filter_visualization` is the Keras example's recipe (gradient ascent with L2-normalized "
    "gradients, a loss that ignores a border band, then standardize and crop), laid out as one "
    "grid "
    "picture. `multiscale_visualization` is the fast.ai recipe: optimize small, enlarge, repeat.",
    "grid_picture = filter_visualization(model, convolutions[1], range(16), size=64, crop=4,\n"
    "                                    steps=4 if FAST else 30, seed=0, progress=False)\n"
    "plot.grid([grid_picture], tile_size=6)",
    "grown = multiscale_visualization(model, objectives.channel(demo.LAST_CONV_LAYER, range(4)),\n"
    "                                 size=32, scales=2 if FAST else 5, steps=4 if FAST else 20,\n"
    "                                 seed=0, progress=False)\n"
    "plot.grid(grown, cols=4, tile_size=2)",
    "## Classes\n\n"
    "Maximize a class logit (the softmax is swapped for a linear output, so the image cannot win "
    "by suppressing the other classes). The model should then classify each image as its class.",
    "classes = list(range(len(SHAPE_CLASSES)))\n"
    "dreams = class_visualization(model, classes, steps=4 if FAST else 256, seed=0,\n"
    "                             progress=False)\n"
    "seen = model.predict(dreams.astype(\"float32\"), verbose=0).argmax(axis=1)\n"
    "plot.grid(dreams, cols=5, titles=[f\"{SHAPE_CLASSES[c]} → seen as {SHAPE_CLASSES[s]}\"\n"
    "                                  for c, s in zip(classes, seen)], tile_size=2)",
]

DECONV = [
    "# Deconvnet and top activations\n\n"
    "Zeiler and Fergus visualized a unit by taking its strongest activation, zeroing everything "
    "else, and projecting it back to pixels through the network run backwards: unpooling with the "
    "max-pool switches, ReLU, and the transposed convolution of each layer's filters. Paired with "
    "the dataset images that excite a channel most, it shows what the channel detects.",
    SETUP,
    "from keras_vis.deconv import deconvnet, receptive_field, top_activations\n\n"
    "images, labels, masks = shapes(6, seed=5)\ninputs = images.astype(\"float32\")",
    "## Projecting the strongest activation\n\n"
    "For each image, the channel of the second convolution with the largest maximum keeps only "
    "that "
    "maximum and is projected to pixels. The result behaves as an array of displayable images "
    "with titles.",
    "projection = deconvnet(model, inputs, convolutions[1])\n"
    "plot.grid(list(images) + list(np.asarray(projection)), cols=6,\n"
    "          titles=[SHAPE_CLASSES[label] for label in labels] + projection.titles)",
    "Deeper layers project larger, more object-like patterns. `keep=\"all\"` projects the "
    "channel's whole map instead of its maximum.",
    "deep = deconvnet(model, inputs, demo.LAST_CONV_LAYER, keep=\"all\")\n"
    "plot.grid(np.asarray(deep), cols=6, titles=deep.titles)",
    "## Receptive fields\n\nHow many input pixels can one unit of a layer see?",
    "for layer in convolutions:\n"
    "    print(layer, receptive_field(model, layer))",
    "## The inputs that excite a channel most\n\n"
    "`top_activations` streams a dataset once, keeping the top-k inputs per channel, then cuts "
    "each winner to the receptive field of its maximum and projects it. The classic panel shows "
    "each crop's projection next to the crop.",
    "stream = shapes(64 if FAST else 1000, seed=11)[0].astype(\"float32\")\n"
    "top = top_activations(model, stream, convolutions[-2], channels=[0, 1, 2, 3], k=9)\n"
    "plot.grid([top.panel(channel) for channel in top.channels], cols=4,\n"
    "          titles=[f\"channel {c}\" for c in top.channels], tile_size=3)",
]

FAITHFULNESS = [
    "# Measuring faithfulness\n\n"
    "A map can look convincing and still not reflect the model. Three checks: does it point at "
    "the object (pointing game, energy pointing — possible here because the generated images "
    "come with object masks); does removing the pixels it ranks highest destroy the prediction "
    "faster than removing others (deletion and insertion curves); and does it change when the "
    "model's weights are destroyed (the randomization sanity check)?",
    SETUP,
    "from keras_vis.attribution import cam, saliency\n"
    "from keras_vis.metrics import (deletion, energy_pointing, insertion, pointing_game,\n"
    "                               randomization_check)\n\n"
    "count = 16 if FAST else 200\n"
    "images, labels, masks = shapes(count, seed=777)\ninputs = images.astype(\"float32\")\n"
    "print(f\"accuracy on {count} fresh images: \"\n"
    "      f\"{(model.predict(inputs, verbose=0).argmax(axis=1) == labels).mean():.1%}\")",
    "## Pointing game and energy pointing",
    "maps = {\n"
    "    \"Grad-CAM\": cam(model, inputs, method=\"gradcam\"),\n"
    "    \"Score-CAM\": cam(model, inputs, method=\"scorecam\"),\n"
    "    \"gradient\": saliency(model, inputs),\n"
    "    \"guided backprop\": saliency(model, inputs, method=\"guided\"),\n"
    "    \"random\": np.random.default_rng(0).random(masks.shape).astype(\"float32\"),\n"
    "}\n"
    "for name, values in maps.items():\n"
    "    print(f\"{name:>16}: pointing {pointing_game(values, masks).mean:.0%}, \"\n"
    "          f\"energy on the object {energy_pointing(values, masks).mean:.0%} \"\n"
    "          f\"(the object covers {masks.mean():.0%} of the image)\")",
    "## Deletion and insertion\n\n"
    "Remove the most important pixels first (deletion: the probability should fall fast, low area "
    "under the curve) or reveal them first on a blurred image (insertion: it should rise fast, "
    "high area). A random map is the baseline to beat.",
    "steps = 8 if FAST else 32\nsubset = slice(0, 8 if FAST else 50)\n"
    "curves = {name: (deletion(model, inputs[subset], maps[name][subset], steps=steps),\n"
    "                 insertion(model, inputs[subset], maps[name][subset], steps=steps))\n"
    "          for name in (\"Grad-CAM\", \"gradient\", \"random\")}\n"
    "for name, (removed, revealed) in curves.items():\n"
    "    print(f\"{name:>10}: deletion AUC {removed.mean_auc:.3f}, \"\n"
    "          f\"insertion AUC {revealed.mean_auc:.3f}\")",
    "from matplotlib.figure import Figure\n\n"
    "figure = Figure(figsize=(9, 3))\nleft, right = figure.subplots(1, 2)\n"
    "fraction = np.linspace(0, 1, steps + 1)\n"
    "for name, (removed, revealed) in curves.items():\n"
    "    left.plot(fraction, removed.curves.mean(axis=0), label=name)\n"
    "    right.plot(fraction, revealed.curves.mean(axis=0), label=name)\n"
    "left.set_title(\"deletion\")\nright.set_title(\"insertion\")\n"
    "left.set_xlabel(\"fraction of pixels\")\nright.set_xlabel(\"fraction of pixels\")\n"
    "left.set_ylabel(\"class probability\")\nright.legend()\nfigure",
    "## ROAD, average drop and MuFidelity\n\n"
    "Deletion paints the removed pixels black, which the model may read as a shape of its own. "
    "ROAD (Remove And Debias) fills them by noisy linear imputation from their neighbours "
    "instead, so only the information is removed: the probability as the most relevant 10 %, "
    "..., 90 % go (lower area is better). Average drop: how much probability is lost when the "
    "image is seen through the map (lower is better). MuFidelity: does the map's mass on random "
    "subsets of the image follow the drop of the score when they are removed (correlation; higher "
    "is better)?",
    "from keras_vis.metrics import average_drop, mufidelity, road\n\n"
    "for name in (\"Grad-CAM\", \"gradient\", \"random\"):\n"
    "    chosen = maps[name][subset]\n"
    "    print(f\"{name:>10}: ROAD {road(model, inputs[subset], chosen).mean_auc:.3f}, \"\n"
    "          f\"average drop {average_drop(model, inputs[subset], chosen).average_drop:.1f} %, \"\n"
    "          f\"MuFidelity \"\n"
    "          f\"{mufidelity(model, inputs[subset], chosen, samples=32 if FAST else 128).mean:.2f}\")",
    "## The randomization sanity check\n\n"
    "Re-initialise the layers from the top down, on a copy of the model, and compare the maps with "
    "the original ones (rank correlation and SSIM). Maps that barely change show the image, not "
    "what the model learned. Adebayo et al. found gradients and Grad-CAM changing while guided "
    "backprop stayed visually close to the original on ImageNet networks; the table says how the "
    "methods behave on this small model. `print(result)` shows every step.",
    "few = inputs[:4 if FAST else 16]\n"
    "for method in (\"gradcam\", \"saliency\", \"guided\"):\n"
    "    result = randomization_check(model, method, few)\n"
    "    print(f\"{method:>9} → {result.verdicts[-1]}: after every layer is randomized, rank \"\n"
    "          f\"correlation {result.mean_spearman[-1]:.2f}, SSIM {result.mean_ssim[-1]:.2f}\")",
]

TRAINING = [
    "# Watching a model learn\n\n"
    "Explanations are usually drawn once, on a finished model. Drawn during training they show "
    "*when* a network starts to look at the object rather than at the background, and how its "
    "filters take shape. The callbacks of `keras_vis.callbacks` log the same pictures and "
    "metrics keras_vis computes, at the end of chosen epochs, into the TensorBoard log folder "
    "`keras.callbacks.TensorBoard` writes; `tensorboard --logdir <folder>` shows them beside the "
    "loss curves. This notebook trains the demo architecture from scratch on generated shapes "
    "and reads the logs back with TensorBoard's own reader.",
    "%matplotlib inline\n"
    "import os\nimport shutil\nimport tempfile\n\n"
    "# The test suite sets KERAS_VIS_FAST=1 to run this notebook with tiny step counts.\n"
    "FAST = os.environ.get(\"KERAS_VIS_FAST\") == \"1\"\n\n"
    "import keras\nimport numpy as np\n\n"
    "from keras_vis import plot\n"
    "from keras_vis.demo import SHAPE_CLASSES, shapes\n"
    "from keras_vis.demo.train import build_model\n\n"
    "log_dir = tempfile.mkdtemp(prefix=\"keras_vis_logs_\")  # use a folder of your own\n"
    "keras.utils.set_random_seed(0)\n"
    "train_images, train_labels, _ = shapes(256 if FAST else 4000, seed=1)\n"
    "val_images, val_labels, val_masks = shapes(16 if FAST else 64, seed=2)\n"
    "x, x_val = train_images.astype(\"float32\"), val_images.astype(\"float32\")\n"
    "model = build_model()\n"
    "model.compile(keras.optimizers.Adam(2e-3), \"sparse_categorical_crossentropy\",\n"
    "              metrics=[\"accuracy\"])",
    "## The callbacks\n\n"
    "- `ExplainCallback`: Grad-CAM and guided backprop of eight validation images, for their "
    "true classes, drawn over the images;\n"
    "- `FaithfulnessCallback`: the pointing game and energy pointing of Grad-CAM on the object "
    "masks the generated images come with;\n"
    "- `FeatureMapsCallback` and `FiltersCallback`: what the first convolutions compute and "
    "their kernels;\n"
    "- `MaximizeCallback`: an image that maximizes each class, from the same random start at "
    "every log, so the change is the model's.\n\n"
    "Each compiles its steps once; the later epochs reuse them with the new weights.",
    "from keras_vis.callbacks import (ExplainCallback, FaithfulnessCallback,\n"
    "                                 FeatureMapsCallback, FiltersCallback, MaximizeCallback)\n"
    "from keras_vis.maximization import objectives\n\n"
    "epochs = 2 if FAST else 6\n"
    "callbacks = [\n"
    "    keras.callbacks.TensorBoard(log_dir),\n"
    "    ExplainCallback((x_val[:8], val_labels[:8]), methods=(\"gradcam\", \"guided\"),\n"
    "                    log_dir=log_dir),\n"
    "    FaithfulnessCallback(x_val, val_masks, target=val_labels, log_dir=log_dir),\n"
    "    FeatureMapsCallback(x_val[:2], [\"block1_conv1\", \"block2_conv1\"], max_channels=8,\n"
    "                        log_dir=log_dir),\n"
    "    FiltersCallback(\"block1_conv1\", log_dir=log_dir),\n"
    "    MaximizeCallback(objectives.class_logit(range(len(SHAPE_CLASSES))), every=2,\n"
    "                     steps=8 if FAST else 64, name=\"classes\", log_dir=log_dir),\n"
    "]\n"
    "history = model.fit(x, train_labels, validation_data=(x_val, val_labels), epochs=epochs,\n"
    "                    batch_size=64, verbose=2, callbacks=callbacks)",
    "## Reading the logs back\n\n"
    "In Jupyter, `%load_ext tensorboard` and `%tensorboard --logdir <folder>` open the board "
    "inline. Here the event files are read with TensorBoard's `EventAccumulator`: the pictures "
    "are PNGs (a TensorFlow 2 summary is a tensor: width, height, then one PNG per picture) "
    "under tags such as `explain/gradcam`, one step per epoch (the first epoch is step 0).",
    "import io\n\nimport tensorflow as tf\nfrom PIL import Image\n"
    "from tensorboard.backend.event_processing.event_accumulator import EventAccumulator\n\n"
    "from keras_vis.callbacks import run_dir\n\n"
    "logs = EventAccumulator(run_dir(log_dir), size_guidance={\"tensors\": 0})  # 0: keep all\n"
    "logs.Reload()\n\n\n"
    "def pictures(tag):\n"
    "    \"\"\"{epoch: [the logged pictures]} of one tag.\"\"\"\n"
    "    found = {}\n"
    "    for event in logs.Tensors(tag):\n"
    "        encoded = tf.make_ndarray(event.tensor_proto)[2:]  # after width and height: PNGs\n"
    "        found[event.step] = [np.asarray(Image.open(io.BytesIO(png))) for png in encoded]\n"
    "    return found\n\n\n"
    "print(sorted(logs.Tags()[\"tensors\"]))",
    "## Where the model looks, epoch by epoch\n\n"
    "Rows: epochs; columns: the validation images with Grad-CAM for their true class. Early maps "
    "spread over the background; as the model learns, they gather on the shapes.",
    "gradcam = pictures(\"explain/gradcam\")\n"
    "rows = sorted(gradcam)\n"
    "tiles = [picture for step in rows for picture in gradcam[step][:6]]\n"
    "plot.grid(tiles, cols=6, tile_size=1.5,\n"
    "          titles=[f\"epoch {step + 1}\" if i == 0 else \"\" for step in rows for i in range(6)])",
    "def scalars(tag):\n"
    "    \"\"\"[(epoch, value)] of one scalar tag.\"\"\"\n"
    "    return [(event.step + 1, float(tf.make_ndarray(event.tensor_proto)))\n"
    "            for event in logs.Tensors(tag)]\n\n\n"
    "for epoch, hits in scalars(\"faithfulness/gradcam/pointing_game\"):\n"
    "    accuracy = history.history[\"val_accuracy\"][epoch - 1]\n"
    "    print(f\"epoch {epoch}: Grad-CAM peaks on the object for {hits:.0%} of the validation \"\n"
    "          f\"images (validation accuracy {accuracy:.0%})\")",
    "## Filters and class images\n\n"
    "The kernels of the first convolution after the first and the last epoch, and the images "
    "that maximize each class logit (circle, square, triangle, cross, star) as training goes on.",
    "filters = pictures(\"filters/block1_conv1\")\n"
    "first, last = min(filters), max(filters)\n"
    "plot.grid([filters[first][0], filters[last][0]], cols=2, tile_size=3,\n"
    "          titles=[f\"epoch {first + 1}\", f\"epoch {last + 1}\"])",
    "classes = pictures(\"maximize/classes\")\n"
    "plot.grid([classes[step][0] for step in sorted(classes)], cols=len(classes), tile_size=3,\n"
    "          titles=[f\"epoch {step + 1}\" for step in sorted(classes)])",
    "shutil.rmtree(log_dir)  # the logs of this notebook are not kept",
]

FEATURE_VISUALIZATION = [
    "# Feature visualization: directions, diversity, inversion and the activation atlas\n\n"
    "Activation maximization of one channel is the start. A layer's units work together, so "
    "the interesting objects are *directions* in its activation space; one channel has several "
    "facets, which *diversity* brings out; *inversion* shows what a layer keeps of an image; and "
    "the *activation atlas* maps what a layer represents over a whole dataset.",
    SETUP,
    "from keras_vis import activation_atlas, invert\n"
    "from keras_vis.atlas import Atlas\n"
    "from keras_vis.demo.atlas import load_atlas\n"
    "from keras_vis.inspect import feature_maps\n"
    "from keras_vis.maximization import maximize, objectives\n\n"
    "layer = demo.LAST_CONV_LAYER\n"
    "steps = 4 if FAST else 256",
    "## Directions\n\n"
    "`objectives.direction(layer, vector)` maximizes the dot product of the layer's activation "
    "vectors with `vector`, averaged over the map. A one-hot vector is the channel objective of "
    "its channel; a `(K, C)` array renders K directions in one batch, and new vectors of the "
    "same length reuse the compiled step. Here: two channels on their own, then their sum, and "
    "the mean activation vector of each class, the direction the layer takes for it.",
    "sample, labels, _ = shapes(300, seed=1)\n"
    "maps = feature_maps(model, sample, [layer])[layer]\n"
    "mean_vectors = np.stack([maps[labels == k].mean(axis=(0, 1, 2))\n"
    "                         for k in range(len(SHAPE_CLASSES))])\n"
    "# The two strongest channels among those that respond to a noisy grey image too: the\n"
    "# ascent starts from noise, and a channel silent there has no gradient to follow.\n"
    "noise = np.random.default_rng(0).uniform(96, 160, (1, 64, 64, 3))\n"
    "alive = feature_maps(model, noise, [layer])[layer].max(axis=(0, 1, 2)) > 0\n"
    "strength = np.where(alive, maps.mean(axis=(0, 1, 2)), -np.inf)\n"
    "strongest = np.argsort(-strength)[:2]\n"
    "one_hot = np.eye(maps.shape[-1])[strongest]\n"
    "vectors = np.concatenate([one_hot, one_hot.sum(axis=0, keepdims=True), mean_vectors])\n"
    "pictures = maximize(model, objectives.direction(layer, vectors, cossim_pow=1), size=64,\n"
    "                    steps=steps, seed=0, param=\"fourier\", decorrelate=True, progress=False)\n"
    "titles = [f\"channel {k}\" for k in strongest] + [\"their sum\"] + list(SHAPE_CLASSES)\n"
    "plot.grid(pictures, cols=4, titles=titles, tile_size=1.8)",
    "`objectives.channel_interpolate` blends one channel into another across a batch; with one "
    "seed for every image, the change from image to image is the objective's alone.",
    "blend = objectives.channel_interpolate(layer, int(strongest[0]), layer, int(strongest[1]),\n"
    "                                       count=6)\n"
    "pictures = maximize(model, blend, size=64, steps=steps, seed=[0] * 6, param=\"fourier\",\n"
    "                    decorrelate=True, progress=False)\n"
    "plot.grid(pictures, cols=6, titles=[f\"{t:.1f}\" for t in np.linspace(0, 1, 6)],\n"
    "          tile_size=1.5)",
    "## Diversity\n\n"
    "A channel may respond to several different patterns. `objectives.diversity(layer)` rewards "
    "the images of a batch for differing from each other: minus the cosine similarity of their "
    "Gram matrices (which channels fire together), Lucid's diversity term. Added to four copies "
    "of one channel objective, measured on an earlier layer (its textures), it gives four facets "
    "of the channel instead of four near-copies.",
    "channel = int(strongest[0])\n"
    "plain = objectives.channel(layer, [channel] * 4)\n"
    "diverse = plain + 300 * objectives.diversity(\"block2_conv1\")\n"
    "options = dict(size=64, steps=steps, seed=0, param=\"fourier\", decorrelate=True,\n"
    "               progress=False)\n"
    "same = maximize(model, plain, **options)\n"
    "varied = maximize(model, diverse, **options)\n"
    "plot.grid([*same, *varied], cols=4, tile_size=1.6,\n"
    "          titles=[\"without diversity\", \"\", \"\", \"\", \"with diversity\", \"\", \"\", \"\"])",
    "## Feature inversion\n\n"
    "`invert(model, images, layer)` starts from noise and makes images whose activations at "
    "`layer` match those of the originals (cosine similarity, with a total-variation penalty "
    "and jitter). What survives is what the layer keeps. The demo model standardizes each "
    "image's colours first, so even the first convolution has forgotten the background's "
    "colour; the last one keeps the shape and little else.",
    "originals = demo.sample_shapes()[0]\n"
    "depths = [\"block1_conv1\", \"block2_conv1\", \"block3_conv1\", layer]\n"
    "rows = [originals] + [invert(model, originals, name, steps=steps, seed=0, progress=False)\n"
    "                      for name in depths]\n"
    "plot.grid([p for row in rows for p in row], cols=len(originals), tile_size=1.4,\n"
    "          titles=[t if i == 0 else \"\" for t in [\"original\", *depths]\n"
    "                  for i in range(len(originals))])",
    "## The activation atlas\n\n"
    "An atlas samples activation vectors of `layer` from many images (where the layer responds "
    "most), lays them out in 2-D with UMAP so that similar vectors sit together, averages them "
    "over the cells of a grid and renders each cell's mean as a direction, all cells in one "
    "batch. Each cell is framed in the colour of the class the model predicts most often for "
    "its vectors. The demo model ships the atlas of its last convolution over 2,000 generated "
    "shapes:",
    "atlas = load_atlas()\n"
    "print(atlas)\n"
    "plot.atlas(atlas, size=8)",
    "Where the classes meet, cells mix them: the vectors of a square's corner and a cross's arm "
    "may look alike to the layer. The share of each cell's main class says how cleanly the "
    "layer separates them:",
    "dense = atlas.counts >= 10\n"
    "pure = atlas.class_shares[dense] >= 0.8\n"
    "print(f\"{pure.mean():.0%} of the {dense.sum()} cells with at least 10 vectors hold one \"\n"
    "      \"class for 80% or more of their vectors\")",
    "Making one takes a dataset (an array, a `tf.data.Dataset` or a folder of images, streamed) "
    "and a seed, which makes it reproducible. The atlas keeps every sampled vector and its place "
    "in the layout, and `save` / `Atlas.load` keep them too.",
    "import tempfile\n\n"
    "# t-SNE here when FAST: UMAP compiles itself on its first use in a process.\n"
    "small = activation_atlas(model, shapes(300 if FAST else 2000, seed=5), layer,\n"
    "                         grid=8 if FAST else 16, size=32, steps=4 if FAST else 128,\n"
    "                         method=\"tsne\" if FAST else \"umap\", seed=0,\n"
    "                         class_names=SHAPE_CLASSES, progress=False)\n"
    "with tempfile.TemporaryDirectory() as folder:\n"
    "    reloaded = Atlas.load(small.save(f\"{folder}/atlas.npz\"))\n"
    "assert np.array_equal(reloaded.layout, small.layout)\n"
    "plot.atlas(reloaded, size=6)",
]

NOTEBOOKS = {
    "01_inspect_model.ipynb": INSPECT,
    "02_explain_prediction.ipynb": EXPLAIN,
    "03_activation_maximization.ipynb": MAXIMIZE,
    "04_deconvnet.ipynb": DECONV,
    "05_faithfulness.ipynb": FAITHFULNESS,
    "06_training_callbacks.ipynb": TRAINING,
    "07_feature_visualization.ipynb": FEATURE_VISUALIZATION,
}


def notebook(cells):
    """A notebook from cell sources: code (starting with a lower-case Python statement or a `%`
    magic) becomes a code cell, prose (a heading, a capital letter, a backtick) a markdown cell."""
    made = []
    for index, source in enumerate(cells):
        is_markdown = not (source[0].islower() or source[0] == "%")
        cell = new_markdown_cell(source) if is_markdown else new_code_cell(source)
        cell.id = f"cell-{index}"  # fixed ids: regenerating an unchanged notebook changes nothing
        made.append(cell)
    book = new_notebook(cells=made)
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                   "language": "python"}
    book.metadata["language_info"] = {"name": "python"}
    return book


def main(folder=FOLDER):
    for name, cells in NOTEBOOKS.items():
        nbformat.write(notebook(cells), folder / name)
        print(folder / name)


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else FOLDER)
