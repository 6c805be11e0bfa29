"""Each footprint source on a small, hand-made repository snapshot."""

from __future__ import annotations

from bot.analysis import RepoSnapshot, predict_footprint
from bot.analysis.history import Commit
from bot.analysis.symbols import extract_symbols
from bot.models import Task

FILES = (
    "src/shop/__init__.py",
    "src/shop/cart.py",
    "src/shop/billing/invoice.py",
    "src/shop/views.py",
    "tests/test_cart.py",
    "tests/test_invoice.py",
    "docs/cart.rst",
    "docs/api/views.py",
    "CHANGES.rst",
    "requirements/dev.txt",
    "requirements/tests.txt",
)
SOURCES = {
    "src/shop/__init__.py": "from .cart import Cart\n",
    "src/shop/cart.py": (
        '"""The shopping cart."""\nclass Cart:\n    def add_item(self): ...\n'
        "    def total(self): ...\ndef empty_cart(): ...\n"
    ),
    "src/shop/billing/invoice.py": '"""Invoices and receipts."""\nclass InvoiceBuilder: ...\n',
    "src/shop/views.py": "def render_checkout_page(): ...\n",
}


def _history() -> tuple[Commit, ...]:
    commits = []
    for n in range(6):
        commits.append(
            Commit(f"a{n}", 1000 - n, "bump dev requirements", ("requirements/dev.txt",))
        )
        commits.append(
            Commit(
                f"b{n}",
                900 - n,
                "cart rounding",
                ("src/shop/cart.py", "docs/cart.rst", "CHANGES.rst"),
            )
        )
    return tuple(commits)


def snapshot(history: tuple[Commit, ...] = ()) -> RepoSnapshot:
    symbols = {path: extract_symbols(path, source) for path, source in SOURCES.items()}
    return RepoSnapshot(files=FILES, symbols=symbols, history=history)


def predict(title: str, body: str = "", files: tuple[str, ...] = (), history: bool = False):
    task = Task(id="1", slug="t", title=title, body=body, files=files)
    return predict_footprint(task, snapshot(_history() if history else ()))


def test_snapshot_with_files_only_still_works():
    footprint = predict_footprint(
        Task(id="1", slug="t", title="edit src/shop/cart.py"), RepoSnapshot(files=FILES)
    )
    assert "src/shop/cart.py" in footprint.files


def test_explicit_files_are_authoritative_and_certain():
    footprint = predict("Refactor the cart", files=("src/shop/views.py", "docs/*.rst"))
    assert set(footprint.files) == {"src/shop/views.py", "docs/cart.rst"}
    assert footprint.confidence["src/shop/views.py"] == 1.0
    assert "listed in files:" in footprint.reasons["src/shop/views.py"]


def test_exact_path_mention():
    footprint = predict("Fix rounding in src/shop/cart.py")
    assert footprint.confidence["src/shop/cart.py"] >= 0.9
    assert "exact" in footprint.reasons["src/shop/cart.py"]


def test_a_file_whose_name_starts_with_a_dot_is_found_when_mentioned():
    files = (*FILES, ".pre-commit-config.yaml", ".github/workflows/tests.yaml")
    task = Task(
        id="1",
        slug="t",
        title="Pin the hooks in .pre-commit-config.yaml.",
        body="Run them in .github/workflows/tests.yaml too; a new .editorconfig.toml as well.",
    )
    footprint = predict_footprint(task, RepoSnapshot(files=files))
    # exact, the sentence's full stop aside
    assert (
        "mentioned as '.pre-commit-config.yaml' (exact)"
        in footprint.reasons[".pre-commit-config.yaml"]
    )
    assert "(exact)" in footprint.reasons[".github/workflows/tests.yaml"]
    assert ".editorconfig.toml" in footprint.files  # a new file, named with its dot


def test_new_file_mention_is_predicted_with_lower_confidence():
    footprint = predict("Add src/shop/coupons.py")
    assert footprint.confidence["src/shop/coupons.py"] == 0.6
    assert "new file" in footprint.reasons["src/shop/coupons.py"]


def test_a_new_file_at_the_top_is_one_that_ends_in_a_file_extension():
    footprint = predict("Switch to pyproject.toml")
    assert footprint.confidence["pyproject.toml"] == 0.6
    assert "new file" in footprint.reasons["pyproject.toml"]
    assert not any("new file" in reason for reason in predict("Use shop.cart").reasons.values())
    assert "views.py" not in predict("Tidy views.py").files  # two exist: one of them, not new


def test_a_word_naming_a_kind_of_file_finds_the_files_of_that_kind():
    footprint = predict("Reflow the rst")
    assert {"docs/cart.rst", "CHANGES.rst"} <= set(footprint.files)
    assert "code search" in footprint.reasons["docs/cart.rst"]


