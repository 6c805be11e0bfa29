"""Every git operation orchestrate performs, through GitPython. Nothing else runs git.

Each task gets a checkout of its own under `<repo>/.orchestrate/checkouts/`: a repository that
borrows this one's objects, where its agent runs and then the queue rebases and tests it.
orchestrate reads a checkout back only by fetching from it, so nothing done in one (refs,
hooks, config) reaches the repository.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git

from bot import crashpoints

STATE_DIR = ".orchestrate"
CHECKOUTS = "checkouts"  # under STATE_DIR: one per task, see `GitRepo.fresh_checkout`
FALLBACK_IDENTITY = {"name": "orchestrate", "email": "orchestrate@localhost"}
UNION_BEGIN = "# orchestrate merge.union_files: begin"
UNION_END = "# orchestrate merge.union_files: end"


# orchestrate's own git commands run no hooks, not even in a checkout it made itself (git reads
# this as `-c core.hooksPath=...`).
NO_HOOKS = {
    "GIT_CONFIG_COUNT": "2",
    "GIT_CONFIG_KEY_0": "core.hooksPath",
    "GIT_CONFIG_VALUE_0": os.devnull,
    "GIT_CONFIG_KEY_1": "core.fsmonitor",  # a command run by `git status`, set in .git/config
    "GIT_CONFIG_VALUE_1": "false",
}


CHANGELOG_DRIVER = "orchestrate-changelog"  # bot/merge_driver.py, for `merge.union_files`
# orchestrate's own git commands: no hooks, and the changelog driver defined
ORCHESTRATE_GIT = {
    **NO_HOOKS,
    "GIT_CONFIG_COUNT": "4",
    "GIT_CONFIG_KEY_2": f"merge.{CHANGELOG_DRIVER}.driver",
    # -I: isolated, so a `bot/` package in the checkout (an agent could write one) is not run
    "GIT_CONFIG_VALUE_2": f"{shlex.quote(sys.executable)} -I -m bot.merge_driver %O %A %B %P",
    "GIT_CONFIG_KEY_3": f"merge.{CHANGELOG_DRIVER}.name",
    "GIT_CONFIG_VALUE_3": "changelog lines added on both sides are kept",
}


def merge_file(current: Path, base: Path, other: Path, union: bool = False) -> int:
    """`git merge-file` (in place in `current`): 0 when clean, else the number of conflicts."""
    args = ["-q", *(["--union"] if union else []), str(current), str(base), str(other)]
    status, _, _ = git.Git().merge_file(*args, with_extended_output=True, with_exceptions=False)
    return int(status)


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.M)
_TRAILER_TASK = re.compile(r"^Orchestrate-Task: (\S+)$", re.M)
_TRAILER_DIGEST = re.compile(r"^Orchestrate-Digest: (\S+)$", re.M)


class _Git(git.Git):
    """GitPython's runner, with a crash point before each command (`bot.crashpoints`)."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        crashpoints.reached("git")
        return super().execute(*args, **kwargs)


class _Repo(git.Repo):
    GitCommandWrapperType = _Git


class GitError(Exception):
    """A git problem worth a one-line message (not a repo, missing branch, dirty tree)."""


HUNKS_KEPT = 8000  # characters of conflicting hunks kept for the agent's redo


@dataclass(frozen=True)
class RebaseResult:
    ok: bool
    conflict_files: tuple[str, ...] = ()
    message: str = ""
    hunks: str = ""  # the conflicted files as `git diff` shows them mid-rebase (bounded)


