"""The output folder of `explain_dataset`: map shards and the index that makes a run resumable.

`maps-00000.npz`, `maps-00001.npz`, ... each hold one shard of consecutive images; `index.json`
records the settings the maps were made with and, for every finished shard, its file, first image,
image count and a SHA-1 of its images. Both are written atomically (temporary file +
`os.replace`), the index after each shard, so an interrupted run leaves only complete files and a
restart redoes only the shards the index does not list.

With several workers, worker `i` of `n` writes the shards it owns (see `_sources.Share`) and its
own index `index-worker-<i>-of-<n>.json`, so workers never write the same file; the chief merges
the workers' indices into `index.json` once every one of them is complete (`merge_workers`).
"""

import json
import pathlib
import re

import numpy as np

from keras_vis._checks import expected
from keras_vis.dataset._sources import Share
from keras_vis.io import atomic_write, check_parent_folders

INDEX = "index.json"
FORMAT = 1
_SHARD_FILE = re.compile(r"maps-(\d+)\.npz")


def shard_name(number):
    return f"maps-{number:05d}.npz"


def worker_index_name(worker, workers):
    return INDEX if workers == 1 else f"index-worker-{worker}-of-{workers}.json"


class ShardStore:
    """Reads and writes the shards and index in `out_dir` for one set of settings.

    Args:
        out_dir: the output folder (created, if missing, with the first shard).
        settings: a JSON-serialisable dict; a resumed run must have the same.
        overwrite: discard the shards and index already there instead of resuming (when the
            first new shard is written); a worker discards only its own.
        share: the shards this process writes (`Share(shard_size)`: all of them).

    Raises:
        ValueError: if `out_dir` holds maps made with other settings and `overwrite` is False.
    """

    def __init__(self, out_dir, settings, *, overwrite=False, share=None):
        self.folder = pathlib.Path(out_dir)
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(expected("out_dir", "a folder", str(self.folder)))
        check_parent_folders(self.folder / INDEX)  # a file above it is named now, not mid-run
        self.settings = json.loads(json.dumps(settings))
        self.share = share or Share(settings["shard_size"])
        self.index_name = worker_index_name(self.share.worker, self.share.workers)
        self._discard = overwrite
        self.shards = {}
        if overwrite:
            return
        # A worker also resumes the shards it owns from a merged index (a run with other workers).
        for name in dict.fromkeys((INDEX, self.index_name)):
            if (self.folder / name).exists():
                index = read_index(self.folder, name)
                self._check_settings(index)
                self.shards.update((e["number"], e) for e in index["shards"]
                                   if self.share.owns(e["number"]))

    def _check_settings(self, index):
        if index["settings"] != self.settings:
            raise ValueError(
                "Expected `out_dir` to be empty or to hold maps made with the same settings, to "
                f"resume them. Received: out_dir='{self.folder}', whose maps differ in "
                f"{_differences(index['settings'], self.settings)}. Pass `overwrite=True` to "
                "replace them, or choose another `out_dir`."
            )

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
                match = _SHARD_FILE.fullmatch(path.name)
                if match is None or self.share.owns(int(match.group(1))):
                    path.unlink(missing_ok=True)
            if self.share.worker == 0:  # the chief's merged index is stale too
                (self.folder / INDEX).unlink(missing_ok=True)
            (self.folder / self.index_name).unlink(missing_ok=True)
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
        write_index(self.folder, self.index_name, self.settings, shards, complete=complete,
                    workers=self.share.workers)

    def _remove(self, entries):
        for entry in entries:
            (self.folder / entry["file"]).unlink(missing_ok=True)


def _differences(old, new):
    keys = sorted(set(old) | set(new))
    return "; ".join(f"{k} ({old.get(k)!r} before, {new.get(k)!r} now)"
                     for k in keys if old.get(k) != new.get(k))