def test_a_task_of_common_words_only_still_finds_the_past_changes_like_it():
    """'version' is in a third of the messages: too common to count beside rarer words, but
    the only word "Version 2.0" has."""
    releases = [
        Commit(f"r{n}", 500 - n, f"Version 1.{n}", ("src/shop/__init__.py",)) for n in range(20)
    ]
    history = _history() * 4 + tuple(releases)
    task = Task(id="1", slug="t", title="Version 2.0")
    footprint = predict_footprint(task, snapshot(history))
    assert "similar past change" in footprint.reasons["src/shop/__init__.py"]


def test_ambiguous_basename_is_settled_by_other_evidence():
    footprint = predict("Speed up views.py: render_checkout_page() is slow")
    assert footprint.confidence["src/shop/views.py"] > footprint.confidence.get(
        "docs/api/views.py", 0.0
    )
    assert "best supported" in footprint.reasons["src/shop/views.py"]


def test_ambiguous_basename_alone_is_shared():
    footprint = predict("Tidy views.py")
    assert {"src/shop/views.py", "docs/api/views.py"} <= set(footprint.files)
    assert "one of 2 files" in footprint.reasons["docs/api/views.py"]


def test_dotted_module_class_and_method_resolve_through_the_symbol_index():
    assert "src/shop/billing/invoice.py" in predict("Change shop.billing.invoice").files
    assert "src/shop/billing/invoice.py" in predict("InvoiceBuilder drops VAT").files
    footprint = predict("Cart.add_item should merge lines")
    assert "method" in footprint.reasons["src/shop/cart.py"]
    assert "src/shop/cart.py" in predict("calling empty_cart() twice fails").files


def test_test_files_of_touched_modules_are_companions():
    footprint = predict("Cart.add_item should merge lines")
    assert "tests/test_cart.py" in footprint.files
    assert "tests src/shop/cart.py" in footprint.reasons["tests/test_cart.py"]


def test_cochange_companions_come_from_history():
    footprint = predict("Cart.total ignores discounts", history=True)
    assert "docs/cart.rst" in footprint.files
    assert "changed with src/shop/cart.py" in footprint.reasons["docs/cart.rst"]


def test_what_changes_with_a_file_past_changes_like_the_task_touched_is_theirs_to_say():
    """A bot's update, like six past ones that changed only the hooks' config: the files that
    change with that config in other commits do not come along (the six did not bring them)."""
    hooks = [Commit(f"h{n}", 500 - n, "autoupdate hooks", (".hooks.yaml",)) for n in range(6)]
    pins = [
        Commit(f"p{n}", 400 - n, "pin linters", (".hooks.yaml", "requirements/dev.txt"))
        for n in range(6)
    ]
    files = (*FILES, ".hooks.yaml")
    history = RepoSnapshot(files=files, history=(*hooks, *pins))
    task = Task(id="1", slug="t", title="autoupdate hooks")
    footprint = predict_footprint(task, history)
    assert footprint.confidence[".hooks.yaml"] > 0.5
    assert footprint.confidence.get("requirements/dev.txt", 0.0) < 0.1
    # named in the task's own words, the config brings what changes with it
    named = Task(id="2", slug="t", title="tidy .hooks.yaml")
    footprint = predict_footprint(named, history)
    assert "changed with .hooks.yaml" in footprint.reasons["requirements/dev.txt"]


def test_code_matching_the_words_counts_less_when_past_changes_agree():
    task = Task(id="1", slug="t", title="reword the receipts")
    alone = predict_footprint(task, snapshot())
    assert alone.confidence["src/shop/billing/invoice.py"] >= 0.3  # "receipts": its docstring
    past = tuple(
        Commit(f"r{n}", 100 - n, "reword the receipts", ("docs/cart.rst",)) for n in range(6)
    )
    agreed = predict_footprint(task, snapshot(past))
    assert agreed.confidence["docs/cart.rst"] > 0.8
    assert agreed.confidence.get("src/shop/billing/invoice.py", 0.0) < 0.1


def test_similar_past_changes_vote_for_their_files():
    footprint = predict("Bump requirements", history=True)
    assert footprint.files[0] == "requirements/dev.txt" or "requirements/dev.txt" in footprint.files
    assert "similar past change" in footprint.reasons["requirements/dev.txt"]
    assert footprint.confidence["requirements/dev.txt"] > 0.5


def test_retrieval_over_code_finds_files_by_their_words():
    footprint = predict("Receipts should show the VAT number")
    assert "src/shop/billing/invoice.py" in footprint.files
    assert "code search" in footprint.reasons["src/shop/billing/invoice.py"]


def test_no_evidence_means_unknown():
    footprint = predict("Make it better")
    assert footprint.unknown
    assert footprint.files == ()


def test_confidences_are_probabilities_and_every_file_has_a_reason():
    footprint = predict("Cart.add_item should merge lines in receipts", history=True)
    assert set(footprint.reasons) == set(footprint.files) == set(footprint.confidence)
    assert all(0.0 < c <= 1.0 for c in footprint.confidence.values())
