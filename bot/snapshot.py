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
import tempfile
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.analysis import RepoSnapshot
from bot.analysis.history import Commit, PastPair, nearby_pairs
from bot.analysis.symbols import FileSymbols, extract_symbols
from bot.config import Config
from bot.gitops import NO_HOOKS
from bot.planning.calibrate import Calibration, calibrate
from bot.planning.risk import ConflictRates

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


def _reader(repo: Path, sha: str) -> Callable[[Collection[str]], Mapping[str, str]]:
    """Read files of `sha` on demand, in one `git cat-file --batch`; binary or oversized ones
    are left out, and so is everything if git cannot read them (the plan only loses the lines
    texts point at)."""

    def read(paths: Collection[str]) -> Mapping[str, str]:
        names = {f"{sha}:{path}": path for path in paths if "\n" not in path}
        try:
            texts = _read_blobs(repo, names)
        except SnapshotError:
            return {}
        return {
            names[name]: text
            for name, text in texts.items()
            if len(text) <= MAX_SOURCE_BYTES and "\0" not in text
        }

    return read


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
        read=_reader(repo, sha),
    )


MAX_PAST_PAIRS = 80  # nearby past pairs replayed per plan (newest first; each once, cached)
_REPLAY_IDENTITY = {
    "GIT_AUTHOR_NAME": "orchestrate", "GIT_AUTHOR_EMAIL": "orchestrate@localhost",
    "GIT_COMMITTER_NAME": "orchestrate", "GIT_COMMITTER_EMAIL": "orchestrate@localhost",
    "GIT_AUTHOR_DATE": "1700000000 +0000", "GIT_COMMITTER_DATE": "1700000000 +0000",
}  # fmt: skip


