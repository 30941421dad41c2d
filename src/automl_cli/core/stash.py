"""Fold models the search keeps for the ensemble, held on disk instead of in memory.

A kept trial's fold models are read only at the end, and only those of the members the
ensemble picks and cannot refit in time. Held in memory they made most of the search's
peak: a deep multiclass XGBoost over 10 folds takes 100+ MB, about four times its saved
size, and the search keeps up to ten trials besides the best. So a kept trial's models,
and a running trial's once they pass ``STASH_MIN_BYTES``, are pickled into the search's
private working directory (``tempfile.mkdtemp``: mode 0700,
written and read by this one process, removed when the command ends) and read back one at
a time when asked for. Each file's sha256 is kept in memory and checked before its bytes
are unpickled, so a file changed on disk in between is refused, never loaded.

A search killed outright (SIGKILL, the out-of-memory killer) cannot remove its directory,
and with models in it that can be hundreds of MB. So the directory comes from
:func:`private_workdir`, which holds an flock on a file inside it while in use; the next
search removes every such directory whose lock nobody holds (the kernel drops a dead
process's locks).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, overload

from automl_cli.errors import AutomlError

if TYPE_CHECKING:
    from automl_cli.core.learners._base import Learner

__all__ = [
    "STASH_MIN_BYTES",
    "StashChanged",
    "StashedModels",
    "private_workdir",
    "save_seconds",
    "stash",
]

IN_USE = ".in-use"  # the file a live search holds an flock on

# smaller ones cost more time to write (LightGBM pickles at about 40 MB/s) than they hold
STASH_MIN_BYTES = 8 * 2**20


class StashChanged(AutomlError):
    """A stashed model's file no longer holds the bytes this process wrote."""

    default_hint = (
        "another process changed the search's temporary files; run the search again, and keep "
        "other programs out of the temporary directory"
    )


class StashedModels(Sequence["Learner"]):
    """A trial's fold models on disk: indexing reads one, slicing gives a lazy view.

    What the end of the search asks of models it may never read (their save time for the
    time model) is noted when they are stashed, so asking reads nothing."""

    def __init__(
        self,
        paths: list[Path],
        digests: list[str],
        save_s: list[float],
        directory: Path | None = None,
        key: str = "",
    ) -> None:
        self._paths = paths
        self._digests = digests
        self._save_s = save_s
        self._directory = directory  # where append() writes; None: a view (read-only)
        self._key = key
        self._rounds: dict[int, int] = {}  # use_iterations() noted, applied on each read

    def __len__(self) -> int:
        return len(self._paths)

    @overload
    def __getitem__(self, index: int) -> Learner: ...

    @overload
    def __getitem__(self, index: slice) -> StashedModels: ...

    def __getitem__(self, index: int | slice) -> Learner | StashedModels:
        if isinstance(index, slice):
            view = StashedModels(self._paths[index], self._digests[index], self._save_s[index])
            picked = range(len(self._paths))[index]
            view._rounds = {j: self._rounds[i] for j, i in enumerate(picked) if i in self._rounds}
            return view
        data = self._paths[index].read_bytes()
        if hashlib.sha256(data).hexdigest() != self._digests[index]:
            raise StashChanged(f"{self._paths[index]} changed on disk since it was written")
        learner: Learner = pickle.loads(data)  # the bytes stash() wrote in this process
        rounds = self._rounds.get(range(len(self._paths))[index])
        if rounds is not None:
            learner.use_iterations(rounds)
        return learner

    def __iter__(self) -> Iterator[Learner]:
        return (self[i] for i in range(len(self)))

    def save_seconds(self) -> float:
        """The models' ``save_seconds``, summed, as noted when they were stashed."""
        return sum(self._save_s)

    def drop(self) -> None:
        """Delete the files: the trial left the kept set."""
        for path in self._paths:
            path.unlink(missing_ok=True)

    def append(self, learner: Learner) -> None:
        """Write one more model (the next fold's) to disk."""
        path, digest = self._write(learner, f"{self._key}-{len(self._paths)}.pkl")
        self._paths.append(path)
        self._digests.append(digest)
        self._save_s.append(learner.save_seconds())

    def use_iterations(self, index: int, n: int) -> None:
        """Model ``index`` is to predict with its first ``n`` rounds (``Learner.
        use_iterations``): noted and applied whenever it is read, which costs nothing here,
        where writing the changed model again would pickle it a second time."""
        self._rounds[range(len(self._paths))[index]] = int(n)

    def _write(self, learner: Learner, name: str) -> tuple[Path, str]:
        """Pickle ``learner`` into a file of its own: never an existing one, and no part
        of it left behind on an error (say, a full disk)."""
        if self._directory is None:
            raise TypeError("a slice of stashed models is read-only")
        self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = pickle.dumps(learner, protocol=pickle.HIGHEST_PROTOCOL)
        path = self._directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never another's
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path, hashlib.sha256(data).hexdigest()


def stash(learners: Sequence[Learner], directory: Path, key: str) -> StashedModels:
    """Write ``learners`` to ``directory`` (created if missing), one file each; on an error
    (say, a full disk) none is left behind. More can be appended later."""
    stashed = StashedModels([], [], [], directory, key)
    try:
        for learner in learners:
            stashed.append(learner)
    except BaseException:
        stashed.drop()  # a full disk leaves no part-written files
        raise
    return stashed


def save_seconds(learners: Sequence[Learner]) -> float:
    """How long saving ``learners`` takes (``Learner.save_seconds``), without reading any
    stashed model back."""
    if isinstance(learners, StashedModels):
        return learners.save_seconds()
    return sum(learner.save_seconds() for learner in learners)


@contextmanager
def private_workdir(prefix: str = "automl-search-") -> Iterator[Path]:
    """A new 0700 temporary directory for this process, removed on exit; first, the ones
    earlier processes were killed before removing (see the module's docstring)."""
    remove_abandoned(prefix)
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        # locked under another name, then renamed: a sweeper never sees it unlocked
        taking = path / f"{IN_USE}.taking"
        fd = os.open(taking, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.rename(taking, path / IN_USE)
            yield path
        finally:
            os.close(fd)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_abandoned(prefix: str, root: Path | None = None) -> list[Path]:
    """Delete this user's ``prefix*`` directories under ``root`` (the temporary directory)
    whose in-use lock nobody holds; returns them. A directory without the lock file is left
    alone: it is being created, or not ours to judge."""
    removed = []
    for path in Path(root or tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            if not path.is_dir() or path.is_symlink() or path.stat().st_uid != os.getuid():
                continue
            fd = os.open(path / IN_USE, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: a live search
            os.close(fd)
            continue
        try:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        finally:
            os.close(fd)
    return removed
