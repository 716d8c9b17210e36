"""Synthetic physiology of the sandbox: determinism, cross-channel consistency, artifacts, speed."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from hexo_pipeline.hexoskin import datatypes as dtc
from hexo_sandbox.world.physiology import (
    BR_NOISY,
    HR_ARTIFACTS,
    HR_DISCONNECTED,
    HR_SATURATED,
    HR_UNRELIABLE_RR,
    RR_UNRELIABLE,
    RecordSignals,
    RecordSpec,
    Segment,
    sample_index_range,
    sample_offsets_ticks,
)

DAY_START = 382085877327  # a real record's start: not aligned to whole seconds
# (start, end, kind): every kind, 2 h
PLAN = (
    (0, 1800, "sleep"),
    (1800, 2700, "rest"),
    (2700, 3300, "sedentary"),
    (3300, 4200, "light"),
    (4200, 5400, "walk"),
    (5400, 6600, "run"),
    (6600, 7200, "rest"),
)
SEGMENTS = tuple(Segment(a, b, k) for a, b, k in PLAN)
ARTIFACT_BITS = {"motion": HR_ARTIFACTS, "saturation": HR_SATURATED, "disconnected": HR_DISCONNECTED}


def make(seed: int = 11, astroskin: bool = False, duration: float = 7200, **kw) -> RecordSignals:
    spec = RecordSpec(
        record_id=99,
        seed=seed,
        start_ticks=DAY_START,
        duration_s=duration,
        astroskin=astroskin,
        segments=SEGMENTS,
        **kw,
    )
    return RecordSignals(spec)


@pytest.fixture(scope="module")
def sig() -> RecordSignals:
    return make(artifact_fraction=0.04)


@pytest.fixture(scope="module")
def astro() -> RecordSignals:
    return make(seed=5, astroskin=True, duration=2400, artifact_fraction=0.04)


def full(s: RecordSignals, dt: int):
    if dtc.get(dt).rate_hz is None:
        return s.events_raw(dt, 0, s.duration_s)
    return s.sync_raw(dt, 0, s.n_samples(dt))


def interior(kind: str, margin: float = 180.0) -> tuple[float, float]:
    """The part of the plan's first segment of `kind` after the heart rate has settled."""
    a, b, _ = next(p for p in PLAN if p[2] == kind)
    return a + margin, b


# ---------------------------------------------------------------------------------------- determinism


def test_same_spec_gives_identical_bytes_and_another_seed_does_not():
    a, b, c = make(seed=3, duration=900), make(seed=3, duration=900), make(seed=4, duration=900)
    for dt in a.datatype_ids():
        xa, xb = full(a, dt), full(b, dt)
        if isinstance(xa, tuple):
            assert xa[0].tobytes() == xb[0].tobytes() and xa[1].tobytes() == xb[1].tobytes(), dt
        else:
            assert xa.dtype == np.int64 and xa.tobytes() == xb.tobytes(), dt
    assert full(a, 4113).tobytes() != full(c, 4113).tobytes()
    assert full(a, 18)[0].tobytes() != full(c, 18)[0].tobytes()


