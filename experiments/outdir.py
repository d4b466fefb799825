"""Owned, locked, transactional output folders (every command that writes results).

Guarantees (docs/GUARANTEES.md states them for users):

* **One experiment per folder.** ``manifest.json`` names the experiment's ``kind`` (run,
  compare, sweep, reach, sobol, morris) and ``design_hash``. A command writes only into a
  missing or empty folder, unless it is told ``overwrite`` (the folder's previous contents
  are replaced whole) or ``resume`` (allowed only when the folder holds the same kind and
  design hash). Anything else is refused before a byte is written.
* **One writer at a time.** ``.innosim.lock`` holds the owner's pid, host and start time and
  is ``flock``-ed while the command runs, so a second writer fails at once, naming the
  owner. The kernel drops the flock when the owner dies, so a lock left by a killed
  process is recognised as stale, reported, and taken over.
* **Nothing half-written.** Commands that produce their output in one go (``run``,
  ``compare``) build it in ``.staging-<pid>`` inside the folder and move it into place only
  when everything is written; staging folders left by killed runs are removed (and
  reported) by the next command into that folder. Experiments write chunk by chunk with
  atomic renames (``experiments.store``).
* **Output stays inside the folder asked for.** Default folders are built from a safe slug
  of the scenario name (:func:`slug`) and checked to resolve inside ``results/``.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import socket
import sys
import time
from pathlib import Path

from .errors import ExperimentError

LOCK_NAME = ".innosim.lock"
STAGING_PREFIX = ".staging-"
MANIFEST = "manifest.json"
MAX_SLUG = 64
#: Files that do not make a folder "non-empty": our own lock, and leftovers we clean.
_HOUSEKEEPING = re.compile(r"^(\.innosim\.lock|\.staging-\d+.*|\..*\.tmp-\d+)$")


def slug(name: str, fallback: str = "scenario") -> str:
    """A safe folder-name fragment: letters, digits, ``.``, ``_`` and ``-`` only, no leading
    dot or dash, at most ``MAX_SLUG`` characters (``"../../x"`` -> ``"x"``)."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name))
    s = re.sub(r"_+", "_", s).strip("._-")[:MAX_SLUG].strip("._-")
    return s or fallback


def default_out(*parts: str, root: str | os.PathLike = "results") -> Path:
    """``results/<slug(part1)-slug(part2)...>``, checked to stay inside ``root``."""
    root = Path(root)
    out = root / "-".join(slug(p) for p in parts)
    base = root.resolve()
    if base not in out.resolve().parents:  # cannot happen with a slug; kept as a guard
        raise ExperimentError(f"output folder {out} would lie outside {root}/")
    return out


