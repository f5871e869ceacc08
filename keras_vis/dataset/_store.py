"""The output folder of `explain_dataset`: map shards and the index that makes a run resumable.

`maps-00000.npz`, `maps-00001.npz`, ... each hold one shard of consecutive images; `index.json`
records the settings the maps were made with and, for every finished shard, its file, first image,
image count and a SHA-1 of its images. Both are written atomically (temporary file +
`os.replace`), the index after each shard, so an interrupted run leaves only complete files and a
restart redoes only the shards the index does not list.
"""

import json
import pathlib

import numpy as np

from keras_vis._checks import expected
from keras_vis.io import atomic_write, make_parent_folders

INDEX = "index.json"
FORMAT = 1


def shard_name(number):
    return f"maps-{number:05d}.npz"


class ShardStore:
    """Reads and writes the shards and index in `out_dir` for one set of settings.

    Args:
        out_dir: the output folder (created, if missing, with the first shard).
        settings: a JSON-serialisable dict; a resumed run must have the same.
        overwrite: discard the shards and index already there instead of resuming (when the
            first new shard is written).

    Raises:
        ValueError: if `out_dir` holds maps made with other settings and `overwrite` is False.
    """

    def __init__(self, out_dir, settings, *, overwrite=False):
        self.folder = pathlib.Path(out_dir)
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(expected("out_dir", "a folder", str(self.folder)))
        make_parent_folders(self.folder / INDEX)  # a file above it is named now, not mid-run
        self.settings = json.loads(json.dumps(settings))
        index = read_index(self.folder) if (self.folder / INDEX).exists() else None
        self._discard = overwrite
        if overwrite:
            index = None
        if index is not None and index["settings"] != self.settings:
            raise ValueError(
                "Expected `out_dir` to be empty or to hold maps made with the same settings, to "
                f"resume them. Received: out_dir='{self.folder}', whose maps differ in "
                f"{_differences(index['settings'], self.settings)}. Pass `overwrite=True` to "
                "replace them, or choose another `out_dir`."
            )
        self.shards = {entry["number"]: entry for entry in index["shards"]} if index else {}

    def finished(self, number, start):
        """The index entry of shard `number` if its file exists and starts at `start`, else None."""
        entry = self.shards.get(number)
        if entry is None or entry["start"] != start or not (self.folder / entry["file"]).exists():
            return None
        return entry

    def _claim(self):
        """Creates the folder and, with `overwrite`, deletes the maps already there: only once the
        first shard is ready, so a run that fails before (a bad option, images of the wrong size)
        leaves `out_dir` as it was."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._discard:
            for path in self.folder.glob("maps-*.npz"):
                path.unlink()
            (self.folder / INDEX).unlink(missing_ok=True)
            self._discard = False

    def write(self, number, start, digest, arrays):
        """Writes one shard file, then the index listing it; returns the shard's path."""
        self._claim()
        path = self.folder / shard_name(number)
        with atomic_write(path, "wb") as file:
            np.savez(file, **arrays)
        self.shards[number] = {"number": number, "file": path.name, "start": start,
                               "count": len(arrays["indices"]), "sha1": digest}
        self.save(complete=False)
        return path

    def keep_only(self, numbers, *, complete):
        """Drops shards not in `numbers` (left from a longer dataset) and saves the index."""
        stale = [entry for number, entry in self.shards.items() if number not in numbers]
        self._remove(stale)
        self.shards = {n: e for n, e in self.shards.items() if n in numbers}
        self.save(complete=complete)

    def save(self, *, complete):
        self._claim()
        shards = [self.shards[n] for n in sorted(self.shards)]
        index = {"format": FORMAT, "settings": self.settings, "complete": complete,
                 "count": sum(e["count"] for e in shards), "shards": shards}
        with atomic_write(self.folder / INDEX, "w", encoding="utf-8") as file:
            json.dump(index, file, indent=1)

    def _remove(self, entries):
        for entry in entries:
            (self.folder / entry["file"]).unlink(missing_ok=True)


def _differences(old, new):
    keys = sorted(set(old) | set(new))
    return "; ".join(f"{k} ({old.get(k)!r} before, {new.get(k)!r} now)"
                     for k in keys if old.get(k) != new.get(k))


def read_index(folder):
    """The parsed `index.json` of an output folder.

    Raises:
        ValueError: if the folder has no readable index.
    """
    path = pathlib.Path(folder) / INDEX
    try:
        with open(path, encoding="utf-8") as file:
            index = json.load(file)
    except FileNotFoundError as error:
        raise ValueError(expected("out_dir", "a folder written by `explain_dataset` (with an "
                                  "index.json)", str(folder))) from error
    except json.JSONDecodeError as error:
        raise ValueError(f"The index '{path}' is not valid JSON ({error}).") from error
    if index.get("format") != FORMAT:
        raise ValueError(expected("index.json", f"format {FORMAT}", index.get("format")))
    return index


def read_shards(folder, fields=None):
    """Yields the arrays of every indexed shard of `folder` in image order, one shard at a time."""
    folder = pathlib.Path(folder)
    for entry in read_index(folder)["shards"]:
        with np.load(folder / entry["file"]) as data:
            yield {key: data[key] for key in (fields or data.files) if key in data.files}
