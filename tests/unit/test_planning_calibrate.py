from collections import Counter

from bot.analysis import RepoSnapshot
from bot.analysis.history import Commit, PastPair, nearby_pairs
from bot.models import Footprint
from bot.planning import calibrate
from bot.planning.calibrate import calibrate as calibrate_rates
from bot.planning.changelogs import MERGEABLE
from bot.planning.risk import DEFAULT_RATE, PRIOR_PAIRS, ConflictRates, conflict_rates, pair_risk

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


def labelled(past: tuple[Commit, ...], hot: str) -> list[PastPair]:
    """Every nearby pair that shares a file, conflicting exactly when it shares `hot`."""
    pairs = []
    for newer, older, shared in nearby_pairs(past, 10_000):
        conflicts = (hot,) if hot in shared else ()
        pairs.append(PastPair(past[newer].sha, past[older].sha, shared, conflicts))
    return pairs


def pair(shared, conflicts, newer="n", older="o"):
    return PastPair(newer, older, tuple(shared), conflicts)


def test_rates_come_from_real_conflicts_shrunk_towards_the_prior():
    pairs = [pair(["a.py"], ("a.py",)) for _ in range(6)]
    pairs += [pair(["b.py"], ()) for _ in range(30)]
    pairs += [pair(["c.py"], None), pair(["CHANGES.rst"], ("CHANGES.rst",))]  # say nothing
    rates = conflict_rates(pairs, MERGEABLE)
    assert (rates.pairs, rates.conflicts) == (36, 6)
    assert rates.base == (6 + PRIOR_PAIRS * DEFAULT_RATE) / (36 + PRIOR_PAIRS)
    assert rates.of("a.py") > 0.5 > rates.base > rates.of("b.py")
    assert rates.of("never-shared.py") == rates.base
    assert "6 of 36 nearby pairs of past changes that shared a file conflicted" in rates.summary
    empty = conflict_rates([], MERGEABLE)
    assert empty.base == DEFAULT_RATE and "no past pairs" in empty.summary


def test_the_risk_of_a_conflict_is_the_chance_of_sharing_times_the_files_rate():
    rates = ConflictRates(base=0.2, by_file={"hot.py": 0.8})
    sure, half = (
        Footprint(files=("hot.py", "x.py")),
        Footprint(files=("hot.py", "x.py"), confidence={"hot.py": 0.5, "x.py": 0.5}),
    )
    both = pair_risk(sure, sure, ["hot.py"], rates)
    assert (both.share, both.conflict, both.top) == (1.0, 0.8, "hot.py")
    risk = pair_risk(sure, half, ["hot.py", "x.py"], rates)
    assert risk.share == 0.75  # 1 - 0.5 * 0.5
    assert risk.conflict == 0.75 * (0.5 * 0.8 + 0.5 * 0.2) / 1.0


def test_nearby_pairs_share_a_file_sit_close_together_and_have_parents():
    past = history(40)
    found = nearby_pairs(past, 10_000)
    assert found and all(0 < older - newer <= 5 for newer, older, _ in found)
    assert all(older + 1 < len(past) for _, older, _ in found)
    for newer, older, shared in found:
        assert set(shared) == set(past[newer].files) & set(past[older].files)
    assert len(nearby_pairs(past, 3)) == 3


def test_too_little_history_still_gives_rates_and_the_threshold():
    past = history(10)
    calibration = calibrate_rates(RepoSnapshot(FILES, history=past), [], MERGEABLE, 0.25, "why")
    assert calibration.threshold == 0.25 and calibration.related == 0
    assert calibration.reason.startswith("why; no past pairs")


def test_the_replay_reports_what_the_threshold_does_on_the_repositorys_past():
    past = history(200)
    snapshot = RepoSnapshot(FILES, history=past)
    shared = Counter(f for _, _, files in nearby_pairs(past, 10_000) for f in files)
    (hot, _), *_, (cold, _) = shared.most_common()
    pairs = labelled(past, hot)
    calibration = calibrate_rates(snapshot, pairs, MERGEABLE, 0.25, "why")
    assert calibration.replayed == 72 and calibration.related >= 8
    assert calibration.rates.of(hot) > calibration.rates.base > calibration.rates.of(cold)
    assert 0.0 <= calibration.recall <= 1.0 and 0.0 <= calibration.parallel <= 1.0
    assert f"keeps {calibration.recall:.0%} of {calibration.related} real conflicts" in (
        calibration.reason
    )
    # keeping everything apart keeps every real conflict apart
    assert calibrate_rates(snapshot, pairs, MERGEABLE, 1e-9).recall == 1.0


def test_each_block_is_predicted_only_from_the_past_before_it(monkeypatch):
    """No replayed change may see itself (or anything newer) in the history it is predicted
    from, nor its own pairs in the rates: that would make the replay look better than any real
    plan can be."""
    seen: list[tuple[list[str], list[str]]] = []
    rated: list[set[str]] = []
    real_predict, real_rates = calibrate.predict_footprints, calibrate.conflict_rates

    def spy(tasks, snapshot):
        tasks = list(tasks)
        seen.append(([t.title for t in tasks], [c.message for c in snapshot.history]))
        return real_predict(tasks, snapshot)

    def spy_rates(pairs, mergeable):
        pairs = list(pairs)
        rated.append({sha for p in pairs for sha in (p.newer, p.older)})
        return real_rates(pairs, mergeable)

    monkeypatch.setattr(calibrate, "predict_footprints", spy)
    monkeypatch.setattr(calibrate, "conflict_rates", spy_rates)
    past = history(200)
    pairs = labelled(past, FILES[1])
    calibrate_rates(RepoSnapshot(FILES, history=past), pairs, MERGEABLE, 0.2)
    assert len(seen) == calibrate.BLOCKS
    position = {commit.message.split("\n")[0]: index for index, commit in enumerate(past)}
    sha = {commit.message.split("\n")[0]: commit.sha for commit in past}
    for (titles, used), shas in zip(seen, rated[1:], strict=True):  # rated[0]: all the pairs
        assert len(titles) == calibrate.BLOCK
        oldest_replayed = max(position[title] for title in titles)
        assert min(position[m.split("\n")[0]] for m in used) == oldest_replayed + 1
        assert not {sha[title] for title in titles} & shas
