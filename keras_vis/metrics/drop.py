"""Work in progress."""


def average_drop(model, images, maps, target=None, **options):
    raise NotImplementedError