def _any_case(pattern: str) -> str:
    """A gitattributes pattern matching `pattern` in any letter case (`ab*` -> `[aA][bB]*`)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in pattern)


def _first_line(exc: git.GitCommandError) -> str:
    text = str(exc.stderr or exc.stdout or exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1].removeprefix("stderr: ").strip("'") if lines else str(exc)


class GitRepo:
    """A repository orchestrate works on: its base branch, task checkouts and branches."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise GitError(f"{path}: no such directory")
        try:
            self.repo = _Repo(path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise GitError(f"{path}: not a git repository") from None
        if self.repo.bare or self.repo.working_tree_dir is None:
            raise GitError(f"{path}: a bare repository has no working tree to run in")
        self.root = Path(self.repo.working_tree_dir)
        self._identity = {**self._identity_env(), **ORCHESTRATE_GIT}
        self.repo.git.update_environment(**ORCHESTRATE_GIT)

    def _identity_env(self) -> dict[str, str]:
        """Commits need an author; fall back to `orchestrate` where git has none configured."""
        reader = self.repo.config_reader()
        env: dict[str, str] = {}
        for key in ("name", "email"):
            if not reader.get_value("user", key, ""):
                env[f"GIT_AUTHOR_{key.upper()}"] = FALLBACK_IDENTITY[key]
                env[f"GIT_COMMITTER_{key.upper()}"] = FALLBACK_IDENTITY[key]
        return env

    def _git(self, cwd: Path | None = None) -> git.Git:
        runner = _Git(str(cwd or self.root))
        runner.update_environment(**self._identity)
        return runner

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    # -- reading -------------------------------------------------------------------------

    def resolve(self, rev: str) -> str:
        try:
            return str(self.repo.git.rev_parse("--verify", "--quiet", f"{rev}^{{commit}}"))
        except git.GitCommandError:
            raise GitError(f"{self.root}: no branch or commit named '{rev}'") from None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        try:
            self.repo.git.merge_base("--is-ancestor", ancestor, descendant)
        except git.GitCommandError:
            return False
        return True

    def checked_out_branch(self) -> str | None:
        return None if self.repo.head.is_detached else self.repo.head.ref.name

    def branch_name_ok(self, name: str) -> bool:
        """Whether git accepts `name` as a branch name (`git check-ref-format --branch`)."""
        try:
            self.repo.git.check_ref_format("--branch", name)
        except git.GitCommandError:
            return False
        return True

    def has_branch(self, name: str) -> bool:
        return name in self.repo.heads

    def default_branch(self) -> str | None:
        """The branch work lands on when nobody said: the checked-out one (if it has a
        commit), else what origin's HEAD names."""
        branch = self.checked_out_branch()
        if branch is not None and branch in self.repo.heads:
            return branch
        try:
            name = str(self.repo.git.symbolic_ref("--quiet", "--short", "refs/remotes/origin/HEAD"))
        except git.GitCommandError:
            return branch
        return name.removeprefix("origin/") or branch

    def dirty_files(self) -> list[str]:
        """Tracked files with uncommitted changes in the main working tree."""
        status = self.repo.git.status("--porcelain", "--untracked-files=no", "-z")
        return [entry[3:] for entry in status.split("\0") if len(entry) > 3]

    def deleted_files(self, old: str, new: str) -> tuple[str, ...]:
        out = self.repo.git.diff("--name-only", "--diff-filter=D", "-z", old, new)
        return tuple(sorted(name for name in out.split("\0") if name))

    def file_count(self, rev: str) -> int:
        return len(
            [n for n in self.repo.git.ls_tree("-r", "--name-only", "-z", rev).split("\0") if n]
        )

    def changed_files(self, old: str, new: str) -> tuple[str, ...]:
        """Every path `old..new` touches; a renamed file under its old and its new name."""
        out = self.repo.git.diff("--name-only", "--no-renames", "-z", old, new)
        return tuple(sorted(name for name in out.split("\0") if name))

    def merge_conflicts(self, ours: str, theirs: str) -> tuple[str, ...] | None:
        """The files git cannot merge when merging commits `ours` and `theirs` over their
        merge base (`git merge-tree --write-tree`: no checkout, no ref moves); () when they
        merge cleanly, None when git cannot tell (no merge base, or a git before 2.38)."""
        status, out, _ = self.repo.git.merge_tree(
            "--write-tree", "--name-only", "--no-messages", ours, theirs,
            with_extended_output=True, with_exceptions=False,
        )  # fmt: skip
        lines = str(out).splitlines()
        if status not in (0, 1) or not lines:  # no tree written: git could not merge at all
            return None
        return tuple(sorted({line for line in lines[1:] if line.strip()}))

    def merge_base(self, a: str, b: str) -> str | None:
        status, out, _ = self.repo.git.merge_base(
            a, b, with_extended_output=True, with_exceptions=False
        )
        return str(out).strip() or None if status == 0 else None

    def changed_since_fork(self, base: str, head: str) -> tuple[str, ...]:
        """The files `head` changes since it forked from `base` (what its pull request shows)."""
        fork = self.merge_base(base, head)
        return self.changed_files(fork, head) if fork else ()

    def conflict_lines(
        self, ours: str, theirs: str
    ) -> dict[str, tuple[tuple[int, int], ...]] | None:
        """Where merging `theirs` into `ours` conflicts, in `ours`' own lines: for each file in
        conflict, the (first, last) line ranges of `ours`' changes that meet a change of
        `theirs` (git conflicts where changes overlap or touch). A file git cannot merge for
        another reason (one side deleted it, binary) gets line 1. {} when they merge cleanly,
        None when git cannot tell."""
        files = self.merge_conflicts(ours, theirs)
        fork = self.merge_base(ours, theirs) if files else None
        if files is None or (files and fork is None):
            return None
        found: dict[str, tuple[tuple[int, int], ...]] = {}
        for path in files:
            mine, other = self._hunks(fork or "", ours, path), self._hunks(fork or "", theirs, path)
            lines = tuple(
                (new_start, new_end)
                for old_start, old_end, new_start, new_end in mine
                if any(old_start <= end + 1 and start <= old_end + 1 for start, end, _, _ in other)
            )
            found[path] = lines or ((1, 1),)
        return found

    def _hunks(self, base: str, head: str, path: str) -> list[tuple[int, int, int, int]]:
        """`git diff -U0` hunks of one file: (old first, old last, new first, new last); an
        insertion covers the line before it in the old file, a deletion the line after it in
        the new one."""
        out = str(self.repo.git.diff("-U0", "--no-color", "--no-ext-diff", base, head, "--", path))
        hunks = []
        for match in _HUNK.finditer(out):
            old, old_n, new, new_n = (int(g) if g else 1 for g in match.groups())
            old_last = old + old_n - 1 if old_n else old
            new_first = new if new_n else max(new, 1)
            new_last = new + new_n - 1 if new_n else new_first
            hunks.append((old, old_last, new_first, new_last))
        return hunks

    def log_graph(self, rev: str, limit: int = 40) -> str:
        return str(self.repo.git.log("--graph", "--oneline", "--decorate", f"-{limit}", rev, "--"))

    # -- set-up --------------------------------------------------------------------------

    def ignore_state_dir(self) -> None:
        """Keep `.orchestrate/` out of `git status` without touching tracked files."""
        exclude = Path(self.repo.git_dir) / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        lines = exclude.read_text().splitlines() if exclude.exists() else []
        if f"/{STATE_DIR}/" not in lines:
            exclude.write_text("\n".join([*lines, f"/{STATE_DIR}/"]) + "\n")

    def union_merge(self, patterns: Sequence[str]) -> None:
        """Merge files matching `patterns` (changelogs) with `bot.merge_driver` (lines both
        sides added are all kept) in every rebase orchestrate does here, through
        `info/attributes` (each task checkout gets a copy)."""
        attributes = Path(self.repo.common_dir) / "info" / "attributes"
        attributes.parent.mkdir(parents=True, exist_ok=True)
        text = attributes.read_text() if attributes.exists() else ""
        before, _, rest = text.partition(UNION_BEGIN + "\n")
        _, _, after = rest.partition(UNION_END + "\n")
        ours = "".join(f"{_any_case(pattern)} merge={CHANGELOG_DRIVER}\n" for pattern in patterns)
        attributes.write_text(f"{before}{UNION_BEGIN}\n{ours}{UNION_END}\n{after}")

    # -- task checkouts ------------------------------------------------------------------

    def checkout_path(self, branch: str) -> Path:
        return self.state_dir / CHECKOUTS / branch.rsplit("/", 1)[-1]

    def fresh_checkout(self, branch: str, start: str) -> Path:
        """A clean checkout of its own on `branch` at `start` (here too), whatever an earlier
        attempt left there: see `_new_checkout`."""
        sha = self.resolve(start)
        path = self.checkout_path(branch)
        self.remove_checkout(branch)
        self.repo.git.update_ref(f"refs/heads/{branch}", sha)
        self._new_checkout(path, sha, branch)
        return path

    @contextlib.contextmanager
    def scratch_checkout(self, commit: str) -> Iterator[Path]:
        """A checkout of its own at `commit` (detached) that is removed, with whatever was
        written in it, when the block ends."""
        (self.state_dir / CHECKOUTS).mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="ask-", dir=self.state_dir / CHECKOUTS))
        shutil.rmtree(path)
        try:
            self._new_checkout(path, self.resolve(commit), None)
            yield path
        finally:
            self._drop_checkout(path)

    def _new_checkout(self, path: Path, sha: str, branch: str | None) -> None:
        """A repository of its own at `path` that borrows this one's objects (alternates) and
        has no remote: what runs in it (agents, tests) can move its refs, write its hooks and
        its config, and none of that reaches this repository, which only ever reads it back
        by fetching (`take`)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._git(path.parent).init("-q", str(path))
        shared = Path(self.repo.common_dir).resolve()
        (path / ".git" / "objects" / "info" / "alternates").write_text(f"{shared / 'objects'}\n")
        for name in ("info/attributes", "shallow"):  # `union_merge`; a shallow clone's bounds
            if (shared / name).exists():
                shutil.copyfile(shared / name, path / ".git" / name)
        runner = self._git(path)
        if branch is None:
            runner.checkout("-q", "--detach", sha)
        else:
            runner.checkout("-q", "-B", branch, sha)

    def remove_checkout(self, branch: str) -> None:
        self._drop_checkout(self.checkout_path(branch))

    def _drop_checkout(self, path: Path) -> None:
        """Delete a checkout (files an agent made read-only included) and the index
        orchestrate kept for it."""
        if path.exists():
            shutil.rmtree(path, onerror=_make_writable_and_retry)
        self._index(path).unlink(missing_ok=True)

    def _index(self, checkout: Path) -> Path:
        return self.state_dir / "indexes" / checkout.name

    def delete_branch(self, branch: str) -> None:
        if branch in self.repo.heads:
            self.repo.git.branch("-D", branch)

    def fetch_head(self, checkout: Path, branch: str) -> str:
        """The commit `checkout`'s HEAD is at, fetched into this repository as `branch` (git's
        upload-pack, made to be safe on a repository someone else controls)."""
        try:
            self.repo.git.fetch(
                "--quiet", "--no-tags", "--no-write-fetch-head", str(checkout),
                f"+HEAD:refs/heads/{branch}",
            )  # fmt: skip
        except git.GitCommandError:
            raise GitError(
                f"{checkout}: no longer a checkout orchestrate can read (its .git was removed "
                "or changed): nothing was collected from it"
            ) from None
        return self.resolve(f"refs/heads/{branch}")

    def take(self, checkout: Path, branch: str, message: str | None = None) -> str:
        """What `checkout` holds now, as a commit of this repository, also set as `branch`
        here: its HEAD (`fetch_head`), and on top of it whatever is left uncommitted, written
        through an index of orchestrate's own with this repository's config, never the
        checkout's.
        `message` None: a snapshot of work in progress, with fixed dates, so the same work
        gives the same commit."""
        head = self.fetch_head(checkout, branch)
        index = self._index(checkout)
        index.parent.mkdir(parents=True, exist_ok=True)
        env = {
            "GIT_DIR": str(Path(self.repo.git_dir).resolve()),
            "GIT_WORK_TREE": str(checkout.resolve()),
            "GIT_INDEX_FILE": str(index),
        }
        runner = self._git(checkout)
        try:
            # `--reset` keeps what the index knows of unchanged files (only changed ones are
            # read) and, unlike `-m`, takes a file changed again since the last snapshot
            # (`-m` refused it: "not uptodate", and the agent's work could not be read)
            runner.read_tree(*(["--reset"] if index.exists() else []), head, env=env)
            runner.add("-A", env=env)
            tree = str(runner.write_tree(env=env))
        except git.GitCommandError as exc:  # a running agent moved a file under our feet
            raise GitError(f"{checkout}: could not read its files: {_first_line(exc)}") from None
        if tree == self.resolve_tree(head):
            return head
        if message is None:
            fixed = {
                "GIT_AUTHOR_DATE": "1700000000 +0000",
                "GIT_COMMITTER_DATE": "1700000000 +0000",
            }
            env = {**env, **fixed}
            return str(runner.commit_tree(tree, "-p", head, "-m", "work in progress", env=env))
        sha = str(runner.commit_tree(tree, "-p", head, "-m", message, env=env))
        self.repo.git.update_ref(f"refs/heads/{branch}", sha, head)
        return sha

    def resolve_tree(self, rev: str) -> str:
        return str(self.repo.git.rev_parse("--verify", "--quiet", f"{rev}^{{tree}}"))

    def collect(
        self, checkout: Path, branch: str, start: str, message: str
    ) -> tuple[str, tuple[str, ...]]:
        """Commit what the agent left uncommitted (`take`); the head and the files changed."""
        head = self.take(checkout, branch, message)
        return head, self.changed_files(start, head)

    # -- landing -------------------------------------------------------------------------

    def rebase(self, checkout: Path, onto: str) -> RebaseResult:
        runner = self._git(checkout)
        try:
            runner.rebase("--quiet", onto)
        except git.GitCommandError as exc:
            unmerged = runner.diff("--name-only", "--diff-filter=U", "-z")
            files = tuple(sorted(name for name in unmerged.split("\0") if name))
            hunks = ""
            with contextlib.suppress(git.GitCommandError):
                if files:
                    hunks = str(runner.diff("--diff-filter=U", "--", *files))[:HUNKS_KEPT]
            with contextlib.suppress(git.GitCommandError):
                runner.rebase("--abort")
            return RebaseResult(False, files, _first_line(exc), hunks)
        return RebaseResult(True)

    def squash(self, checkout: Path, onto: str, message: str) -> None:
        runner = self._git(checkout)
        runner.reset("--soft", onto)
        runner.commit("-q", "--no-verify", "-m", message)

    def merge_commit(self, checkout: Path, onto: str, branch: str, message: str) -> None:
        runner = self._git(checkout)
        head = str(runner.rev_parse("HEAD"))
        runner.checkout("-q", "--detach", onto)
        runner.merge("-q", "--no-ff", "-m", message, head)
        runner.branch("-f", branch, "HEAD")
        runner.checkout("-q", branch)

    def add_trailers(self, checkout: Path, trailers: str) -> None:
        """Append `trailers` to the message of the checkout's top commit, unless it has them."""
        runner = self._git(checkout)
        message = str(runner.log("-1", "--format=%B"))
        if trailers.strip() in message:
            return
        runner.commit("-q", "--amend", "--no-verify", "-m", message.rstrip() + "\n\n" + trailers)

    def landed_tasks(self, base: str, limit: int = 2000) -> dict[tuple[str, str], str]:
        """(task id, digest) -> the commit that landed it, from the trailers on `base`."""
        out = str(self.repo.git.log(f"-{limit}", "--format=%H%x1f%B%x1e", base))
        found: dict[tuple[str, str], str] = {}
        for record in out.split("\x1e"):
            sha, _, body = record.strip().partition("\x1f")
            task = _TRAILER_TASK.search(body)
            digest = _TRAILER_DIGEST.search(body)
            if task and digest:
                found.setdefault((task.group(1), digest.group(1)), sha)
        return found

    # -- a remote (GitHub mode: the runner's checkout and the repository on GitHub) ------------

    def fetch(
        self, remote: str, refspecs: Sequence[str], env: dict[str, str], prune: bool = False
    ) -> None:
        """Fetch `refspecs`; with `prune`, local refs they map whose source is gone go too."""
        flags = ["--quiet", "--no-tags", *(["--prune"] if prune else [])]
        try:
            with self.repo.git.custom_environment(**env):
                self.repo.git.fetch(*flags, remote, *refspecs)
        except git.GitCommandError as exc:
            raise GitError(f"could not fetch from {remote}: {_first_line(exc)}") from None

    def remote_sha(self, remote: str, branch: str, env: dict[str, str]) -> str | None:
        """Where `branch` points on `remote` now, None when it does not exist there."""
        try:
            with self.repo.git.custom_environment(**env):
                out = str(self.repo.git.ls_remote(remote, f"refs/heads/{branch}"))
        except git.GitCommandError as exc:
            raise GitError(f"could not read {remote}: {_first_line(exc)}") from None
        return out.split()[0] if out.strip() else None

    def push(
        self, remote: str, sha: str, branch: str, expected: str | None, env: dict[str, str]
    ) -> bool:
        """Point `branch` on `remote` at `sha`, only if it still points at `expected` (None:
        only if it does not exist). False when the lease did not hold: someone else moved it."""
        lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
        target = f"{sha}:refs/heads/{branch}" if sha else f":refs/heads/{branch}"
        try:
            with self.repo.git.custom_environment(**env):
                self.repo.git.push("--quiet", "--no-verify", lease, remote, target)
        except git.GitCommandError as exc:
            text = str(exc.stderr or "")
            if "stale info" in text or "rejected" in text or "fetch first" in text:
                return False
            raise GitError(f"could not push {branch}: {_first_line(exc)}") from None
        return True

    def publish(self, remote: str, refs: Mapping[str, str | None], env: dict[str, str]) -> None:
        """Point each ref on `remote` at its commit whatever it pointed at (None: delete it),
        in one push: for refs only this process writes."""
        targets = [f"+{sha}:{ref}" if sha else f":{ref}" for ref, sha in refs.items()]
        try:
            with self.repo.git.custom_environment(**env):
                self.repo.git.push("--quiet", "--no-verify", remote, *targets)
        except git.GitCommandError as exc:
            raise GitError(f"could not push {', '.join(refs)}: {_first_line(exc)}") from None

    def refs(self, pattern: str) -> dict[str, str]:
        """The refs `pattern` matches (a prefix, or a glob), with the commits they point at."""
        out = self.repo.git.for_each_ref("--format=%(refname) %(objectname)", pattern)
        return dict(line.split(" ", 1) for line in str(out).splitlines() if line)

    def marker_commit(self, parent: str, message: str) -> str:
        """A commit with `parent`'s tree and `message`: it changes nothing, and gives a task
        branch a head of its own before the agent has committed anything."""
        runner = self._git()
        return str(runner.commit_tree(f"{parent}^{{tree}}", "-p", parent, "-m", message))

    def advance_base(self, base: str, new: str, expected: str) -> None:
        """Move `base` from `expected` to `new` (a descendant): never a force, never a race.

        The ref moves by compare-and-swap, in one step. When `base` is checked out in the main
        working tree, its files follow: a note written first says which move is under way, so
        a run killed at any instant leaves either the old state, or the new ref with files
        `finish_checkout` brings up to date on the next run (never a mixture it would blame on
        the user). Ctrl-C and SIGTERM wait until the files are written.
        """
        checked_out = self.checked_out_branch() == base
        if checked_out and self.resolve("HEAD") != expected:
            raise GitError(f"{base} moved while orchestrate was merging; run again")
        with _deferred_signals():
            if checked_out:
                self._pending.parent.mkdir(parents=True, exist_ok=True)
                partial = self._pending.with_suffix(".part")
                partial.write_text(json.dumps({"base": base, "old": expected, "new": new}))
                partial.replace(self._pending)
            try:
                self.repo.git.update_ref(f"refs/heads/{base}", new, expected)
            except git.GitCommandError as exc:
                self._pending.unlink(missing_ok=True)
                raise GitError(f"could not move {base}: {_first_line(exc)}") from None
            if checked_out:
                self._bring_files(expected, new)

    @property
    def _pending(self) -> Path:
        return self.state_dir / "checkout-pending.json"

    def _bring_files(self, old: str, new: str) -> None:
        """The files `old..new` changed, as `new` has them, in the index and the main working
        tree (others untouched); then the note of the move is removed."""
        runner = self._git()
        changed = self.changed_files(old, new)
        present = set(str(self.repo.git.ls_tree("-r", "--name-only", "-z", new)).split("\0"))
        kept = [path for path in changed if path in present]
        gone = [path for path in changed if path not in present]
        for chunk in range(0, len(kept), 500):
            runner.checkout(new, "--", *kept[chunk : chunk + 500])
        for path in gone:
            runner.rm("-q", "--cached", "--ignore-unmatch", "--", path)
            (self.root / path).unlink(missing_ok=True)
        self._pending.unlink(missing_ok=True)

    def finish_checkout(self) -> str | None:
        """Finish a move of the checked-out base that a killed run left half done (see
        `advance_base`); what was done, or None when nothing was pending."""
        if not self._pending.exists():
            return None
        try:
            note = json.loads(self._pending.read_text())
            base, old, new = str(note["base"]), str(note["old"]), str(note["new"])
        except (OSError, ValueError, KeyError, TypeError):
            self._pending.unlink(missing_ok=True)
            return None
        if self.resolve(f"refs/heads/{base}") != new:  # killed before the ref moved
            self._pending.unlink(missing_ok=True)
            return None
        lock = Path(self.repo.git_dir) / "index.lock"
        lock.unlink(missing_ok=True)  # ours: we hold the run lock, and git was killed with us
        self._bring_files(old, new)
        return f"finished updating the files of {base} to {new[:10]} (a run was stopped mid-way)"


