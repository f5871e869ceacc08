"""Work in progress."""


def mufidelity(model, images, maps, target=None, **options):
    raise NotImplementedError
