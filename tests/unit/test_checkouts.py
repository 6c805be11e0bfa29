"""Task checkouts (`bot.gitops.GitRepo.fresh_checkout`, `take`) on real git repositories."""

from __future__ import annotations

from pathlib import Path


def test_a_checkout_whose_files_move_while_read_is_a_git_error_not_a_crash(
    tmp_path: Path, monkeypatch
):
    """An agent deletes a file while orchestrate adds its work on a heartbeat (`git add -A`:
    'unable to stat'): `take` says so as a GitError, which the heartbeat skips, instead of a
    traceback that ends the run."""
    import git
    import pytest

    from bot import gitops

    repo = gitops.create_repo(tmp_path / "repo", {"a.txt": "a\n"}, "initial")
    checkout = repo.fresh_checkout("orchestrate/1-t", repo.resolve("main"))
    (checkout / "a.txt").write_text("changed\n")
    real = gitops._Git.execute

    def vanishing(self, command, *args, **kwargs):
        if command[1:3] == ["add", "-A"]:
            raise git.GitCommandError(command, 128, b"fatal: unable to stat 'b.txt': No such file")
        return real(self, command, *args, **kwargs)

    monkeypatch.setattr(gitops._Git, "execute", vanishing)
    with pytest.raises(gitops.GitError, match="could not read its files: fatal: unable to stat"):
        repo.take(checkout, "orchestrate/1-t")
    monkeypatch.setattr(gitops._Git, "execute", real)
    assert repo.changed_files("main", repo.take(checkout, "orchestrate/1-t")) == ("a.txt",)
