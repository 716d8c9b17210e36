"""Catalog of the Hexoskin/Astroskin datatypes the project uses.

Facts (IDs, export file names, units, rates, raw->physical conversions, WAV sign) come from
../shared/reference/hexoskin_api_notes.md §3-§5, whose main source is the vendor's own decoder
`load_hx_data.py` (device model "hx", 256-tick server). Binary downloads carry *raw* integers; JSON and
CSV carry physical values (`physical = (raw - offset) * scale`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Family(StrEnum):
    """Channel families: one Parquet dataset each (issue 4)."""

    ECG = "ecg"
    RESPIRATION = "respiration"
    ACCELERATION = "acceleration"
    VITALS = "vitals"  # 1 Hz (and slower) synchronous channels
    EVENTS = "events"  # asynchronous channels: RR, steps, breaths, positions
    ASTROSKIN = "astroskin"  # PPG, SpO2, temperature, blood pressure and their quality channels
    HRV = "hrv"  # 5-minute HRV windows (1/300 Hz)


@dataclass(frozen=True)
class Datatype:
    id: int
    name: str  # export file stem, e.g. ECG_I -> ECG_I.wav
    unit: str  # physical unit after conversion
    rate_hz: float | None  # None for asynchronous (event) channels
    family: Family
    scale: float = 1.0
    offset: float = 0.0
    signed: bool = False  # sign of the 16-bit WAV samples
    quality_id: int | None = None  # datatype id of the quality (status) channel that flags this one
    info: str = ""

    @property
    def synchronous(self) -> bool:
        return self.rate_hz is not None

    @property
    def hexo_freq(self) -> int | None:
        """The API's `hexo_freq`: sample period in 1/256 s ticks (ECG 1, 1 Hz 256), None for events."""
        if self.rate_hz is None:
            return None
        return int(round(256 / self.rate_hz))

    @property
    def first_sample_at_period(self) -> bool:
        """True when sample k sits at (k+1)/fs after record start (1 Hz and slower), False for k/fs.

        Every official converter places raw channels at k/fs and 1 Hz-or-slower channels at (k+1)*dt
        (notes §2: record 37700's first HR point is start + 256 ticks).
        """
        return self.rate_hz is not None and self.rate_hz <= 1

    def to_physical(self, raw):
        """Raw binary value(s) -> physical unit. Works on scalars and numpy arrays alike."""
        if self.offset:
            return (raw - self.offset) * self.scale
        return raw * self.scale if self.scale != 1.0 else raw


_ECG = dict(unit="mV", rate_hz=256.0, family=Family.ECG, scale=0.0064, offset=1360.0, signed=True)
_ACC = dict(unit="g", rate_hz=64.0, family=Family.ACCELERATION, scale=1 / 256, signed=True)
_HRV = dict(rate_hz=1 / 300, family=Family.HRV)