class _Replay:
    """Three-way merges with `git merge-tree --write-tree`, on throw-away commits written to a
    temporary object directory: the repository itself is never written to."""

    def __init__(self, repo: Path, objects: str) -> None:
        real = _git(repo, "rev-parse", "--path-format=absolute", "--git-path", "objects")
        self.repo = repo
        self.env = {
            **os.environ,
            **NO_HOOKS,
            **_REPLAY_IDENTITY,
            "GIT_OBJECT_DIRECTORY": objects,
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": real.decode().strip(),
        }
        self._roots: dict[str, str] = {}
        self._lock = threading.Lock()

    def _run(self, *args: str) -> tuple[int, str]:
        done = subprocess.run(
            ["git", "-c", "core.quotePath=false", *args],
            cwd=self.repo, env=self.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode not in (0, 1):
            raise SnapshotError(f"git {args[0]} failed in {self.repo}: {done.stderr.strip()}")
        return done.returncode, done.stdout

    def _commit(self, tree: str, parent: str | None = None) -> str:
        """A throw-away commit; a root commit per tree is made once (threads share them)."""
        if parent is None:
            with self._lock:
                if tree in self._roots:
                    return self._roots[tree]
        extra = ("-p", parent) if parent else ()
        sha = self._run("commit-tree", tree, *extra, "-m", "replay")[1].strip()
        if parent is None:
            with self._lock:
                self._roots[tree] = sha
        return sha

    def merge(self, base: str, ours: str, theirs: str) -> tuple[bool, str, tuple[str, ...]]:
        """Merge trees `ours` and `theirs` over the tree `base`, on commits whose only common
        ancestor is a root commit of `base` (git finds that merge base at once, however long
        the real history): clean or not, the result's tree, and the files in conflict."""
        root = self._commit(base)
        code, out = self._run(
            "merge-tree", "--write-tree", "--name-only", "--no-messages",
            self._commit(ours, root), self._commit(theirs, root),
        )  # fmt: skip
        lines = out.splitlines()
        return code == 0, lines[0] if lines else "", tuple(sorted({n for n in lines[1:] if n}))

    def pair(
        self, newer: str, newer_parent: str, older: str, older_parent: str
    ) -> tuple[str, ...] | None:
        """Would the newer change conflict with the older one, both made from the older one's
        parent? (Trees.) The older change is reverted from the newer one's base, then the
        newer change is merged onto that. None when the revert itself does not merge."""
        clean, without_older, _ = self.merge(older, newer_parent, older_parent)
        if not clean:
            return None
        clean, _, files = self.merge(newer_parent, newer, without_older)
        return () if clean else files


def load_past_pairs(
    repo: Path, snapshot: RepoSnapshot, cache_dir: Path | None = None
) -> tuple[PastPair, ...]:
    """The newest nearby pairs of past changes that touched a common file, each with git's
    verdict on making them side by side (cached per pair: history does not change)."""
    history = snapshot.history
    chosen = nearby_pairs(history, MAX_PAST_PAIRS)
    if not chosen:
        return ()
    cache = cache_dir if cache_dir is not None else repo / ".orchestrate" / "cache"
    store = cache / "past-pairs.json"
    known: dict[str, list[str] | None] = (_load_json(store) or {"pairs": {}})["pairs"]
    keys = [f"{history[n].sha}..{history[o].sha}" for n, o, _ in chosen]
    missing = [(key, pair) for key, pair in zip(keys, chosen, strict=True) if key not in known]
    if missing:
        _label(repo, history, missing, known)
        _save_json(store, {"pairs": known})
    pairs = []
    for key, (newer, older, shared) in zip(keys, chosen, strict=True):
        verdict = known[key]
        conflicts = tuple(verdict) if verdict is not None else None
        pairs.append(PastPair(history[newer].sha, history[older].sha, shared, conflicts))
    return tuple(pairs)


def _label(
    repo: Path,
    history: Sequence[Commit],
    missing: Sequence[tuple[str, tuple[int, int, tuple[str, ...]]]],
    known: dict[str, list[str] | None],
) -> None:
    ends = {history[i].sha for _, (newer, older, _) in missing for i in (newer, older)}
    commits = sorted(ends | {history[i + 1].sha for _, (n, o, _) in missing for i in (n, o)})
    out = _git(repo, "rev-parse", *(f"{sha}^{{tree}}" for sha in commits)).decode().split()
    tree = dict(zip(commits, out, strict=True))
    with tempfile.TemporaryDirectory(prefix="orchestrate-replay-") as objects:
        replay = _Replay(repo, objects)

        def label(pair: tuple[int, int, tuple[str, ...]]) -> tuple[str, ...] | None:
            newer, older, _ = pair
            positions = (newer, newer + 1, older, older + 1)
            return replay.pair(*(tree[history[i].sha] for i in positions))

        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            verdicts = list(pool.map(label, [pair for _, pair in missing]))
    for (key, _), verdict in zip(missing, verdicts, strict=True):
        known[key] = list(verdict) if verdict is not None else None


def plan_risk(
    repo: Path,
    snapshot: RepoSnapshot,
    config: Config,
    source: str = "the config",
    cache_dir: Path | None = None,
) -> Calibration:
    """The conflict rates and the threshold a plan uses, with where they come from and what
    the threshold would have done on this repository's own recent past."""
    plan = config.plan
    if plan.conflict_threshold == "auto":
        why = (
            f"Pairs are kept apart from a conflict risk of {plan.threshold:.0%} "
            f"(plan.redo_cost {plan.redo_cost:g}: a redo costs {plan.redo_cost:g} waits)"
        )
    else:
        why = f"Pairs are kept apart from a conflict risk of {plan.threshold:.0%} (set in {source})"
    cache = cache_dir if cache_dir is not None else repo / ".orchestrate" / "cache"
    mergeable = sorted(config.merge.mergeable)
    key = json.dumps([snapshot.commit, mergeable, plan.threshold, why]).encode()
    path = cache / f"calibration-{hashlib.sha256(key).hexdigest()[:16]}.json"
    stored = _load_json(path)
    if stored is not None:  # the same base, rule and changelog files: the same answer
        return _calibration(stored)
    try:
        pairs = load_past_pairs(repo, snapshot, cache_dir)
    except SnapshotError:
        pairs = ()  # a history git cannot replay: the default rate stands
    calibration = calibrate(snapshot, pairs, mergeable, plan.threshold, why)
    _save_json(path, asdict(calibration))
    return calibration


def _calibration(stored: dict[str, Any]) -> Calibration:
    rates = dict(stored["rates"])
    rates["seen"] = {path: (count, hit) for path, (count, hit) in rates["seen"].items()}
    fields = {k: v for k, v in stored.items() if k not in ("version", "rates")}
    return Calibration(rates=ConflictRates(**rates), **fields)