def write_index(folder, name, settings, shards, *, complete, workers):
    index = {"format": FORMAT, "settings": settings, "complete": complete, "workers": workers,
             "count": sum(e["count"] for e in shards), "shards": shards}
    with atomic_write(pathlib.Path(folder) / name, "w", encoding="utf-8") as file:
        json.dump(index, file, indent=1)


def _worker_indices(folder, settings, workers):
    """`(indices, pending)`: the complete indices of `workers` made with `settings`, by worker, and
    the workers whose index is missing, made with other settings or not yet complete."""
    indices, pending = {}, []
    for worker in range(workers):
        try:
            index = read_index(folder, worker_index_name(worker, workers))
        except ValueError:  # not written yet
            index = None
        if index is None or not index["complete"] or index["settings"] != settings:
            pending.append(worker)
        else:
            indices[worker] = index
    return indices, pending


def pending_workers(folder, settings, workers):
    """The workers of `workers` whose index in `folder` is missing, made with other settings or
    not yet complete."""
    return _worker_indices(folder, settings, workers)[1]


def merge_workers(folder, settings, workers, shard_size):
    """Writes `index.json` listing the shards of all `workers`' complete indices, in dataset order.

    Each worker's index is read once, so the merge lists exactly the indices it checked.

    Raises:
        ValueError: if a worker has not finished, or the shards do not tile the dataset (a gap, a
            shard listed twice, or a short shard before the last).
    """
    indices, pending = _worker_indices(folder, settings, workers)
    if pending:
        raise ValueError(_unfinished(folder, pending, workers))
    shards = sorted((entry for index in indices.values() for entry in index["shards"]),
                    key=lambda entry: entry["number"])
    for expected_number, entry in enumerate(shards):
        short = entry["count"] != shard_size and expected_number != len(shards) - 1
        if (entry["number"] != expected_number or entry["start"] != expected_number * shard_size
                or short):
            raise ValueError(
                f"Expected the workers' shards in '{folder}' to cover the dataset one after the "
                f"other. Received: shard {entry['number']} (images from {entry['start']}, "
                f"{entry['count']} of them) where shard {expected_number} was due. Were the "
                "workers given different datasets? Run them again with `overwrite=True`."
            )
    write_index(folder, INDEX, settings, shards, complete=True, workers=workers)


def _unfinished(folder, pending, workers):
    names = ", ".join(str(w) for w in pending)
    plural = len(pending) > 1
    return (f"Expected every worker's maps in '{folder}'. Received: worker{'s' * plural} "
            f"{names} of {workers} not finished. Run the same command on "
            f"{'them' if plural else 'it'}: finished shards are kept.")


def read_index(folder, name=INDEX):
    """The parsed index `name` (by default the merged `index.json`) of an output folder.

    Raises:
        ValueError: if the folder has no readable index.
    """
    path = pathlib.Path(folder) / name
    try:
        with open(path, encoding="utf-8") as file:
            index = json.load(file)
    except FileNotFoundError as error:
        workers = sorted(pathlib.Path(folder).glob("index-worker-*.json"))
        if name == INDEX and workers:
            raise ValueError(
                f"Expected the merged index of '{folder}'. Received: only the workers' indices "
                f"({', '.join(p.name for p in workers)}): the chief merges them once every worker "
                "has finished. Run the workers that have not (same command): finished shards "
                "are kept."
            ) from error
        raise ValueError(expected("out_dir", "a folder written by `explain_dataset` (with an "
                                  "index.json)", str(folder))) from error
    except json.JSONDecodeError as error:
        raise ValueError(f"The index '{path}' is not valid JSON ({error}).") from error
    if index.get("format") != FORMAT:
        raise ValueError(expected("index.json", f"format {FORMAT}", index.get("format")))
    return index


def read_shards(folder, fields=None, index=INDEX):
    """Yields the arrays of every shard listed by the index file `index` of `folder`, in image
    order, one shard at a time."""
    folder = pathlib.Path(folder)
    for entry in read_index(folder, index)["shards"]:
        with np.load(folder / entry["file"]) as data:
            yield {key: data[key] for key in (fields or data.files) if key in data.files}
