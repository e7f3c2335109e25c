"""The autoscaling benchmark's arithmetic: throughput per replica count, time to scale."""

from __future__ import annotations

from bench.load.autoscale import Report, Sample


def test_report_reads_scale_up_and_down_from_the_samples() -> None:
    report = Report(concurrency=16, llm_latency_s=0.25)
    report.samples = [
        Sample(1.0, "load", 1, 1, 10.0),
        Sample(2.0, "load", 1, 1, 12.0),
        Sample(3.0, "load", 1, 4, 11.0),  # heading for 4: not a steady second at 1
        Sample(4.0, "load", 4, 4, 50.0),
        Sample(5.0, "load", 4, 4, 54.0),
        Sample(6.0, "idle", 4, 4, 0.0),
        Sample(9.0, "idle", 1, 1, 0.0),
    ]
    summary = report.summary()
    assert summary["peak_replicas"] == 4
    assert summary["calls_per_s_at_1_replica"] == 11.0
    assert summary["calls_per_s_at_4_replicas"] == 52.0
    assert summary["s_to_peak"] == 4.0
    assert summary["s_from_stop_to_1_replica"] == 4.0  # the last load second was 5.0
