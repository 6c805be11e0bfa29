"""The I/O side of footprint prediction: read a git repository at a commit into a RepoSnapshot.

Reads the file list (`git ls-tree`), the Python sources the symbol index needs
(`git cat-file --batch`, parsed once per blob id), and a bounded history before the commit
(`git log --first-parent --name-only`). Everything is cached as JSON under
`<repo>/.orchestrate/cache/` (or `cache_dir`): per commit for the file list and history, per blob
for symbols, so a re-plan on the same base, or on a base one commit later, is fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.analysis import RepoSnapshot
from bot.analysis.history import Commit
from bot.analysis.symbols import FileSymbols, extract_symbols
from bot.config import Config
from bot.planning.calibrate import Calibration, calibrate_threshold

CACHE_VERSION = 2  # bump when what is cached changes meaning
MAX_COMMITS = 5000
SINCE_DAYS = 4 * 365
MAX_SOURCE_BYTES = 400_000
MAX_MESSAGE = 1500
_PYTHON = (".py", ".pyi")


class SnapshotError(Exception):
    """The repository or commit cannot be read."""


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(
        ["git", "-c", "core.quotePath=false", *args],
        cwd=repo,
        input=stdin,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise SnapshotError(f"git {args[0]} failed in {repo}: {message}")
    return result.stdout


def _tree(repo: Path, sha: str) -> tuple[list[str], dict[str, str]]:
    """All file paths at `sha`, and the blob id of each Python file worth parsing."""
    files: list[str] = []
    python: dict[str, str] = {}
    for entry in _git(repo, "ls-tree", "-r", "-z", "--long", sha).split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, blob, size = meta.split()
        if kind != b"blob" or mode == b"160000":
            continue
        path = raw_path.decode(errors="replace")
        files.append(path)
        if path.endswith(_PYTHON) and size != b"-" and int(size) <= MAX_SOURCE_BYTES:
            python[path] = blob.decode()
    return files, python


def _history(repo: Path, sha: str) -> list[Commit]:
    time = int(_git(repo, "show", "-s", "--format=%ct", sha).strip() or 0)
    since = time - SINCE_DAYS * 86400
    out = _git(
        repo, "log", "--first-parent", "--diff-merges=first-parent", "--name-only",
        f"--max-count={MAX_COMMITS}", f"--since={since}",
        "--format=%x1e%H%x1f%ct%x1f%B%x1f", sha,
    ).decode(errors="replace")  # fmt: skip
    commits: list[Commit] = []
    for record in out.split("\x1e")[1:]:
        head, _, names = record.rpartition("\x1f")
        commit_sha, commit_time, message = head.split("\x1f", 2)
        files = tuple(line for line in names.splitlines() if line.strip())
        commits.append(Commit(commit_sha, int(commit_time), message.strip()[:MAX_MESSAGE], files))
    return commits


def _read_blobs(repo: Path, blobs: Iterable[str]) -> dict[str, str]:
    wanted = list(dict.fromkeys(blobs))
    if not wanted:
        return {}
    out = _git(repo, "cat-file", "--batch", stdin="\n".join(wanted).encode() + b"\n")
    found: dict[str, str] = {}
    position = 0
    for blob in wanted:
        header_end = out.index(b"\n", position)
        header = out[position:header_end].split()
        position = header_end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        found[blob] = out[position : position + size].decode("utf-8", errors="replace")
        position += size + 1
    return found


def _load_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("version") == CACHE_VERSION else None


def _save_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump({"version": CACHE_VERSION, **data}, handle, separators=(",", ":"))
    temporary.replace(path)


def _symbols(repo: Path, python: dict[str, str], cache: Path) -> dict[str, FileSymbols]:
    """Symbols per file, parsed once per blob id (the blob cache is shared by all commits)."""
    # per Python version: a newer parser reads syntax an older one had to skip
    store = cache / f"symbols-py{sys.version_info[0]}{sys.version_info[1]}.json"
    stored = _load_json(store) or {"blobs": {}}
    blobs: dict[str, list[Any]] = stored["blobs"]
    missing = {path: blob for path, blob in python.items() if blob not in blobs}
    if missing:
        sources = _read_blobs(repo, missing.values())
        for path, blob in missing.items():
            info = extract_symbols(path, sources.get(blob, ""))
            blobs[blob] = [list(info.defs), list(info.imports), info.doc]
        _save_json(store, {"blobs": blobs})
    result: dict[str, FileSymbols] = {}
    for path, blob in python.items():
        defs, imports, doc = blobs[blob]
        info = extract_symbols(path, "")  # module name only: cheap, no parsing
        result[path] = FileSymbols(info.module, tuple(defs), tuple(imports), doc)
    return result


def load_snapshot(repo: Path, commit: str, cache_dir: Path | None = None) -> RepoSnapshot:
    """The RepoSnapshot of `repo` at `commit` (any revision git understands), cached."""
    sha = _git(repo, "rev-parse", "--verify", f"{commit}^{{commit}}").decode().strip()
    cache = cache_dir if cache_dir is not None else repo / ".orchestrate" / "cache"
    per_commit = cache / f"snapshot-{sha}.json"
    stored = _load_json(per_commit)
    if stored is None:
        files, python = _tree(repo, sha)
        stored = {
            "files": files,
            "python": python,
            "history": [asdict(c) for c in _history(repo, sha)],
        }
        _save_json(per_commit, stored)
    history = tuple(
        Commit(c["sha"], c["time"], c["message"], tuple(c["files"])) for c in stored["history"]
    )
    return RepoSnapshot(
        files=tuple(stored["files"]),
        symbols=_symbols(repo, stored["python"], cache),
        history=history,
        commit=sha,
    )


def load_calibration(
    repo: Path,
    snapshot: RepoSnapshot,
    mergeable: Sequence[str],
    target_recall: float,
    cache_dir: Path | None = None,
) -> Calibration:
    """`calibrate_threshold` for the snapshot's commit, cached beside the snapshot."""
    cache = cache_dir if cache_dir is not None else repo / ".orchestrate" / "cache"
    key = hashlib.sha256(
        json.dumps([snapshot.commit, sorted(mergeable), target_recall]).encode()
    ).hexdigest()[:16]
    path = cache / f"calibration-{key}.json"
    stored = _load_json(path)
    if stored is not None:
        return Calibration(**{k: v for k, v in stored.items() if k != "version"})
    calibration = calibrate_threshold(snapshot, tuple(mergeable), target_recall)
    _save_json(path, asdict(calibration))
    return calibration


def plan_threshold(
    repo: Path, snapshot: RepoSnapshot, config: Config, source: str = "the config"
) -> tuple[float, str]:
    """The conflict threshold a plan uses, and why: the configured number, or with `auto` (the
    default) the one calibrated on this repository's own recent history."""
    mergeable = config.merge.mergeable
    if config.plan.conflict_threshold != "auto":
        return config.plan.conflict_threshold, f"set in {source}"
    calibration = load_calibration(repo, snapshot, mergeable, config.plan.target_recall)
    return calibration.threshold, calibration.reason