DATATYPES: tuple[Datatype, ...] = (
    # Raw signals
    Datatype(4113, "ECG_I", **_ECG, quality_id=1000, info="ECG lead I, 12-bit ADC"),
    Datatype(4114, "ECG_II", **_ECG, info="ECG lead II (Astroskin 3-lead)"),
    # Lead III is exported as raw I - II, centred on 0 (the real Astroskin export): no ADC offset.
    Datatype(4115, "ECG_III", **{**_ECG, "offset": 0.0}, info="ECG lead III (Astroskin 3-lead), I - II"),
    Datatype(
        4129,
        "respiration_thoracic",
        "count",
        128.0,
        Family.RESPIRATION,
        quality_id=1001,
        info="thoracic inductance plethysmography, raw counts",
    ),
    Datatype(
        4130,
        "respiration_abdominal",
        "count",
        128.0,
        Family.RESPIRATION,
        quality_id=1001,
        info="abdominal inductance plethysmography, raw counts",
    ),
    Datatype(4145, "acceleration_X", **_ACC, info="3-axis accelerometer, X"),
    Datatype(4146, "acceleration_Y", **_ACC, info="3-axis accelerometer, Y"),
    Datatype(4147, "acceleration_Z", **_ACC, info="3-axis accelerometer, Z"),
    # 1 Hz vitals
    Datatype(
        19, "heart_rate", "bpm", 1.0, Family.VITALS, quality_id=1000, info="heart rate, average of the last 16 beats"
    ),
    Datatype(
        1000,
        "heart_rate_quality",
        "bits",
        1.0,
        Family.VITALS,
        info="HR status flags: 2 disconnected, 4 50/60Hz, 8 saturated, 16 artifacts, 32 RR unreliable",
    ),
    Datatype(33, "breathing_rate", "rpm", 1.0, Family.VITALS, quality_id=1001, info="breathing rate"),
    Datatype(
        1001,
        "breathing_rate_quality",
        "bits",
        1.0,
        Family.VITALS,
        info="BR status flags: 1/2 no thoracic/abdominal, 4/8 baseline, 16/32 noisy",
    ),
    Datatype(
        36,
        "minute_ventilation",
        "mL/min",
        1.0,
        Family.VITALS,
        scale=13.28,
        quality_id=1001,
        info="minute ventilation = tidal volume x breathing rate",
    ),
    Datatype(37, "tidal_volume", "mL", 1.0, Family.VITALS, scale=13.28, quality_id=1001, info="tidal volume"),
    Datatype(38, "minute_ventilation_adjusted", "mL/min", 1.0, Family.VITALS, scale=10.0),
    Datatype(39, "tidal_volume_adjusted", "mL", 1.0, Family.VITALS),
    Datatype(
        49,
        "activity",
        "g",
        1.0,
        Family.VITALS,
        scale=1 / 256,
        signed=True,
        info="high-passed acceleration norm, 1 s average",
    ),
    Datatype(53, "cadence", "spm", 1.0, Family.VITALS, info="steps per minute"),
    Datatype(1006, "ECG_quality", "bits", 1.0, Family.VITALS),
    # Events (asynchronous)
    Datatype(
        18,
        "RR_interval",
        "s",
        None,
        Family.EVENTS,
        scale=1 / 256,
        quality_id=1004,
        info="RR interval per beat, raw in 1/256 s",
    ),
    Datatype(1004, "RR_interval_quality", "bits", None, Family.EVENTS, info="RR quality flags per beat"),
    Datatype(318, "NN_interval", "s", None, Family.EVENTS, scale=1 / 256),
    Datatype(52, "step", "step", None, Family.EVENTS, info="running step count"),
    Datatype(34, "inspiration", "s", None, Family.EVENTS, info="inspiration events"),
    Datatype(35, "expiration", "s", None, Family.EVENTS, info="expiration events"),
    Datatype(269, "device_position", "code", None, Family.EVENTS),
    Datatype(270, "sleep_position", "code", None, Family.EVENTS, info="1-5 belly/back/right/left/standing"),
    Datatype(280, "sleep_phase", "code", None, Family.EVENTS, info="6 wake, 5 REM, 2 NREM"),
    # HRV windows (5 min)
    Datatype(271, "ANN", "s", scale=1 / 4096, **_HRV),
    Datatype(272, "SDNN", "s", scale=1 / 4096, **_HRV),
    Datatype(278, "RMSSD", "s", scale=1 / 4096, **_HRV),
    # Astroskin
    Datatype(64, "PPG", "count", 64.0, Family.ASTROSKIN, signed=True, info="photoplethysmogram, raw"),
    Datatype(66, "SPO2", "%", 1.0, Family.ASTROSKIN, quality_id=1002, info="blood oxygen saturation"),
    Datatype(
        1002,
        "SPO2_quality",
        "bits",
        1.0,
        Family.ASTROSKIN,
        info="SpO2 flags: 4 alarm, 8 out of track, 16 artifacts, 32 disconnected, 64/128 unreliable",
    ),
    Datatype(
        81,
        "temperature_celcius",
        "degC",
        1.0,
        Family.ASTROSKIN,
        scale=1 / 256,
        signed=True,
        quality_id=1003,
        info="skin temperature (raw/256 on the 256-tick server, per a real export)",
    ),
    Datatype(1003, "temperature_quality", "bits", 1.0, Family.ASTROSKIN),
    Datatype(98, "systolic_pressure", "mmHg", 1.0, Family.ASTROSKIN, quality_id=1005),
    Datatype(1005, "systolic_pressure_quality", "bits", 1.0, Family.ASTROSKIN),
    Datatype(97, "PTT", "s", None, Family.ASTROSKIN, scale=1 / 256, info="pulse transit time per beat"),
)

BY_ID: dict[int, Datatype] = {d.id: d for d in DATATYPES}
BY_NAME: dict[str, Datatype] = {d.name: d for d in DATATYPES}

# The datatypes every Hexoskin record carries, and what Astroskin adds.
HEXOSKIN_IDS: tuple[int, ...] = (
    4113,
    4129,
    4130,
    4145,
    4146,
    4147,
    19,
    1000,
    33,
    1001,
    36,
    37,
    49,
    53,
    18,
    1004,
    52,
    34,
    35,
    270,
)
ASTROSKIN_EXTRA_IDS: tuple[int, ...] = (4114, 4115, 64, 66, 1002, 81, 1003, 98, 1005, 97)


def get(datatype_id: int) -> Datatype:
    try:
        return BY_ID[int(datatype_id)]
    except KeyError:
        raise KeyError(f"unknown Hexoskin datatype id {datatype_id!r}") from None


def by_name(name: str) -> Datatype:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown Hexoskin datatype name {name!r}") from None