def _make_writable_and_retry(function: Any, path: str, _: Any) -> None:
    """`shutil.rmtree`'s error handler: a file or folder made read-only is deleted all the same."""
    Path(path).parent.chmod(0o700)
    with contextlib.suppress(OSError):
        Path(path).chmod(0o700)
    function(path)


@contextlib.contextmanager
def _deferred_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM arrive after the block (SIGKILL cannot be deferred: the note of the
    move covers it)."""
    signals = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def auth_env(token: str | None, server_url: str = "https://github.com") -> dict[str, str]:
    """Environment that gives git an Authorization header for the forge's HTTPS remotes, as
    actions/checkout does, without writing the token to disk or onto a command line. Only
    orchestrate's own git commands get it; agents never do."""
    if not token:
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        **ORCHESTRATE_GIT,
        "GIT_CONFIG_COUNT": "5",
        "GIT_CONFIG_KEY_4": f"http.{server_url.rstrip('/')}/.extraheader",
        "GIT_CONFIG_VALUE_4": f"AUTHORIZATION: basic {basic}",
    }


def create_repo(path: Path, files: dict[str, str], message: str, branch: str = "main") -> GitRepo:
    """A new repository at `path` with `files` committed on `branch` (demo and tests)."""
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git.Repo.init(path, initial_branch=branch)
    repo = GitRepo(path)
    runner = repo._git()
    runner.add("-A")
    runner.commit("-q", "--no-verify", "-m", message)
    return repo
