"""Monitoring FIT files (all-day heart rate and steps): decoded by both FIT libraries into one table,
16-bit timestamps completed, cumulative counters turned into per-interval deltas that restart at the
device's local midnight, hostile values refused with typed errors (also under mutation, hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from fuzzing import check, real_files
from monitoring_fit import Sample, build_monitoring_fit, day_across_midnight

from hexo_pipeline.decoders import DecodeError, convert_bytes
from hexo_pipeline.decoders import fit as fit_mod
from hexo_pipeline.decoders.fit import decode_fit
from hexo_pipeline.decoders.fit_monitoring import with_interval_deltas
from hexo_pipeline.lake.contract import MONITORING_SCHEMA

START = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)  # 21:00 local (UTC-5): the file crosses local midnight
OFFSET = -5 * 3600


def monitoring_file(**kw) -> bytes:
    return build_monitoring_fit(day_across_midnight(START, **kw), utc_offset_s=OFFSET, start=START)


def fitdecode_only(monkeypatch) -> None:
    def refuse(_data):
        raise RuntimeError("fitparse disabled for this test")

    monkeypatch.setattr(fit_mod, "_collect_fitparse", refuse)


@pytest.mark.parametrize("decoder", ["fitparse", "fitdecode"])
def test_monitoring_file_is_decoded_not_rejected(decoder: str, monkeypatch) -> None:
    if decoder == "fitdecode":
        fitdecode_only(monkeypatch)
    result = decode_fit(monitoring_file(), source="m")
    assert result.decoder == decoder and result.file_type == "monitoring_b"
    assert result.activities.num_rows == result.trackpoints.num_rows == 0
    mon = result.monitoring
    assert mon.schema.equals(MONITORING_SCHEMA)
    hr = mon.filter(pc.is_valid(mon["heart_rate_bpm"]))
    assert hr.num_rows == 4 * 60  # one per minute, every 16-bit timestamp completed
    expected = [START + timedelta(minutes=m) for m in range(1, 241)]
    assert hr["timestamp"].to_pylist() == expected
    assert hr["heart_rate_bpm"].to_pylist() == [55 + m % 40 for m in range(1, 241)]
    assert set(mon["utc_offset_s"].to_pylist()) == {OFFSET}
    running = mon.filter(pc.equal(mon["activity_type"], "running"))
    assert running.num_rows == 8 and set(running["intensity"].to_pylist()) == {3.0}


def test_both_decoders_give_the_same_table(monkeypatch) -> None:
    data = monitoring_file()
    first = decode_fit(data, source="m").monitoring
    fitdecode_only(monkeypatch)
    assert decode_fit(data, source="m").monitoring.equals(first)


def test_cumulative_counters_become_interval_deltas_that_restart_at_local_midnight() -> None:
    samples = day_across_midnight(START)
    mon = decode_fit(build_monitoring_fit(samples, utc_offset_s=OFFSET, start=START), source="m").monitoring
    for kind in ("walking", "running"):
        rows = mon.filter(pc.equal(mon["activity_type"], kind)).to_pylist()
        sent = [s for s in samples if s.activity_type == kind]
        assert [r["steps_cumulative"] for r in rows] == [s.cumulative for s in sent]
        previous, increments = {}, []
        for s in sent:  # what the device counted in each interval
            day = (s.at + timedelta(seconds=OFFSET)).date()
            increments.append(s.cumulative - previous.get(day, 0))
            previous[day] = s.cumulative
        assert [r["steps"] for r in rows] == increments
        # the counters restarted at local midnight, and each local day sums to its last counter value
        by_day: dict = {}
        for r in rows:
            by_day.setdefault((r["timestamp"] + timedelta(seconds=OFFSET)).date(), []).append(r)
        assert len(by_day) == 2
        for day_rows in by_day.values():
            assert sum(r["steps"] for r in day_rows) == day_rows[-1]["steps_cumulative"]
    assert mon.filter(pc.is_valid(mon["cycles"])).num_rows == 0


def test_other_activity_types_count_cycles_and_a_device_reset_restarts_the_count() -> None:
    t0 = START
    samples = [
        Sample(t0 + timedelta(minutes=1), "cycling", 10.5),
        Sample(t0 + timedelta(minutes=2), "cycling", 30.0),
        Sample(t0 + timedelta(minutes=3), "cycling", 4.0),  # lower inside the day: the device restarted
        Sample(t0 + timedelta(minutes=4), "cycling", 4.0),  # the same value again: nothing new
    ]
    mon = decode_fit(build_monitoring_fit(samples, utc_offset_s=0, start=t0), source="m").monitoring
    assert mon["cycles_cumulative"].to_pylist() == [10.5, 30.0, 4.0, 4.0]
    assert mon["cycles"].to_pylist() == [10.5, 19.5, 4.0, 0.0]
    assert mon["steps"].null_count == 4


def test_without_a_device_offset_the_local_day_comes_from_the_study_zone() -> None:
    """22:00 local 5,000 steps, then 01:00 local the next day 8,000 steps: a new day's count (8,000),
    though the counter grew; both instants fall on the same UTC day."""
    first = datetime(2026, 3, 15, 3, 0, tzinfo=UTC)  # 22:00 on the 14th in Chicago (UTC-5)
    samples = [Sample(first, "walking", 5000), Sample(first + timedelta(hours=3), "walking", 8000)]
    mon = decode_fit(build_monitoring_fit(samples, utc_offset_s=None, start=first), source="m").monitoring
    assert mon["utc_offset_s"].null_count == 2
    assert with_interval_deltas(mon, "America/Chicago")["steps"].to_pylist() == [5000, 8000]
    assert with_interval_deltas(mon, "UTC")["steps"].to_pylist() == [5000, 3000]
    with_offset = build_monitoring_fit(samples, utc_offset_s=-5 * 3600, start=first)
    assert decode_fit(with_offset, source="m").monitoring["steps"].to_pylist() == [5000, 8000]  # the device's own


def test_sixteen_bit_timestamps_roll_over() -> None:
    """More than 65,536 s (18.2 h) of heart-rate messages after one full timestamp."""
    samples = [Sample(START + timedelta(minutes=10 * k), heart_rate=60) for k in range(1, 20 * 6)]
    mon = decode_fit(build_monitoring_fit(samples, utc_offset_s=0, start=START), source="m").monitoring
    assert mon["timestamp"].to_pylist() == [s.at for s in samples]


def test_deltas_are_recomputed_over_rows_of_several_files_in_any_order() -> None:
    mon = decode_fit(monitoring_file(), source="m").monitoring
    cut = mon.num_rows // 2
    later_first = with_interval_deltas(pa.concat_tables([mon.slice(cut), mon.slice(0, cut)]), "UTC")
    keys = [("timestamp", "ascending"), ("activity_type", "ascending")]
    assert later_first.sort_by(keys).equals(mon.sort_by(keys))
    # a stretch seen twice (overlapping files) adds nothing
    doubled = with_interval_deltas(pa.concat_tables([mon, mon.slice(0, 50)]), "UTC")
    assert pc.sum(doubled["steps"]).as_py() == pc.sum(mon["steps"]).as_py()


def test_a_monitoring_file_without_values_is_no_data() -> None:
    from fit_tool.profile.messages.monitoring_message import MonitoringMessage

    data = build_monitoring_fit([], utc_offset_s=0, start=START)
    with pytest.raises(DecodeError) as err:
        decode_fit(data, source="m")
    assert err.value.code == "no_data"
    assert MonitoringMessage  # the library that built it knows the message


def test_implausible_counter_is_refused() -> None:
    data = build_monitoring_fit([Sample(START, "walking", 4_000_000_000)], utc_offset_s=0, start=START)
    with pytest.raises(DecodeError) as err:
        decode_fit(data, source="m")
    assert err.value.code == "implausible_value" and "steps_cumulative" in err.value.reason


def test_convert_bytes_carries_the_monitoring_table() -> None:
    c = convert_bytes(monitoring_file())
    assert c.monitoring.num_rows > 0 and c.extra["file_type"] == "monitoring_b"
    assert c.monitoring["source"][0].as_py() == c.source.sha256


def test_the_fuzz_entry_covers_monitoring_files() -> None:
    """tests/test_fuzz_decoders.py mutates these seeds (entry fit_monitoring, hypothesis, bounded) and
    `make fuzz` does at length: unmutated, they decode."""
    for data in real_files("fit_monitoring"):
        assert check("fit_monitoring", data) == "ok" and check("convert", data) == "ok"
