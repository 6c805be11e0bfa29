"""The chance that two tasks really conflict, and whether that is worth serializing them. Pure.

Sharing a file is not a conflict: git merges different hunks of one file cleanly. So a pair's
risk has two factors:

- P(share): the chance that both tasks touch one of the files both may touch, from their
  predicted footprints (files treated as independent: `1 - prod(1 - pa * pb)`);
- P(conflict | share): how often, in this repository's own history, two nearby changes that
  touched a common file really conflicted when git merged them side by side
  (`bot.snapshot.load_past_pairs` replays them with `git merge-tree`). Per file where the
  history says enough, shrunk towards the repository's rate where it says little, and towards
  `DEFAULT_RATE` where there is no history at all.

P(conflict) = P(share) x the rate of the files shared, weighted by how likely each is shared.

Where both tasks' texts point at lines of a shared file (`bot.analysis.regions`: `Bump black
from 22.8.0 ...` points at `black==22.8.0`), the file's rate gives way to what git does with
edits there: edits to the same or adjacent lines conflict (`ADJACENT_RATE`), edits lines apart
merge (`APART_RATE`, for the other edits a task may make in the file).

Tasks whose texts are alike (`bot.analysis.kinship`) tend to edit the same lines whatever
their footprints say: their likeness adds `TEXT_WEIGHT x likeness` as a second, independent
way to conflict (noisy-OR), so a pair may be kept apart on its texts alone. Texts that name
the same rare thing (`0.27.1`, `get_pager_file`) weigh at least `NAME_RATE`.

Serializing a pair costs the later task a wait (about one task's length); running it alongside
costs, when they do conflict, a redo: the later agent's run again, its time and its money,
`redo_cost` times that wait. So a pair is kept apart when `P(conflict) * redo_cost >= 1`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.analysis.history import PastPair
from bot.analysis.kinship import Kinship
from bot.analysis.regions import adjacent
from bot.models import Footprint, Rates
from bot.planning.changelogs import is_mergeable

DEFAULT_RATE = 0.3  # P(conflict | share) on flask, the tuning set: 0.27 (0.34 of replayable pairs)
PRIOR_PAIRS = 10.0  # the repository's rate counts as this many past pairs
FILE_PRIOR_PAIRS = 8.0  # a file's rate is shrunk towards the repository's with this weight
ADJACENT_RATE = 0.75  # P(conflict | share) when both texts point at the same or adjacent lines
APART_RATE = 0.05  # ... at lines apart (other edits). Both from flask: 11 of 15, 3 of 59 pairs
TEXT_WEIGHT = 0.8  # P(conflict) from texts alike, per unit of cosine: calibrated on flask
NAME_RATE = 0.85  # P(conflict) of texts naming one rare thing: flask, 11 of 13 labelled pairs
REDO_COST = 4.0  # a redo costs this many waits: serialize at P(conflict) >= 1 / REDO_COST
CONFLICT_THRESHOLD = 1.0 / REDO_COST


@dataclass(frozen=True)
class ConflictRates:
    """How often sharing a file led to a real conflict in this repository's history."""

    base: float = DEFAULT_RATE
    by_file: Mapping[str, float] = field(default_factory=dict)
    pairs: int = 0  # past pairs that shared a (non-changelog) file and could be replayed
    conflicts: int = 0  # of them, those that really conflicted
    seen: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # file -> (pairs, conflicts)

    def of(self, path: str) -> float:
        return self.by_file.get(path, self.base)

    def kept(self, paths: Iterable[str]) -> Rates:
        """The rates of `paths` (those the history speaks of), to keep with a plan."""
        by_file = {path: self.by_file[path] for path in sorted(set(paths)) if path in self.by_file}
        return Rates(base=self.base, by_file=by_file)

    @classmethod
    def kept_by(cls, rates: Rates | None) -> ConflictRates:
        """The rates a plan kept (the default where it kept none)."""
        return cls(rates.base, rates.by_file) if rates is not None else cls()

    @property
    def summary(self) -> str:
        if not self.pairs:
            return f"no past pairs to learn from: {self.base:.0%} assumed"
        return (
            f"{self.conflicts} of {self.pairs} nearby pairs of past changes that shared a file "
            f"conflicted ({self.base:.0%} with the prior)"
        )


def conflict_rates(
    pairs: Iterable[PastPair], changelog: Sequence[str] = (), prior: float = DEFAULT_RATE
) -> ConflictRates:
    """Rates from replayed past pairs; pairs git could not replay, and files matching
    `changelog` (merged as a union), say nothing."""
    shared_in: Counter[str] = Counter()
    conflicted_in: Counter[str] = Counter()
    total = conflicted = 0
    for pair in pairs:
        shared = [f for f in pair.shared if not is_mergeable(f, changelog)]
        if not shared or pair.conflicts is None:
            continue
        real = {f for f in pair.conflicts if not is_mergeable(f, changelog)}
        total += 1
        conflicted += bool(real)
        shared_in.update(shared)
        conflicted_in.update(f for f in shared if f in real)
    base = (conflicted + PRIOR_PAIRS * prior) / (total + PRIOR_PAIRS)
    by_file = {
        path: (conflicted_in[path] + FILE_PRIOR_PAIRS * base) / (count + FILE_PRIOR_PAIRS)
        for path, count in shared_in.items()
    }
    seen = {path: (count, conflicted_in[path]) for path, count in shared_in.items()}
    return ConflictRates(base, by_file, total, conflicted, seen)


