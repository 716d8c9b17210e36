"""Garmin-style monitoring FIT files for tests, written with fit-tool (a FIT SDK port on PyPI, already the
sandbox's FIT writer): no real monitoring file is among the shared real files.

The layout follows what Garmin devices write (FIT profile, message 55 `monitoring`): a `monitoring_info`
with the device's local time, then activity messages with a full `timestamp`, the activity type and the
type's CUMULATIVE counter (steps since local midnight for walking/running, cycles otherwise), and
heart-rate messages carrying only `timestamp_16` and `heart_rate`. Counters restart at local midnight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class Sample:
    at: datetime  # UTC
    activity_type: str | None = None  # "walking", "running", "cycling", "sedentary"; None: heart rate only
    cumulative: float | None = None  # the counter since local midnight (steps or cycles)
    heart_rate: int | None = None
    intensity: int | None = None  # 0..7, packed with the type in current_activity_type_intensity


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def build_monitoring_fit(samples: list[Sample], *, utc_offset_s: int | None, start: datetime) -> bytes:
    from fit_tool.fit_file_builder import FitFileBuilder
    from fit_tool.profile.messages.file_id_message import FileIdMessage
    from fit_tool.profile.messages.monitoring_info_message import MonitoringInfoMessage
    from fit_tool.profile.messages.monitoring_message import MonitoringMessage
    from fit_tool.profile.profile_type import ActivityType, FileType, Manufacturer

    builder = FitFileBuilder(auto_define=True)
    fid = FileIdMessage()
    fid.type, fid.manufacturer, fid.product, fid.serial_number = (
        FileType.MONITORING_B,
        Manufacturer.GARMIN.value,
        2697,
        3_999_000_001,
    )
    fid.time_created = _ms(start)
    builder.add(fid)
    info = MonitoringInfoMessage()
    info.timestamp = _ms(start)
    if utc_offset_s is not None:
        info.local_timestamp = int((start - FIT_EPOCH).total_seconds()) + utc_offset_s
    info.activity_type = [ActivityType.WALKING, ActivityType.RUNNING]
    builder.add(info)
    for s in samples:
        m = MonitoringMessage()
        if s.activity_type is None:  # a heart-rate message: 16-bit timestamp only, as devices write it
            m.timestamp_16 = int((s.at - FIT_EPOCH).total_seconds()) & 0xFFFF
        else:
            m.timestamp = _ms(s.at)
            kind = ActivityType[s.activity_type.upper()]
            if s.intensity is not None:
                m.current_activity_type_intensity = kind.value | (s.intensity << 5)
            else:
                m.activity_type = kind
            if s.cumulative is not None:
                if s.activity_type in ("walking", "running"):
                    if s.intensity is None:
                        m.steps = int(s.cumulative)
                    else:  # no activity_type field to select the subfield: raw cycles = 2 x cycles = steps
                        m.cycles = s.cumulative / 2
                else:
                    m.cycles = s.cumulative
        if s.heart_rate is not None:
            m.heart_rate = s.heart_rate
        builder.add(m)
    return builder.build_bytes()


def day_across_midnight(start: datetime, hours: int = 4) -> list[Sample]:
    """From `start` for `hours`: a heart rate every minute, walking every 15 min and running every 30 min
    with counters that grow and restart at local (UTC-5) midnight."""
    out: list[Sample] = []
    walk = run = 0
    local_day = (start - timedelta(hours=5)).date()
    for minute in range(1, hours * 60 + 1):
        at = start + timedelta(minutes=minute)
        if (at - timedelta(hours=5)).date() != local_day:  # local midnight: the device restarts counters
            local_day, walk, run = (at - timedelta(hours=5)).date(), 0, 0
        out.append(Sample(at, heart_rate=55 + minute % 40))
        if minute % 15 == 0:
            walk += 100 + minute % 7
            out.append(Sample(at, "walking", walk))
        if minute % 30 == 0:
            run += 50
            out.append(Sample(at, "running", run, intensity=3))
    return out


def monitoring_seeds() -> list[bytes]:
    """Fuzz seeds (tests/fuzzing.py): a file crossing local midnight with the device's offset, and one
    without monitoring_info's local time."""
    start = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)
    return [
        build_monitoring_fit(day_across_midnight(start, 2), utc_offset_s=-5 * 3600, start=start),
        build_monitoring_fit(day_across_midnight(start, 1), utc_offset_s=None, start=start),
    ]
