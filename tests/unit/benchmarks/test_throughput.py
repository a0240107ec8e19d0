"""The benchmark's CPU comparison of an end-to-end run with its processing limit."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks.throughput import cpu_against_limit, main, report


def test_groups_workers_services_and_benchmark_against_the_limit_mean() -> None:
    e2e = {
        "kafka": 0.2, "elasticsearch": 1.0, "prefect": 0.1, "corenlp": 5.5,
        "clean-0": 0.5, "dedup-0": 0.5, "entities-0": 1.2, "entities-1": 1.1, "index-0": 0.2,
        "monitor": 0.05, "publisher": 0.1,
    }
    limits = [
        {"kafka": 0.05, "corenlp": 5.0, "prefect": 0.1, "elasticsearch": 0.0,
         "stage clean": 0.3, "stage dedup": 0.3, "stage entities": 2.0, "stage index": 0.2},
        {"kafka": 0.05, "corenlp": 6.0, "prefect": 0.1, "elasticsearch": 0.0,
         "stage clean": 0.4, "stage dedup": 0.3, "stage entities": 2.2, "stage index": 0.2},
    ]
    # 1,000 articles: seconds become milliseconds per article one to one.
    got = cpu_against_limit(e2e, limits, 1000)
    assert got["CoreNLP"] == pytest.approx((5.5, 5.5))
    assert got["workers"] == pytest.approx((3.5, 2.95))
    assert got["services"] == pytest.approx((1.3, 0.15))
    assert got["benchmark"] == pytest.approx((0.15, 0.0))
    assert got["total"] == pytest.approx((10.45, 8.6))


def test_entities_off_has_no_model_server_row() -> None:
    got = cpu_against_limit({"kafka": 0.1, "clean-0": 0.4}, [{"stage clean": 0.3}], 1000)
    assert "CoreNLP" not in got
    assert got["total"] == pytest.approx((0.5, 0.3))


def _old_results(**extra: object) -> dict[str, object]:
    end_to_end = {
        "articles": 1000, "rate": 170.0, "stage_rates": {"clean": 900.0},
        "peak_rss_mib": {"clean-0": 200.0}, "cpu_seconds": {"corenlp": 5.5, "clean-0": 0.5},
    }
    return {"entities on": {
        "end_to_end": end_to_end, "processing_limit": 200.0, "processing_limit_runs": [200.0],
        "indexing_limit": 3000.0, "naive_baseline": 50.0, "ratio_to_slower_limit": 0.85,
        "ratio_to_naive": 3.4, **extra,
    }}


def test_report_of_an_earlier_results_json_adds_the_comparison() -> None:
    limit_cpu = [{"corenlp": 5.0, "stage clean": 0.3}]
    lines = report(_old_results(processing_limit_cpu_seconds=limit_cpu))
    assert lines[2] == "| entities on | 170.0 | 200.0 (200.0) | 3000.0 | 50.0 | 0.85 | 3.4 | 200 |"
    assert lines[3].endswith(
        "end to end against the limit: CoreNLP 5.50 vs 5.00, workers 0.50 vs 0.30, "
        "total 6.00 vs 5.30"
    )


def test_report_leaves_out_what_a_results_json_lacks() -> None:
    (detail,) = report(_old_results())[3:]
    assert detail == (
        "\nentities on: stage rates /s clean 900.0; peak RSS MiB clean-0 200; "
        "CPU ms per article corenlp 5.50, clean-0 0.50"
    )


def test_report_of_a_folder_without_results_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["throughput.py", "--report", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    assert f"no results.json in {tmp_path}" in capsys.readouterr().err