@dataclass(frozen=True)
class PairRisk:
    share: float  # P(both touch one of the shared files)
    conflict: float  # P(they really conflict)
    top: str  # the shared file that adds most to the risk ("": they share none)
    alike: float = 0.0  # how alike their texts are (cosine)
    files_only: float = 0.0  # P(conflict) from the shared files alone
    lines: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())  # where both point, in `top`
    names: tuple[str, ...] = ()  # rare names both texts hold

    def with_texts(self, kin: Kinship) -> PairRisk:
        """The same pair once its texts count too: their likeness, the rare names both hold."""
        text = max(min(1.0, TEXT_WEIGHT * kin.likeness), NAME_RATE if kin.names else 0.0)
        conflict = 1.0 - (1.0 - self.conflict) * (1.0 - text)
        return PairRisk(
            self.share, conflict, self.top, kin.likeness, self.conflict, self.lines, kin.names
        )


def _rate(a: Footprint, b: Footprint, path: str, rates: ConflictRates) -> float:
    """P(conflict | both touch `path`): from the lines both texts point at, where they do."""
    here, there = a.lines.get(path), b.lines.get(path)
    if here and there:
        return ADJACENT_RATE if adjacent(here, there) else APART_RATE
    return rates.of(path)


def pair_risk(a: Footprint, b: Footprint, shared: Sequence[str], rates: ConflictRates) -> PairRisk:
    """P(share) and P(conflict) for two footprints over the files both may touch; `top` is
    the file that adds most to P(conflict)."""
    miss, weighted, weights = 1.0, 0.0, 0.0
    top, most = "", -1.0
    mine, theirs = a.confidence, b.confidence
    for path in shared:
        both = mine.get(path, 1.0) * theirs.get(path, 1.0)
        miss *= 1.0 - both
        adds = both * _rate(a, b, path, rates)
        if adds > most:  # the first of equals: `shared` is sorted
            top, most = path, adds
        weighted += adds
        weights += both
    share = 1.0 - miss
    rate = weighted / weights if weights else rates.base
    return PairRisk(share, share * rate, top, lines=(a.lines.get(top, ()), b.lines.get(top, ())))


def _lines(numbers: Sequence[int]) -> str:
    shown = ", ".join(map(str, numbers[:3]))
    return f"line{'s' if len(numbers) > 1 else ''} {shown}{'...' if len(numbers) > 3 else ''}"


def risk_percent(value: float) -> str:
    """A conflict risk in whole percents, rounded down: a risk just under a threshold of whole
    percents (24.9% under 25%) never reads as the threshold itself."""
    return f"{math.floor(value * 100 + 1e-9)}%"


def describe(risk: PairRisk, files: int) -> str:
    """`both may touch app.py (+2 more; 40% that both do): conflict risk 12%`; where both
    texts point at lines of it, `both touch requirements.txt, at line 21 and line 22
    (adjacent): ...`; when their texts count: `...: 12% from the files, texts alike (0.42):
    conflict risk 29%`, `...: 4% from the files, both name `0.27.1`: conflict risk 86%`."""
    more = f"+{files - 1} more" if files > 1 else ""
    if not risk.top:
        where = ""
    elif risk.share >= 0.999:
        where = f"both touch {risk.top}" + (f" ({more})" if more else "")
    else:
        likely = f"{risk.share:.0%} that both do"
        where = f"both may touch {risk.top} ({more + '; ' if more else ''}{likely})"
    here, there = risk.lines
    if here and here == there:
        where += f", both at {_lines(here)}"
    elif here and there:
        verdict = "adjacent" if adjacent(here, there) else "apart"
        where += f", at {_lines(here)} and {_lines(there)} ({verdict})"
    if risk.alike <= 0.0 and not risk.names:
        return f"{where}: conflict risk {risk_percent(risk.conflict)}"
    said = [f"texts alike ({risk.alike:.2f})"] if risk.alike > 0.0 else []
    if risk.names:
        said.append("both name " + ", ".join(f"`{name}`" for name in risk.names[:3]))
    texts = ", ".join(said)
    if where:
        texts = f"{where}: {risk.files_only:.0%} from the files, {texts}"
    return f"{texts}: conflict risk {risk_percent(risk.conflict)}"


def threshold_for(redo_cost: float) -> float:
    """The P(conflict) from which keeping a pair apart is cheaper than risking a redo."""
    return min(1.0, 1.0 / redo_cost)
