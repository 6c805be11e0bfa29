"""A real bare git repository driven with plumbing commands (no work tree).

Merges are computed like GitHub does server-side: ``git merge-tree --write-tree``
(git >= 2.38) gives the merged tree or a conflict, ``git commit-tree`` writes
the commit and ``git update-ref`` moves the branch with an old-value guard.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ZERO_SHA = "0" * 40
GITHUB_IDENTITY = ("GitHub", "noreply@github.com")


class GitError(RuntimeError):
    pass


class MergeConflict(GitError):
    pass


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_date: str  # ISO 8601, strict
    committer_name: str
    committer_email: str
    committer_date: str
    message: str


class BareRepo:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # ------------------------------------------------------------------ setup
    @classmethod
    def init(
        cls,
        path: Path,
        files: Mapping[str, str] | None = None,
        *,
        branch: str = "main",
        message: str = "Initial commit",
    ) -> BareRepo:
        """Create a bare repo whose ``branch`` has one commit with ``files``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "--bare", "--quiet", f"--initial-branch={branch}", str(path)],
            check=True,
        )
        repo = cls(path)
        repo.commit(branch, files or {"README.md": "# test repo\n"}, message, parents=[])
        return repo

    # ------------------------------------------------------------------ plumbing
    def git(
        self,
        *args: str,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "GIT_DIR": str(self.path), **(env or {})}
        proc = subprocess.run(
            ["git", *args], input=input, env=full_env, capture_output=True, text=True
        )
        if check and proc.returncode != 0:
            raise GitError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def resolve(self, ref: str) -> str | None:
        """The sha a ref/branch/sha points to, or None."""
        proc = self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return proc.stdout.strip() or None

    def branch_sha(self, branch: str) -> str | None:
        return self.resolve(f"refs/heads/{branch}")

    def refs(self, prefix: str = "refs/") -> dict[str, str]:
        out = self.git("for-each-ref", "--format=%(refname) %(objectname)", prefix).stdout
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def update_ref(self, ref: str, sha: str, old: str | None = None) -> None:
        """Move ``ref`` to ``sha``; with ``old``, only if it still points there."""
        args = ["update-ref", ref, sha]
        if old is not None:
            args.append(old)
        self.git(*args)

    def delete_ref(self, ref: str) -> None:
        self.git("update-ref", "-d", ref)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        proc = self.git("merge-base", "--is-ancestor", ancestor, descendant, check=False)
        return proc.returncode == 0

    def commit_info(self, sha: str) -> CommitInfo:
        fmt = "%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
        out = self.git("show", "-s", f"--format={fmt}", sha).stdout
        parts = out.split("\x00")
        return CommitInfo(
            sha=parts[0],
            tree=parts[1],
            parents=tuple(parts[2].split()),
            author_name=parts[3],
            author_email=parts[4],
            author_date=parts[5],
            committer_name=parts[6],
            committer_email=parts[7],
            committer_date=parts[8],
            message=parts[9].rstrip("\n"),
        )

    def read_file(self, rev: str, path: str) -> str | None:
        proc = self.git("show", f"{rev}:{path}", check=False)
        return proc.stdout if proc.returncode == 0 else None

    def commits_between(self, base: str, head: str) -> list[str]:
        """Non-merge commits reachable from head but not base, oldest first."""
        out = self.git("rev-list", "--reverse", "--no-merges", f"{base}..{head}").stdout
        return out.split()

    def diff_stats(self, base: str, head: str) -> list[tuple[str, int, int, str]]:
        """(path, additions, deletions, status) of head against merge-base(base, head)."""
        numstat = self.git("diff", "--numstat", "--no-renames", f"{base}...{head}").stdout
        status = self.git("diff", "--name-status", "--no-renames", f"{base}...{head}").stdout
        kinds = {"A": "added", "D": "removed", "M": "modified"}
        by_path = {
            line.split("\t", 1)[1]: kinds.get(line[0], "changed")
            for line in status.splitlines()
            if line
        }
        out = []
        for line in numstat.splitlines():
            add, delete, path = line.split("\t", 2)
            out.append(
                (
                    path,
                    int(add) if add.isdigit() else 0,
                    int(delete) if delete.isdigit() else 0,
                    by_path.get(path, "modified"),
                )
            )
        return out

    # ------------------------------------------------------------------ writing
    def _write_tree(self, files: Mapping[str, str | None], base_tree: str | None) -> str:
        """A tree: ``base_tree`` with ``files`` written (None deletes a path)."""
        env = {"GIT_INDEX_FILE": str(self.path / f"fake-index-{os.getpid()}")}
        try:
            if base_tree:
                self.git("read-tree", base_tree, env=env)
            else:
                self.git("read-tree", "--empty", env=env)
            for name, content in files.items():
                if content is None:
                    self.git("update-index", "--force-remove", name, env=env)
                    continue
                blob = self.git("hash-object", "-w", "--stdin", input=content).stdout.strip()
                self.git("update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
            return self.git("write-tree", env=env).stdout.strip()
        finally:
            Path(env["GIT_INDEX_FILE"]).unlink(missing_ok=True)

    def commit_tree(
        self,
        tree: str,
        parents: Sequence[str],
        message: str,
        *,
        author: tuple[str, str] = ("Test Author", "author@example.com"),
        committer: tuple[str, str] | None = None,
        author_date: str | None = None,
    ) -> str:
        committer = committer or author
        env = {
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": committer[0],
            "GIT_COMMITTER_EMAIL": committer[1],
        }
        if author_date:
            env["GIT_AUTHOR_DATE"] = author_date
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.git(*args, input=message, env=env).stdout.strip()

    def commit(
        self,
        branch: str,
        files: Mapping[str, str | None],
        message: str,
        *,
        parents: Sequence[str] | None = None,
        author: tuple[str, str] = ("Test Author", "author@example.com"),
    ) -> str:
        """Commit ``files`` on top of ``branch`` (created from ``parents`` if given)."""
        ref = f"refs/heads/{branch}"
        old = self.resolve(ref)
        if parents is None:
            parents = [old] if old else []
        base_tree = self.commit_info(parents[0]).tree if parents else None
        tree = self._write_tree(files, base_tree)
        sha = self.commit_tree(tree, parents, message, author=author)
        self.update_ref(ref, sha, old or ZERO_SHA)
        return sha

    def create_branch(self, branch: str, start: str) -> str:
        sha = self.resolve(start)
        if sha is None:
            raise GitError(f"unknown start point {start}")
        self.update_ref(f"refs/heads/{branch}", sha, ZERO_SHA)
        return sha

    # ------------------------------------------------------------------ merging
    def merge_tree(self, ours: str, theirs: str) -> str:
        """The merged tree of two commits; raises MergeConflict."""
        proc = self.git("merge-tree", "--write-tree", "--name-only", ours, theirs, check=False)
        if proc.returncode == 1:
            files = proc.stdout.split("\n\n", 1)[0].splitlines()[1:]
            raise MergeConflict(f"conflict in {', '.join(files) or 'tree'}")
        if proc.returncode != 0:
            raise GitError(proc.stderr.strip())
        return proc.stdout.splitlines()[0].strip()

    def can_merge(self, base: str, head: str) -> bool:
        try:
            self.merge_tree(base, head)
        except MergeConflict:
            return False
        return True

    def merge(
        self,
        base_branch: str,
        head: str,
        method: str,
        message: str,
        *,
        author: tuple[str, str],
    ) -> str:
        """Merge ``head`` into ``base_branch`` with GitHub's merge methods.

        - merge: a two-parent merge commit of the merged tree;
        - squash: one commit on the base tip with the merged tree;
        - rebase: each non-merge commit of base..head is replayed on the base
          tip, keeping its author and message. Git 2.39 has no
          ``merge-tree --merge-base``, so commit N is replayed as the merge of
          (replayed N-1, original N) over their natural merge base (the fork
          point); without conflicts this yields the same trees as a
          cherry-pick sequence.
        The branch only moves if nobody moved it meanwhile.
        """
        ref = f"refs/heads/{base_branch}"
        base = self.resolve(ref)
        if base is None:
            raise GitError(f"no branch {base_branch}")
        tree = self.merge_tree(base, head)
        if method == "merge":
            new = self.commit_tree(
                tree, [base, head], message, author=author, committer=GITHUB_IDENTITY
            )
        elif method == "squash":
            new = self.commit_tree(tree, [base], message, author=author, committer=GITHUB_IDENTITY)
        elif method == "rebase":
            new = base
            linear = self.is_ancestor(base, head)  # head already sits on base: trees as they are
            for sha in self.commits_between(base, head):
                info = self.commit_info(sha)
                step_tree = info.tree if linear else self.merge_tree(new, sha)
                new = self.commit_tree(
                    step_tree,
                    [new],
                    info.message + "\n",
                    author=(info.author_name, info.author_email),
                    committer=GITHUB_IDENTITY,
                    author_date=info.author_date,
                )
        else:
            raise ValueError(f"unknown merge method {method}")
        self.update_ref(ref, new, base)
        return new
