"""`keras-vis serve`: the explorer on the model and images the options name."""

import sys

from keras_vis.cli import inputs


def serve_explorer(args):
    """Runs `serve` for parsed `args` until Ctrl-C; returns the exit code."""
    from keras_vis.explorer import serve

    model, preprocess, name, class_names = inputs.load_model(args)
    inputs.input_size(model)  # a channels-first or non-image model fails here, in one line
    try:
        serve(model, args.images, preprocess=preprocess, class_names=class_names,
              model_name=name, host=args.host, port=args.port,
              settings=inputs.settings(args, model), max_upload_mb=args.max_upload_mb,
              block=True, atlas=inputs.atlas_file(args))
    except KeyboardInterrupt:
        pass
    if not args.quiet:
        print("keras-vis: explorer stopped", file=sys.stderr)
    return 0
