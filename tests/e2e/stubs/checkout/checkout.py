"""actions/checkout, offline: the repository under test from its bare remote, or orchestrate's
own source (the reusable workflow installs orchestrate from a checkout of it)."""

import os
import shutil
import subprocess
from pathlib import Path

workspace = Path(os.environ["GITHUB_WORKSPACE"])
target = (workspace / os.environ.get("TARGET", ".")).resolve()
repository = os.environ.get("REPOSITORY", "")
if repository and repository != os.environ["GITHUB_REPOSITORY"]:
    source = Path(os.environ["STUB_ORCHESTRATE_SOURCE"])
    skip = shutil.ignore_patterns(
        ".git", ".venv", "node_modules", ".cache", "__pycache__", "*.egg-info"
    )
    shutil.copytree(source, target, ignore=skip, dirs_exist_ok=True)
else:
    target.mkdir(parents=True, exist_ok=True)
    remote = os.environ["STUB_REMOTE"]
    subprocess.run(["git", "clone", "--quiet", remote, str(target)], check=True)
    if os.environ.get("REF"):
        subprocess.run(
            ["git", "-C", str(target), "checkout", "--quiet", os.environ["REF"]], check=True
        )
print(f"checkout stub: {repository or os.environ['GITHUB_REPOSITORY']} -> {target}")
