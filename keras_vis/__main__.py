"""`python -m keras_vis`: the `keras-vis` command."""

import sys

from keras_vis.cli import main

if __name__ == "__main__":
    sys.exit(main())
