"""The `Forge` port (base.py) and its GitHub adapter: the REST API through PyGithub (github.py,
github_http.py), issues as tasks and task states as labels (issues.py)."""
