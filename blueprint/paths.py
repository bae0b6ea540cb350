"""Files and folders a user names: an output folder or file that can be written, every file blueprint writes
(``atomic_write``), and what a file is that cannot be read.

Each answers before any work is done or with the cause, in one line, instead of an ``OSError`` traceback or
the advice of ``torch.load`` (which is meant for the author of a program, not for its user).
"""

from __future__ import annotations

import os
from typing import IO, Callable

_ZIP, _PICKLE = b"PK\x03\x04", b"\x80"


def writable_folder(path, argument: str = "output_dir") -> str:
    """``path`` if it is a folder that can be written or can be made; else ``ValueError`` naming ``argument``.

    Nothing is created: the nearest existing ancestor must be a writable folder.
    """
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{argument}: {path} is a file; expected a folder (or a path where one can be made)")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{argument}: cannot make the folder {path}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{argument}: cannot write into {existing} (permission denied)")
    return path


def writable_file(path: str | None, argument: str) -> str | None:
    """``path`` (or None) if a file can be written there: its folder exists and can be written, and ``path`` is
    not a folder; else ``ValueError`` naming ``argument``. Checked before a run, so a mistake costs no work."""
    if path is None:
        return None
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{argument}: the folder {folder!r} of {path!r} does not exist")
    if not os.access(folder, os.W_OK) or os.path.isdir(path):
        raise ValueError(f"{argument}: cannot write {path!r}")
    return path


def errno_of(err: BaseException) -> int | None:
    """The ``errno`` of the first ``OSError`` along ``err``'s chain (itself, its ``__cause__``, its
    ``__context__``, ...): torch's zip writer, for one, raises a ``RuntimeError`` while handling the
    ``OSError`` of the full disk."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno is not None:
            return err.errno
        err = err.__cause__ or err.__context__
    return None


def atomic_write(path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(f)`` on a binary file beside ``path``, flush it to disk (fsync), then rename it over ``path``.

    ``os.replace`` is atomic, so a reader (or a resumed run after a crash) sees the previous file or the new
    one, never a part. Any failure (also Ctrl-C) removes the temporary file; one that carries an ``errno``
    along its chain (a full disk: ENOSPC, a quota: EDQUOT, no permission: EACCES) is raised as one
    ``OSError`` naming ``path``, the reason and what became of the previous file.
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        code = errno_of(err)
        if code is None:
            raise
        kept = "the previous one is untouched" if os.path.exists(path) else "nothing was written"
        failed = OSError(f"cannot write {path} ({os.strerror(code)}); {kept}")
        failed.errno = code
        raise failed from None


def atomic_text(path, text: str) -> None:
    """``atomic_write`` of ``text`` as UTF-8."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def describe(path, error: BaseException | None = None) -> str:
    """What the file at ``path`` is, for a message saying why it could not be read as a ``torch.save`` file.

    ``error`` is what ``torch.load`` raised; a zip or pickle it refused holds Python objects other than
    tensors and plain values (``weights_only=True`` refuses them).
    """
    size = os.path.getsize(path)
    if size == 0:
        return "is an empty file (0 bytes)"
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith(_ZIP) or head.startswith(_PICKLE):
        if error is not None and type(error).__name__ == "UnpicklingError":
            return "holds Python objects other than tensors and plain values (such as a pickled class)"
        reason = f" ({type(error).__name__})" if error is not None else ""
        return f"looks like a torch.save file ({size:,} bytes) but is damaged or truncated{reason}"
    text = head.decode("utf-8", errors="replace")
    odd = sum(1 for c in text if c == "\ufffd" or not (c.isprintable() or c in "\n\r\t"))
    if odd <= 3:  # a character cut at the end of the 4 KiB read is not a binary file
        first = text.strip().splitlines()[0][:40] if text.strip() else ""
        return f"is a text file (it begins {first!r}), not a torch.save file"
    return f"is not a torch.save file ({size:,} bytes beginning {head[:4].hex(' ')})"
