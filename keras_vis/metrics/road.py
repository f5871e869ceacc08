"""Work in progress."""


def road(model, images, maps, target=None, **options):
    raise NotImplementedError