def _start_time(pid: int) -> str | None:
    """Kernel start time of ``pid`` (tells a live owner from a reused pid), if known."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = _start_time(pid)
    return started is None or now is None or now == started


def _clean_name(path: Path) -> str:
    return str(path).replace("\0", "\\0")


class OutputFolder:
    """Context manager: lock ``path``, check what it holds, clean leftovers.

    ``kind``/``design_hash`` describe the experiment about to be written. On entry the
    folder is created if needed, locked, and checked: a non-empty folder must be
    overwritten (``overwrite``) or hold this very experiment (``resume``). ``notes``
    collects what was cleaned (stale lock, staging folders) for the caller to print.
    """

    def __init__(self, path, kind: str, design_hash: str, *, overwrite: bool = False,
                 resume: bool = False, check_contents: bool = True):
        if overwrite and resume:
            raise ExperimentError("--overwrite and --resume exclude each other")
        self.path = Path(path)
        self.kind, self.design_hash = kind, design_hash
        self.overwrite, self.resume, self.check_contents = overwrite, resume, check_contents
        self.notes: list[str] = []
        self._fd = None
        self._created = False
        self.holds_same = False

    # -- entry / exit
    def __enter__(self) -> "OutputFolder":
        self._make_folder()
        self._lock()
        try:
            self._clean_leftovers()
            if self.check_contents:
                self._check_contents()
        except BaseException as exc:
            self.__exit__(type(exc), exc, None)
            raise
        return self

    def __exit__(self, exc_type, *exc) -> bool:
        self._unlock()
        if exc_type is not None and self._created:
            try:  # a folder this command created and left empty goes again
                if not any(self.path.iterdir()):
                    self.path.rmdir()
            except OSError:
                pass
        return False

    def _make_folder(self) -> None:
        p = self.path
        name = _clean_name(p)
        if "\0" in str(p):
            raise ExperimentError(f"--out {name}: a folder name cannot contain a NUL byte")
        try:
            if p.exists() and not p.is_dir():
                raise ExperimentError(f"--out {name}: exists and is not a folder")
            self._created = not p.exists()
            p.mkdir(parents=True, exist_ok=True)
            probe = p / f".innosim-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except ExperimentError:
            raise
        except OSError as exc:
            raise ExperimentError(f"--out {name}: cannot write there: "
                                  f"{exc.strerror or exc}") from None

    def _lock(self) -> None:
        lock = self.path / LOCK_NAME
        for _ in range(20):
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise ExperimentError(f"{_clean_name(self.path)}: cannot lock: {exc}") from None
                owner = self._read_owner(lock)
                who = (f"pid {owner.get('pid')} on {owner.get('host')} since {owner.get('since')}"
                       if owner else "another process")
                raise ExperimentError(f"{_clean_name(self.path)} is in use by {who} "
                                      f"({' '.join(owner.get('command', '').split()[:4]) or 'innosim'}); "
                                      "wait for it or choose another --out") from None
            # the lock file may have been removed by its previous owner meanwhile: retry
            try:
                same = os.fstat(fd).st_ino == os.stat(lock).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            break
        else:  # pragma: no cover - needs a pathological race
            raise ExperimentError(f"{_clean_name(self.path)}: cannot take the lock")
        old = self._read_owner(lock)
        if old and (old.get("pid"), old.get("host")) != (os.getpid(), socket.gethostname()):
            state = ("is gone" if old.get("host") == socket.gethostname()
                     and not _alive(int(old.get("pid", 0)), old.get("started"))
                     else "no longer holds it")
            self.notes.append(f"took over a stale lock of pid {old.get('pid')} on "
                              f"{old.get('host')} (that process {state})")
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": _start_time(os.getpid()),
              "since": time.strftime("%Y-%m-%dT%H:%M:%S"), "command": " ".join(sys.argv)[:200]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self._fd = fd

    @staticmethod
    def _read_owner(lock: Path) -> dict:
        try:
            data = json.loads(lock.read_text() or "{}")
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _unlock(self) -> None:
        if self._fd is None:
            return
        try:
            (self.path / LOCK_NAME).unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # releases the flock
            self._fd = None

    def _clean_leftovers(self) -> None:
        for p in sorted(self.path.glob(STAGING_PREFIX + "*")):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            self.notes.append(f"removed {p.name} left by a killed run")

    # -- what the folder holds
    def contents(self) -> list[Path]:
        return [p for p in sorted(self.path.iterdir()) if not _HOUSEKEEPING.match(p.name)]

    def manifest(self) -> dict | None:
        try:
            m = json.loads((self.path / MANIFEST).read_text())
            return m if isinstance(m, dict) else None
        except (OSError, ValueError):
            return None

    def _check_contents(self) -> None:
        items = self.contents()
        if not items:
            return
        m = self.manifest() or {}
        kind = m.get("kind") or m.get("design", {}).get("kind") or m.get("command")
        held = (f"a {kind} experiment (design {str(m.get('design_hash'))[:12]})"
                if kind else f"{len(items)} other file(s), e.g. {items[0].name}")
        self.holds_same = (kind == self.kind and m.get("design_hash") == self.design_hash)
        if self.overwrite:
            self.clear()
            self.notes.append(f"replaced {held} in {_clean_name(self.path)} (--overwrite)")
            return
        if self.resume:
            if self.holds_same:
                return
            raise ExperimentError(f"{_clean_name(self.path)} holds a different experiment: {held}, "
                                  f"not this {self.kind} experiment (design {self.design_hash[:12]}); "
                                  "--resume continues only the same experiment; nothing was changed")
        raise ExperimentError(f"{_clean_name(self.path)} is not empty: it holds {held}; use "
                              "--overwrite to replace it, --resume to continue the same "
                              "experiment, or choose another --out; nothing was changed")

    def clear(self) -> None:
        """Remove everything but the lock (``overwrite``)."""
        for p in self.contents():
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()

    # -- staged, all-or-nothing output
    def staging(self) -> Path:
        d = self.path / f"{STAGING_PREFIX}{os.getpid()}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        return d

    def commit(self, staged: Path) -> None:
        """Replace the folder's contents with the staged files (manifest last)."""
        self.clear()
        items = sorted(staged.iterdir(), key=lambda p: (p.name == MANIFEST, p.name))
        for item in items:
            os.replace(item, self.path / item.name)
        shutil.rmtree(staged, ignore_errors=True)
