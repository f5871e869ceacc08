"""Work in progress."""


def rise(model, images, target=None, **options):
    raise NotImplementedError
