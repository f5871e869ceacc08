"""Adapters that make tf-keras-vis and xplique do the same job as a keras_vis method.

Each `*_peers(...)` function returns `{peer name: zero-argument callable}` for the peers that offer
the method and are installed (only the benchmark virtualenv has them). Explainers are built here,
outside any timing, so the timed call is the explanation alone; every callable returns numpy.

The models passed in are prepared by the caller: `linear` is the model with a linear (logit) head,
`softmax` the original model. Peers that rewrite the model's ReLU gradients in place get their own
clone (`clone_linear()`), so the other contenders keep their plain ReLUs. xplique's gradient
methods return per-channel maps (`reducer=None`), collapsed afterwards as keras_vis does, so their
maps can be compared.
"""

import numpy as np


def installed():
    """`{peer name: version}` of the peers importable in this environment."""
    found = {}
    for name, module in (("tf-keras-vis", "tf_keras_vis"), ("xplique", "xplique")):
        try:
            imported = __import__(module)
        except ImportError:
            continue
        found[name] = getattr(imported, "__version__", "?")
    return found


def _one_hot(classes, count):
    return np.eye(count, dtype=np.float32)[classes]


def _numpy(value):
    return np.asarray(value)


class Peers:
    """Builds peer explainers for one model, batch and target classes.

    Args:
        softmax: the model with its own (softmax) head.
        linear: the same model with a linear head (shared or copied weights).
        clone_linear: callable returning a fresh copy of `linear` for peers that modify the model.
        images: float32 batch `(N, H, W, C)`.
        classes: int32 `(N,)` target classes.
        batch_size: rows per forward/backward pass, as given to keras_vis.
    """

    def __init__(self, softmax, linear, clone_linear, images, classes, batch_size):
        self.available = installed()
        self.softmax, self.linear, self.clone_linear = softmax, linear, clone_linear
        self.images, self.classes, self.batch_size = images, classes, batch_size
        self.targets = _one_hot(classes, linear.outputs[0].shape[-1])

    def _has(self, name):
        return name in self.available

    def _tfkv_score(self):
        from tf_keras_vis.utils.scores import CategoricalScore

        return CategoricalScore(list(self.classes))

    def _xplique(self, explainer):
        return lambda: _numpy(explainer.explain(self.images, self.targets))

    def saliency(self):
        found = {}
        if self._has("tf-keras-vis"):
            from tf_keras_vis.saliency import Saliency

            explainer, score = Saliency(self.linear), self._tfkv_score()
            found["tf-keras-vis"] = lambda: _numpy(explainer(score, self.images))
        if self._has("xplique"):
            from xplique.attributions import Saliency

            found["xplique"] = self._xplique(
                Saliency(self.linear, batch_size=self.batch_size, reducer=None))
        return found

    def guided(self):
        found = {}
        if self._has("tf-keras-vis"):
            import keras
            from tf_keras_vis.saliency import Saliency
            from tf_keras_vis.utils.model_modifiers import GuidedBackpropagation

            modifier = GuidedBackpropagation([keras.activations.relu])
            explainer = Saliency(self.linear, model_modifier=modifier, clone=True)
            score = self._tfkv_score()
            found["tf-keras-vis"] = lambda: _numpy(explainer(score, self.images))
        if self._has("xplique"):
            from xplique.attributions import GuidedBackprop

            found["xplique"] = self._xplique(GuidedBackprop(
                self.clone_linear(), batch_size=self.batch_size, reducer=None))
        return found

    def deconvnet(self):
        if not self._has("xplique"):
            return {}
        from xplique.attributions import DeconvNet

        return {"xplique": self._xplique(DeconvNet(self.clone_linear(), batch_size=self.batch_size,
                                                   reducer=None))}

    def gradient_input(self):
        if not self._has("xplique"):
            return {}
        from xplique.attributions import GradientInput

        return {"xplique": self._xplique(GradientInput(self.linear, batch_size=self.batch_size,
                                                       reducer=None))}

    def smoothgrad(self, samples, noise_fraction):
        found = {}
        if self._has("tf-keras-vis"):
            from tf_keras_vis.saliency import Saliency

            explainer, score = Saliency(self.linear), self._tfkv_score()
            found["tf-keras-vis"] = lambda: _numpy(
                explainer(score, self.images, smooth_samples=samples, smooth_noise=noise_fraction))
        if self._has("xplique"):
            from xplique.attributions import SmoothGrad

            # xplique's noise is an absolute standard deviation: the same σ as a fraction of range.
            sigma = noise_fraction * float(np.mean(self.images.max(axis=(1, 2, 3))
                                                   - self.images.min(axis=(1, 2, 3))))
            found["xplique"] = self._xplique(SmoothGrad(
                self.linear, batch_size=self.batch_size, nb_samples=samples, noise=sigma,
                reducer=None))
        return found

    def integrated_gradients(self, steps):
        if not self._has("xplique"):
            return {}
        from xplique.attributions import IntegratedGradients

        return {"xplique": self._xplique(IntegratedGradients(
            self.linear, batch_size=self.batch_size, steps=steps, baseline_value=0.0,
            reducer=None))}

    def cam(self, method, layer, max_maps=None):
        """Peers of `keras_vis.cam(method=...)` on `layer`."""
        found = {}
        tfkv = {"gradcam": "Gradcam", "gradcam++": "GradcamPlusPlus", "layercam": "Layercam",
                "scorecam": "Scorecam"}.get(method)
        if tfkv and self._has("tf-keras-vis"):
            import importlib

            module = {"Gradcam": "gradcam", "GradcamPlusPlus": "gradcam_plus_plus",
                      "Layercam": "layercam", "Scorecam": "scorecam"}[tfkv]
            cls = getattr(importlib.import_module(f"tf_keras_vis.{module}"), tfkv)
            score = self._tfkv_score()
            if method == "scorecam":
                found["tf-keras-vis"] = self._tfkv_scorecam(cls(self.softmax), layer, max_maps)
            else:
                explainer = cls(self.linear)
                found["tf-keras-vis"] = lambda: _numpy(
                    explainer(score, self.images, penultimate_layer=layer))
        xpl = {"gradcam": "GradCAM", "gradcam++": "GradCAMPP"}.get(method)
        if xpl and self._has("xplique"):
            import xplique.attributions as attributions

            found["xplique"] = self._xplique(getattr(attributions, xpl)(
                self.linear, batch_size=self.batch_size, conv_layer=layer))
        return found

    def _tfkv_scorecam(self, explainer, layer, max_maps):
        """Score-CAM scoring probabilities, as keras_vis does by default. With `max_N`, tf-keras-vis
        masks every image of a batch with the union of all images' top channels; called once per
        image, it does keras_vis' job: each image masked by its own `max_maps` channels."""
        from tf_keras_vis.utils.scores import CategoricalScore

        def run():
            if max_maps is None:
                return _numpy(explainer(self._tfkv_score(), self.images, penultimate_layer=layer,
                                        batch_size=self.batch_size))
            return np.concatenate([
                _numpy(explainer(CategoricalScore([int(c)]), self.images[i:i + 1],
                                 penultimate_layer=layer, max_N=max_maps,
                                 batch_size=self.batch_size))
                for i, c in enumerate(self.classes)])

        return run

    def occlusion(self, patch, stride, fill, batch_size):
        if not self._has("xplique"):
            return {}
        from xplique.attributions import Occlusion

        return {"xplique": self._xplique(Occlusion(
            self.softmax, batch_size=batch_size, patch_size=patch, patch_stride=stride,
            occlusion_value=fill))}
