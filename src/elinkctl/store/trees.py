"""git's tree objects as the plumbing commit builds them by hand
(`elinkctl.store.gitrepo.Git.commit_paths`): parse HEAD's trees on the changed
paths, splice the new blobs in, and compute the new trees' IDs and bytes
exactly as git would (git checks them when they are written)."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


class TreeError(ValueError):
    """Output of git that this module cannot read: the porcelain commits instead."""


@dataclass
class Tree:
    """A tree read from HEAD (``oid`` None: the directory does not exist there)."""

    oid: bytes | None
    entries: dict[bytes, tuple[bytes, bytes]] = field(default_factory=dict)  # name -> mode, id


def split(path: str) -> tuple[str, str]:
    """("tickets/2026/11", "INC-….yaml"); a top-level name is in ""."""
    folder, _, name = path.rpartition("/")
    return folder, name


def ancestors(path: str) -> list[str]:
    """The directories holding ``path``, from the root ("") down."""
    parts = path.split("/")[:-1]
    return ["", *("/".join(parts[: i + 1]) for i in range(len(parts)))]


def depth_then_name(folder: str) -> tuple[int, str]:
    return (folder.count("/") + 1 if folder else 0, folder)


def is_tree(mode: bytes) -> bool:
    return int(mode, 8) & 0o170000 == 0o040000


def is_blob(mode: bytes) -> bool:
    return int(mode, 8) & 0o170000 in (0o100000, 0o120000)


def blob_mode(st_mode: int, trust_exec_bit: bool, old: tuple[bytes, bytes] | None) -> bytes:
    """The tree mode ``git add`` gives a regular file (with ``core.fileMode``
    false the executable bit of HEAD's entry is kept)."""
    if trust_exec_bit:
        executable = bool(st_mode & stat.S_IXUSR)
    else:
        executable = old is not None and bool(int(old[0], 8) & stat.S_IXUSR)
    return b"100755" if executable else b"100644"


def parse_batch(out: bytes, count: int) -> list[tuple[str, str, bytes] | None]:
    """``git cat-file --batch`` output: (ID, type, content) per name, None if missing."""
    objects: list[tuple[str, str, bytes] | None] = []
    pos = 0
    for _ in range(count):
        end = out.index(b"\n", pos)
        header = out[pos:end]
        pos = end + 1
        if header.endswith(b" missing"):
            objects.append(None)
            continue
        parts = header.split(b" ")
        if len(parts) != 3:
            raise TreeError(f"git cat-file: {header.decode('utf-8', 'replace')}")
        size = int(parts[2])
        objects.append((parts[0].decode(), parts[1].decode(), out[pos : pos + size]))
        pos += size + 1
    return objects


def parse_tree(body: bytes, hash_len: int) -> dict[bytes, tuple[bytes, bytes]]:
    """A raw tree object: name -> (mode, raw ID)."""
    entries: dict[bytes, tuple[bytes, bytes]] = {}
    pos = 0
    while pos < len(body):
        space = body.index(b" ", pos)
        nul = body.index(b"\0", space)
        oid = body[nul + 1 : nul + 1 + hash_len]
        if len(oid) != hash_len:
            raise TreeError("truncated tree object")
        entries[body[space + 1 : nul]] = (body[pos:space], oid)
        pos = nul + 1 + hash_len
    return entries


def tree_bytes(entries: Mapping[bytes, tuple[bytes, bytes]]) -> bytes:
    """A tree object's content in git's order (a directory sorts as name + "/")."""
    order = sorted(entries, key=lambda name: name + b"/" if is_tree(entries[name][0]) else name)
    return b"".join(entries[name][0] + b" " + name + b"\0" + entries[name][1] for name in order)


def object_id(kind: bytes, content: bytes, hash_len: int) -> bytes:
    algorithm = hashlib.sha1 if hash_len == 20 else hashlib.sha256
    return algorithm(b"%s %d\0" % (kind, len(content)) + content).digest()


def splice(
    trees: Mapping[str, Tree], files: Sequence[tuple[str, bytes, bytes]], hash_len: int
) -> tuple[str, list[tuple[str, bytes]]]:
    """Put (path, mode, blob ID) into HEAD's trees: the new root tree ID and
    the trees to write (ID, content), deepest first, unchanged ones left out.
    Paths sharing directories end up in one tree each."""
    entries = {folder: dict(tree.entries) for folder, tree in trees.items()}
    for path, mode, oid in files:
        folder, name = split(path)
        entries[folder][name.encode()] = (mode, oid)
    new: list[tuple[str, bytes]] = []
    root = b""
    for folder in sorted(entries, key=depth_then_name, reverse=True):
        content = tree_bytes(entries[folder])
        oid = object_id(b"tree", content, hash_len)
        if oid != trees[folder].oid:
            new.append((oid.hex(), content))
        if folder:
            above, name = split(folder)
            entries[above][name.encode()] = (b"40000", oid)
        else:
            root = oid
    return root.hex(), new