@pytest.mark.parametrize("astroskin", [False, True])
def test_any_window_split_regenerates_the_same_samples(astroskin):
    whole = make(seed=8, astroskin=astroskin, duration=5400)
    rng = np.random.default_rng(1)
    for dt in whole.datatype_ids():
        d = dtc.get(dt)
        if d.rate_hz is None:
            cuts = [0.0, *sorted(rng.uniform(0, 5400, 5)), 5400.0]
            parts = make(seed=8, astroskin=astroskin, duration=5400)
            got = [parts.events_raw(dt, a, b) for a, b in zip(cuts[:-1], cuts[1:])]
            ref = whole.events_raw(dt, 0, 5400)
            assert np.array_equal(np.concatenate([g[0] for g in got]), ref[0]), dt
            assert np.array_equal(np.concatenate([g[1] for g in got]), ref[1]), dt
            continue
        n = whole.n_samples(dt)
        ref = whole.sync_raw(dt, 0, n)  # long windows take the chunked path
        parts = make(seed=8, astroskin=astroskin, duration=5400)  # fresh: no cache shared with `whole`
        cuts = [0, *sorted(rng.integers(1, n, 6).tolist()), n]
        got = np.concatenate([parts.sync_raw(dt, a, b) for a, b in zip(cuts[:-1], cuts[1:])])
        assert np.array_equal(got, ref), f"{dt} ({d.name}) differs when split at {cuts}"
        one = parts.sync_raw(dt, n // 3, n // 3 + 1)
        assert one[0] == ref[n // 3]


def test_window_is_clipped_to_the_record(sig):
    n = sig.n_samples(19)
    assert sig.sync_raw(19, n - 2, n + 50).size == 2
    assert sig.sync_raw(19, -5, 3).size == 3
    assert sig.sync_raw(19, 10, 10).size == 0


# ---------------------------------------------------------------------------------------- heart


def test_heart_rate_is_the_mean_of_the_last_16_rr(sig):
    ticks, rr = full(sig, 18)
    ticks = ticks.astype(np.int64)
    hr = full(sig, 19)
    checked = 0
    for k in range(0, hr.size, 7):
        t = (k + 1) * 256
        i = np.searchsorted(ticks, t, side="right") - 1
        if i < 16:
            continue
        expected = round(60.0 / (rr[i - 15 : i + 1].mean() / 256.0))
        if expected <= 250:
            assert hr[k] == expected, k
            checked += 1
    assert checked > 900


def test_rr_values_are_tick_differences_and_first_is_unreliable_zero(sig):
    ticks, rr = full(sig, 18)
    _, q = full(sig, 1004)
    assert rr[0] == 0 and q[0] == RR_UNRELIABLE
    assert np.array_equal(rr[1:], np.diff(ticks.astype(np.int64)))
    assert set(np.unique(q).tolist()) <= {0, RR_UNRELIABLE}


def test_ecg_r_peaks_sit_on_the_reliable_beats(sig):
    ticks, _ = full(sig, 18)
    _, q = full(sig, 1004)
    ticks = ticks.astype(np.int64)
    ecg = full(sig, 4113)
    clean = np.flatnonzero((q[:-1] == 0) & (q[1:] == 0))  # this beat and the next one both clean
    beats = ticks[clean]
    beats = beats[(beats > 20) & (beats < ecg.size - 20)]
    windows = beats[:, None] + np.arange(-12, 13)[None, :]
    peaks = beats - 12 + np.argmax(ecg[windows], axis=1)
    assert beats.size > 5000
    assert np.abs(peaks - beats).max() <= 1
    height = ecg[beats] - np.median(ecg)
    assert np.percentile(height, 5) > 100  # R waves stand ~1 mV above the baseline (0.0064 mV/count)


def test_heart_rate_and_hrv_follow_the_activity(sig):
    hr = full(sig, 19).astype(float)
    hq = full(sig, 1000)
    means = {}
    for kind in ("sleep", "rest", "sedentary", "light", "walk", "run"):
        a, b = interior(kind)
        k = np.arange(int(a), int(b) - 1)
        means[kind] = hr[k][hq[k] == 0].mean()
    order = [means[k] for k in ("sleep", "rest", "sedentary", "light", "walk", "run")]
    assert order == sorted(order), means
    assert 50 < means["sleep"] < 62 < means["run"] and means["run"] > 130
    rest, run = sig.truth(*interior("rest")), sig.truth(*interior("run"))
    assert 15 < rest["rmssd_ms"] < 100 and 20 < rest["sdnn_ms"] < 120
    assert run["rmssd_ms"] < rest["rmssd_ms"] / 3


def test_respiratory_sinus_arrhythmia_shortens_rr_during_inspiration(sig):
    ticks, rr = full(sig, 18)
    _, q = full(sig, 1004)
    ins, _ = full(sig, 34)
    t = ticks.astype(float) / 256
    ins = ins.astype(float) / 256
    a, b = 0.0, 2700.0  # sleep and rest
    j = np.searchsorted(ins, t, side="right") - 1
    ok = (q == 0) & (j >= 0) & (j + 1 < ins.size) & (t >= a) & (t < b)
    phase = (t[ok] - ins[j[ok]]) / (ins[j[ok] + 1] - ins[j[ok]])
    r = rr[ok].astype(float)
    inspiring = r[(phase > 0.1) & (phase < 0.4)].mean()
    expiring = r[(phase > 0.6) & (phase < 0.95)].mean()
    assert inspiring < expiring * 0.98, (inspiring, expiring)


# ---------------------------------------------------------------------------------------- breathing


def test_minute_ventilation_is_tidal_volume_times_breathing_rate(sig):
    mv, tv, br = full(sig, 36), full(sig, 37), full(sig, 33)
    assert np.array_equal(mv, tv * br)
    to = lambda dt, raw: dtc.get(dt).to_physical(raw.astype(float))
    np.testing.assert_allclose(to(36, mv), to(37, tv) * to(33, br), rtol=1e-12)
    a, b = interior("rest")
    k = np.arange(int(a), int(b) - 1)
    assert 300 < to(37, tv[k]).mean() < 700 and 5000 < to(36, mv[k]).mean() < 11000  # mL, mL/min


def test_breathing_rate_matches_the_inspiration_events(sig):
    ins, _ = full(sig, 34)
    ins = ins.astype(float) / 256
    br, bq = full(sig, 33), full(sig, 1001)
    for k in range(30, br.size, 11):
        if bq[k]:
            continue
        c = np.searchsorted(ins, k + 1, side="right") - 1
        n = min(c, 7)
        assert abs(br[k] - 60 * n / (ins[c] - ins[c - n])) <= 0.6, k
    rates = {kind: br[int(interior(kind)[0]) : int(interior(kind)[1]) - 1].mean() for kind in ("sleep", "walk", "run")}
    assert rates["sleep"] < rates["walk"] < rates["run"], rates


def test_respiration_bands_oscillate_at_the_breathing_rate(sig):
    a, b = interior("rest")
    th = sig.sync_raw(4129, int(a * 128), int(b * 128)).astype(float)
    spectrum = np.abs(np.fft.rfft(th - th.mean()))
    f = np.fft.rfftfreq(th.size, 1 / 128)
    peak_rpm = 60 * f[np.argmax(spectrum * (f > 0.05))]
    assert abs(peak_rpm - sig.truth(a, b)["br_mean_rpm"]) < 2.5
    ins, vals = sig.events_raw(34, a, b)
    exp, evals = sig.events_raw(35, a, b)
    assert abs(ins.size - exp.size) <= 1 and evals.mean() > vals.mean() + 15  # peaks above troughs


# ---------------------------------------------------------------------------------------- movement


def test_cadence_is_derived_from_the_step_events(sig):
    st, count = full(sig, 52)
    st = st.astype(np.int64)
    assert np.array_equal(count, np.arange(1, st.size + 1))
    cad = full(sig, 53)
    for k in range(cad.size):
        t = (k + 1) * 256
        i = np.searchsorted(st, t, side="right") - 1
        expected = 0
        if i >= 4 and t - st[i] <= 1.5 * 256 and st[i] - st[i - 4] <= 8 * 256:
            expected = round(60 * 4 * 256 / (st[i] - st[i - 4]))
        assert cad[k] == expected, k
    a, b = interior("walk")
    steps_per_min = sig.truth(a, b)["steps"] / ((b - a) / 60)
    assert abs(steps_per_min - cad[int(a) : int(b) - 1].mean()) < 3
    assert 95 < steps_per_min < 125
    assert sig.truth(*interior("sleep"))["steps"] == 0 and sig.truth(*interior("rest"))["steps"] == 0
    assert 140 < cad[int(interior("run")[0]) : int(interior("run")[1]) - 1].mean() < 185


def test_accelerometer_shows_gravity_steps_and_activity(sig):
    a, b = interior("walk")
    acc = np.stack([sig.sync_raw(dt, int(a * 64), int(b * 64)) for dt in (4145, 4146, 4147)]) / 256
    norm = np.linalg.norm(acc, axis=0)
    assert abs(norm.mean() - 1.0) < 0.1
    z = acc[2] - acc[2].mean()
    f = np.fft.rfftfreq(z.size, 1 / 64)
    step_hz = f[np.argmax(np.abs(np.fft.rfft(z)) * (f > 0.5))]
    cad = sig.sync_raw(53, int(a), int(b) - 1).mean()
    assert abs(step_hz * 60 - cad) < 4
    activity = {k: sig.truth(*interior(k))["activity_mean_g"] for k in ("sleep", "sedentary", "walk", "run")}
    assert activity["sleep"] < activity["sedentary"] < activity["walk"] < activity["run"], activity
    assert activity["sleep"] < 0.02 and 0.1 < activity["walk"] < 0.5 and activity["run"] > 0.4


def test_activity_is_the_mean_norm_of_acceleration_minus_gravity(sig):
    a, b = 4500, 4560  # walking
    act = sig.sync_raw(49, a, b)
    acc = np.stack([sig.sync_raw(dt, a * 64, b * 64) for dt in (4145, 4146, 4147)]).astype(float)
    # Gravity moves slowly there: a 2 s moving average removes it (and the step oscillation averages out).
    kernel = np.ones(128) / 128
    grav = np.stack([np.convolve(np.pad(x, 64, mode="edge"), kernel, mode="same")[64:-64] for x in acc])
    approx = np.linalg.norm(acc - grav, axis=0).reshape(-1, 64).mean(axis=1)
    assert np.median(np.abs(approx - act)) < 0.15 * act.mean()


def test_sleep_positions_only_during_sleep(sig):
    ticks, codes = full(sig, 270)
    t = ticks.astype(float) / 256
    lying = codes[t < 1800]
    assert lying.size >= 1 and set(lying.tolist()) <= {1, 2, 3, 4}
    assert codes[t >= 1800].tolist() == [5]  # standing up when sleep ends
    assert np.all(np.diff(lying) != 0)  # an event is a change


# ---------------------------------------------------------------------------------------- artifacts


def overlapping_seconds(sig: RecordSignals, kind: str) -> np.ndarray:
    n = sig.n_samples(19)
    k = np.arange(n)
    hit = np.zeros(n, dtype=bool)
    for art in sig.artifacts:
        if art.kind == kind:
            hit |= (k < art.end_s) & (k + 1 > art.start_s)
    return hit


def test_artifacts_cover_about_the_requested_fraction(sig):
    arts = sig.artifacts
    covered = sum(a.end_s - a.start_s for a in arts)
    assert 0.5 * 0.04 * 7200 < covered < 1.5 * 0.04 * 7200
    assert {a.kind for a in arts} == {"motion", "saturation", "disconnected"}
    assert all(a.end_s <= b.start_s for a, b in zip(arts[:-1], arts[1:]))
    assert make(artifact_fraction=0.0, duration=600).artifacts == ()


def test_quality_bits_are_set_exactly_inside_artifacts(sig):
    hq, bq = full(sig, 1000), full(sig, 1001)
    for kind, bit in ARTIFACT_BITS.items():
        inside = overlapping_seconds(sig, kind)
        assert inside.any()
        assert np.array_equal((hq & bit) != 0, inside), kind
    assert np.array_equal((bq & BR_NOISY) == BR_NOISY, overlapping_seconds(sig, "motion"))
    assert not np.any(bq[60:] & ~BR_NOISY)  # after the start-up, only the noisy bits
    # RR: unreliable exactly when the beat's span [previous beat, beat] touches an artifact.
    ticks, q = full(sig, 1004)
    t = ticks.astype(float) / 256
    prev = np.concatenate([[t[0]], t[:-1]])
    touches = np.zeros(t.size, dtype=bool)
    for art in sig.artifacts:
        touches |= (prev < art.end_s) & (t >= art.start_s)
    touches[0] = True
    assert np.array_equal(q == RR_UNRELIABLE, touches)
    # heart_rate_quality 32: some of the 16 RR averaged is unreliable, or fewer than 16 are known.
    i = np.searchsorted(ticks.astype(np.int64), (np.arange(hq.size) + 1) * 256, side="right") - 1
    bad = np.array([j < 16 or bool(np.any(q[j - 15 : j + 1])) for j in i])
    assert np.array_equal((hq & HR_UNRELIABLE_RR) != 0, bad)


def test_ecg_is_corrupted_inside_artifacts_only(sig):
    ecg = full(sig, 4113)
    for art in sig.artifacts:
        seg = ecg[math.ceil(art.start_s * 256) : math.ceil(art.end_s * 256)]
        if art.kind == "disconnected":
            assert np.abs(seg - 1360).max() <= 10
        elif art.kind == "saturation":
            assert (seg == 4095).any() and (seg == 0).any() and ((seg == 4095) | (seg == 0)).mean() > 0.8
        else:
            assert seg.std() > 100
    clean = np.ones(ecg.size, dtype=bool)
    for art in sig.artifacts:
        clean[math.ceil(art.start_s * 256) : math.ceil(art.end_s * 256)] = False
    assert ecg[clean].min() > 0 and ecg[clean].max() < 4095
    assert ecg[clean].std() < 70


def test_truth_counts_only_clean_samples(sig):
    art = next(a for a in sig.artifacts if a.kind == "motion")
    a, b = max(0.0, art.start_s - 300), min(7200.0, art.end_s + 300)
    truth = sig.truth(a, b)
    k = np.arange(math.ceil(a) - 1, math.ceil(b) - 1)  # samples stamped (k+1) s in [a, b)
    hr, hq = sig.sync_raw(19, k[0], k[-1] + 1), sig.sync_raw(1000, k[0], k[-1] + 1)
    assert (hq != 0).any()
    assert truth["hr_mean_bpm"] == pytest.approx(hr[hq == 0].mean())
    assert truth["hr_max_bpm"] == hr[hq == 0].max() and truth["hr_min_bpm"] == hr[hq == 0].min()
    _, rr = sig.events_raw(18, a, b)
    _, q = sig.events_raw(1004, a, b)
    assert (q != 0).any() and truth["rr_clean_n"] == int((q == 0).sum())
    ms = rr * 1000 / 256
    pairs = (q[1:] == 0) & (q[:-1] == 0)
    assert truth["rmssd_ms"] == pytest.approx(np.sqrt(np.mean(np.diff(ms)[pairs] ** 2)))
    assert truth["sdnn_ms"] == pytest.approx(ms[q == 0].std(ddof=1))
    assert truth["worn_s"] == pytest.approx(b - a)
    whole = sig.truth(-100, 10_000)
    assert whole["worn_s"] == 7200 and whole["sleep_s"] == 1800
    assert whole["steps"] == full(sig, 52)[0].size


# ---------------------------------------------------------------------------------------- Astroskin


def test_astroskin_channels_only_on_astroskin_records(sig, astro):
    assert set(sig.datatype_ids()) == set(dtc.HEXOSKIN_IDS)
    assert set(astro.datatype_ids()) == set(dtc.HEXOSKIN_IDS) | set(dtc.ASTROSKIN_EXTRA_IDS)
    for dt in dtc.ASTROSKIN_EXTRA_IDS:
        with pytest.raises(KeyError):
            full(sig, dt)


def test_astroskin_vitals_are_plausible_and_consistent(astro):
    fresh = make(seed=5, astroskin=True, duration=2400, artifact_fraction=0.04)
    iii = full(fresh, 4115)  # computed first, before leads I and II are kept for this window
    i, ii = full(astro, 4113), full(astro, 4114)
    assert np.array_equal(iii, i - ii) and np.array_equal(full(astro, 4115), iii)  # stored as I - II
    n = fresh.n_samples(4115)
    assert np.array_equal(np.concatenate([fresh.sync_raw(4115, 0, 1000), fresh.sync_raw(4115, 1000, n)]), iii)
    assert abs(np.median(iii)) < 30 and abs(np.median(ii) - 1360) < 30
    spo2, sq = full(astro, 66), full(astro, 1002)
    assert 94 <= np.median(spo2) <= 99 and spo2.min() >= 85 and spo2.max() <= 100
    motion = overlapping_seconds(astro, "motion")
    assert np.array_equal(sq != 0, motion) and np.array_equal(full(astro, 1005) != 0, motion)
    temp = full(astro, 81) / 256
    assert 31 < temp.min() and temp.max() < 35 and not full(astro, 1003).any()
    sbp = full(astro, 98)
    assert sbp[300:1700].mean() < 125 and sbp[2000:2399].mean() < sbp[300:1700].mean() + 20  # sleep, rest
    ptt_t, ptt = full(astro, 97)
    assert 0.2 < np.median(ptt) / 256 < 0.36
    rr_t, _ = full(astro, 18)
    assert np.isin(ptt_t, astro._heart["ticks"]).all() and ptt_t.size > 0.9 * rr_t.size
    ppg = full(astro, 64)
    assert ppg.min() >= 0 and ppg.max() <= 32767
    # PPG pulses: the upstroke (largest rise) follows each clean R peak by about the PTT.
    d = np.diff(ppg[: 64 * 1500].astype(float))
    beats = ptt_t[(ptt_t > 256) & (ptt_t < 256 * 1490)].astype(np.int64)
    lag = [np.argmax(d[b // 4 : b // 4 + 40]) / 64 for b in beats[:400]]
    assert 0.15 < np.median(lag) < 0.45


# ---------------------------------------------------------------------------------------- helpers


def test_sample_offsets_and_index_ranges():
    assert sample_offsets_ticks(4113, 0, 3).tolist() == [0, 1, 2]
    assert sample_offsets_ticks(4145, 2, 4).tolist() == [8, 12]
    assert sample_offsets_ticks(19, 0, 2).tolist() == [256, 512]  # first 1 Hz point at start + 256
    assert sample_offsets_ticks(271, 0, 1).tolist() == [300 * 256]
    assert sample_index_range(19, 256, 1024, 100) == (0, 3)
    assert sample_index_range(19, 0, 256, 100) == (0, 0)
    assert sample_index_range(4113, 10, 20, 100) == (10, 20)
    assert sample_index_range(4145, 1, 9, 100) == (1, 3)
    assert sample_index_range(4145, 0, 10_000, 100) == (0, 100)


def test_segments_are_validated():
    with pytest.raises(ValueError):
        Segment(0, 10, "swim")
    with pytest.raises(ValueError):
        Segment(10, 10, "run")


def test_one_subject_hour_of_raw_channels():
    # (how fast: benchmarks/bench_sandbox.py, `make bench`)
    spec = RecordSpec(1, 77, DAY_START, 3600, False, (Segment(0, 1800, "sedentary"), Segment(1800, 3600, "walk")))
    s = RecordSignals(spec)
    total = 0
    for dt in s.datatype_ids():
        total += full(s, dt)[0].size if dtc.get(dt).rate_hz is None else full(s, dt).size
    assert total > 2_000_000


def test_memory_of_a_subject_day_window(capsys):
    day = tuple(
        Segment(a * 3600, (a + 6) * 3600, k) for a, k in ((0, "sleep"), (6, "sedentary"), (12, "walk"), (18, "rest"))
    )
    s = RecordSignals(RecordSpec(2, 5, DAY_START, 24 * 3600, False, day))
    s.truth(0, 60)  # the whole-record series (4 Hz grid, beats, breaths, steps), built once per record
    tracemalloc.start()
    ecg = s.sync_raw(4113, 0, s.n_samples(4113))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    with capsys.disabled():
        print(
            f"\n[memory] a subject-day ECG window: output {ecg.nbytes / 1e6:.0f} MB (int64), "
            f"peak traced {peak / 1e6:.0f} MB"
        )
    assert ecg.size == 24 * 3600 * 256
    assert peak < ecg.nbytes + 40e6  # beyond the output, only bounded chunk temporaries
