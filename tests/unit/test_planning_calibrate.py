from bot.analysis import RepoSnapshot
from bot.analysis.history import Commit
from bot.planning import calibrate
from bot.planning.calibrate import CONFLICT_THRESHOLD, FLOOR, calibrate_threshold
from bot.planning.graphs import MERGEABLE

FILES = tuple(f"pkg/{name}.py" for name in ("parser", "render", "cache", "cli", "auth", "db"))


def history(n: int) -> tuple[Commit, ...]:
    """Newest first: changes that each mention the module they touch, in pairs and alone."""
    commits = []
    for i in range(n):
        a = FILES[i % len(FILES)]
        b = FILES[(i * 5 + 1) % len(FILES)]
        files = (a, b) if i % 3 == 0 else (a,)
        name = a.rsplit("/", 1)[-1].removesuffix(".py")
        commits.append(
            Commit(f"{i:040x}", 1_000_000 - i, f"fix {name} handling (#{i})\n\nin {a}", files)
        )
    return tuple(commits)


def test_too_little_history_keeps_the_default():
    calibration = calibrate_threshold(RepoSnapshot(FILES, history=history(10)), MERGEABLE)
    assert calibration.threshold == CONFLICT_THRESHOLD
    assert "too little history" in calibration.reason


def test_calibration_keeps_the_target_share_of_overlapping_pairs_apart():
    calibration = calibrate_threshold(RepoSnapshot(FILES, history=history(200)), MERGEABLE)
    assert calibration.related >= 8
    assert calibration.recall >= 0.9
    assert FLOOR <= calibration.threshold <= 0.5
    assert "calibrated on 72 recent changes" in calibration.reason


def test_a_lower_target_never_lowers_the_threshold():
    snapshot = RepoSnapshot(FILES, history=history(200))
    strict = calibrate_threshold(snapshot, MERGEABLE, target_recall=0.95)
    loose = calibrate_threshold(snapshot, MERGEABLE, target_recall=0.5)
    assert loose.threshold >= strict.threshold


def test_each_block_is_predicted_only_from_the_history_before_it(monkeypatch):
    """No replayed change may see itself (or anything newer) in the history it is predicted
    from: that would make the replay look better than any real plan can be."""
    seen: list[tuple[list[str], list[str]]] = []
    real = calibrate.predict_footprints

    def spy(tasks, snapshot):
        tasks = list(tasks)
        seen.append(([t.title for t in tasks], [c.message for c in snapshot.history]))
        return real(tasks, snapshot)

    monkeypatch.setattr(calibrate, "predict_footprints", spy)
    past = history(200)
    calibrate_threshold(RepoSnapshot(FILES, history=past), MERGEABLE)
    assert len(seen) == calibrate.BLOCKS
    position = {commit.message.split("\n")[0]: index for index, commit in enumerate(past)}
    for titles, used in seen:
        assert len(titles) == calibrate.BLOCK
        oldest_replayed = max(position[title] for title in titles)
        assert min(position[m.split("\n")[0]] for m in used) == oldest_replayed + 1
