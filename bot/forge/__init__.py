"""Where tasks come from and where state is kept: local files + SQLite, or GitHub."""
