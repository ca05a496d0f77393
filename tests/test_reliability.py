"""The quick subset of the reliability suite (`make reliability` runs it all): the fault
matrix once, 20 aborts of each kind, the hand-written bad input, the secrets and sink check,
a 20-second soak, limits on one process and the data-loss runs on SQLite. Every promise it
checks must hold."""

from __future__ import annotations

from pathlib import Path

from reliability.run import QUICK, run_suite, write_report


def test_the_quick_reliability_suite_breaks_no_promise(tmp_path: Path) -> None:
    found = run_suite(QUICK, tmp_path / "work")
    write_report(QUICK, found, 0.0, tmp_path / "docs")
    broken = [f"{f.name}: {failure}" for f in found for failure in f.failures]
    assert broken == []
    parts = {f.name: f.figures for f in found}
    assert set(parts) == {
        "faults", "cancellation", "bad input", "secrets and reach", "soak", "limits", "data loss"
    }  # fmt: skip
    assert parts["faults"]["cases"] == 66 and parts["faults"]["retries after the first byte"] == 0
    assert all(
        kind["upstream closed"] == "20 (100%)"
        for name, kind in parts["cancellation"].items()
        if name != "(seconds)"
    )
    assert parts["data loss"]["SIGKILL under load"]["lost"] == 0
    assert "Broken promises: none." in (tmp_path / "docs" / "reliability.md").read_text()
