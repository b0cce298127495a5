"""helpers.evidence: intervals, verdicts, the shipped ledger, experiments marked with their claims, and claims cited by
the notebooks that show them."""

from __future__ import annotations

import inspect
import json
import re

import nbformat
import pytest

from benchmarks.claims import table
from conftest import ROOT
from helpers.evidence.claims import (
    CLAIMS,
    LEDGER,
    Claim,
    Measurement,
    compare,
    confidence_interval,
    format_effect,
    ledger,
    measures,
    summarise,
)
from helpers.evidence.experiments import EXPERIMENTS, measuring

CITE = re.compile(r"""compare\(\s*["']([\w-]+)["']""")


def test_the_interval_is_students_t_over_seeds():
    mean, (low, high) = confidence_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and (low, high) == pytest.approx((2 - 2.4841, 2 + 2.4841), abs=1e-3)  # t(0.975, 2) = 4.303
    with pytest.raises(ValueError, match="at least two seeds"):
        confidence_interval([0.1])


def test_a_claim_holds_only_when_its_interval_excludes_zero_on_the_claimed_side():
    claim = Claim("x", "01_x", "It helps.", "gain")
    assert summarise(claim, [0.02, 0.03, 0.025], 500)["holds"]
    assert not summarise(claim, [0.02, -0.01, 0.03], 500)["holds"]  # the interval reaches zero
    assert not summarise(claim, [-0.02, -0.03, -0.025], 500)["holds"]  # clearly the other way


def test_a_claim_of_as_good_as_holds_while_its_interval_stays_above_minus_its_margin():
    claim = Claim("x", "01_x", "As good as.", "gain", margin=0.01)
    row = summarise(claim, [-0.004, 0.002, -0.002, 0.001], 500)
    assert row["holds"] and row["margin"] == 0.01 and row["ci95"][0] < 0
    assert "holds (as good as: the interval stays above -1.0 points)" in compare("x", 0.0, rows={"x": row})
    worse = summarise(claim, [-0.03, -0.01, -0.02], 500)
    assert not worse["holds"]
    assert "does NOT hold: the interval reaches -1.0 points" in compare("x", 0.0, rows={"x": worse})


def test_compare_prints_the_live_run_next_to_the_ledger():
    rows = {"x": summarise(Claim("x", "01_x", "It helps.", "gain"), [0.02, 0.03, 0.025], 500)}
    line = compare("x", 0.031, rows=rows)
    assert line.startswith("[x] this run: +3.1 points; over 3 seeds: +2.5 points (95% CI") and line.endswith("holds")
    with pytest.raises(KeyError, match="no claim 'y'"):
        compare("y", 0.0, rows=rows)
    assert format_effect(-0.1234, "loss") == "-0.123 loss"
    assert "yes" in table(list(rows.values()))


def test_every_claim_is_measured_by_exactly_one_experiment_that_returns_a_typed_result():
    for claim in CLAIMS.values():
        experiment = measuring(claim.id)
        signature = inspect.signature(experiment)
        assert list(signature.parameters)[0] == "seed", claim.id
        assert issubclass(inspect.get_annotations(experiment, eval_str=True)["return"], Measurement), claim.id
        assert f'"{claim.id}"' in inspect.getsource(experiment), f"{experiment.__name__} does not return {claim.id!r}"
        assert claim.claim.endswith(".") and claim.unit in ("points", "loss", "s", "%"), claim.id
        assert claim.short and len(claim.short) <= 48, f"{claim.id}: a short form of at most 48 characters"
    measured = [claim_id for experiment in EXPERIMENTS.values() for claim_id in experiment.claims]
    assert sorted(measured) == sorted(CLAIMS), "an experiment measures a claim twice, or a claim is not measured"


def test_an_experiment_marked_with_an_unknown_claim_fails_when_its_module_loads():
    with pytest.raises(ValueError, match="unknown claim ids \\['step-bak'\\]"):
        measures("step-bak")
    with pytest.raises(KeyError, match="0 experiments measure 'x'"):
        measuring("x")


def test_the_shipped_ledger_is_the_benchmark_output_and_covers_every_claim():
    docs = ROOT / "docs" / "benchmarks" / "claims.json"
    assert LEDGER.read_text() == docs.read_text(), "helpers/evidence/ledger.json differs: run make bench-claims"
    rows = ledger()
    assert sorted(rows) == sorted(CLAIMS), "claims without a ledger row (or rows without a claim): make bench-claims"
    for claim_id, row in rows.items():
        assert row["seeds"] >= max(5, CLAIMS[claim_id].seeds) and row["n_test"] >= 200, claim_id
        assert row["claim"] == CLAIMS[claim_id].claim, f"{claim_id}: the ledger measured other words"
        low, high = row["ci95"]
        assert low <= row["effect"] <= high and row["holds"] == (low > -row.get("margin", 0))


def _cited() -> dict[str, set[str]]:
    cited = {}
    for path in sorted((ROOT / "lectures").glob("*.ipynb")):
        source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        cited[path.stem] = set(CITE.findall(source))
    return cited


def test_every_claim_is_shown_by_its_lecture_and_every_cited_claim_exists():
    cited = _cited()
    for claim in CLAIMS.values():
        assert claim.id in cited.get(claim.lecture, set()), f"{claim.lecture}.ipynb does not show {claim.id!r}"
    unknown = {(lecture, i) for lecture, ids in cited.items() for i in ids if i not in CLAIMS}
    assert not unknown, f"notebooks cite claims that do not exist: {sorted(unknown)}"


def test_the_ledger_file_is_plain_json_rows():
    rows = json.loads(LEDGER.read_text())
    assert isinstance(rows, list) and all({"id", "effect", "ci95", "holds"} <= set(r) for r in rows)


def test_rewording_a_claim_reads_its_kept_seeds_again_under_its_new_margin(tmp_path, monkeypatch):
    from benchmarks import claims as bench

    monkeypatch.setattr(bench, "measure", lambda *args: pytest.fail("--reword must not run an experiment"))
    claim = Claim("as-good", "05_x", "As good as.", "gain", seeds=3, margin=0.02)
    monkeypatch.setitem(CLAIMS, "as-good", claim)
    out = tmp_path / "claims.json"
    kept = summarise(Claim("as-good", "05_x", "Better.", "gain", margin=0.01), [-0.01, -0.005, -0.012, 0.0], 500, [4.0])
    assert not kept["holds"]
    out.write_text(json.dumps([kept]))
    assert bench.main(["--reword", "as-good", "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row["claim"] == "As good as." and row["margin"] == 0.02 and row["holds"]
    assert row["effect_per_seed"] == kept["effect_per_seed"] and row["seconds_per_seed"] == 4.0
    monkeypatch.setitem(CLAIMS, "as-good", Claim("as-good", "05_x", "As good as.", "gain", seeds=8, margin=0.02))
    with pytest.raises(SystemExit, match="asks for 8 seeds, its row has 4"):
        bench.main(["--reword", "as-good", "--out", str(out)])
