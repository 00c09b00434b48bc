"""Regular instruments of labour-market policy (optional table ``instruments``) and the funded jobs they bring.

The instruments are the main competing treatments in real data; here they are drawn *after* the simulation,
from each person's simulated path, and carry **no effect** on the integration hazard (the ground truth of the
network measures is unchanged by them; docs/synthetic.md). Per person and kind at most one participation,
started at a uniformly drawn month of the months at risk, with probability ``1 - exp(-rate x months)``:

==========  ===========================================  ========================================  ===========
kind        who, when                                    rate per month at risk (assumption)       months
==========  ===========================================  ========================================  ===========
sgb3_45     in receipt, before integrating                ``RATES["sgb3_45"]``                      1-6
fbw         aged 25+, no vocational degree, before        ``RATES["fbw"]``                          3-24
            integrating
agh         12+ months in receipt, before integrating     ``RATES["agh"]``                          6-12
16e (old)   24+ months in receipt, until 31.12.2018       ``RATES["16e_old"]`` (Förderung von       12-24
            (Förderung von Arbeitsverhältnissen)          Arbeitsverhältnissen: publicly funded)
16i         aged 25+, 72+ months in receipt (§ 16i Abs. 3 ``RATES["16i"]`` from 01.01.2019          24-60
            Nr. 2: six of the last seven years), from
            01.01.2019
egz         a share ``EGZ_SHARE`` of the integrations     at the integration                        6-12
            into svB
16e (new)   a share ``NEW_16E_SHARE`` of the svB           at the integration                        24
            integrations from 01.01.2019 of persons 24+
            months in receipt (§ 16e Abs. 3: two years
            unemployed)
==========  ===========================================  ========================================  ===========

Participations end when receipt ends (or at the integration) unless they accompany the job (EGZ, new § 16e).
An old-§ 16e or § 16i participation is also an employment spell (``funded_16e`` / ``funded_16i``: publicly
funded employment, never an integration); a new-§ 16e integration's job is ``funded_16e`` instead of ``svb``
— the key figures count it as an integration from 2019 (VO § 2 Abs. 2 Nr. 2), as the simulation does.
DOMAIN.md 4.2: of about 118,000 starts in §§ 16e and 16i by September 2023 about three quarters were § 16i;
DOMAIN.md 4.17: § 16i participants were about 4 % of the unemployed in NRW in January 2022 (calibration table).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework.synth.dates import date_in_month, ids

__all__ = ["instrument_spells", "RATES", "EGZ_SHARE", "NEW_16E_SHARE", "NEW_16E_FROM_YEAR"]

RATES = {"sgb3_45": 0.012, "fbw": 0.005, "agh": 0.007, "16e_old": 0.0012, "16i": 0.0045}
DURATION = {"sgb3_45": (1, 6), "fbw": (3, 24), "agh": (6, 12), "16e_old": (12, 24), "16i": (24, 60),
            "egz": (6, 12), "16e_new": (24, 24)}
EGZ_SHARE = 0.08
NEW_16E_SHARE = 0.045
NEW_16E_FROM_YEAR = 2019


def _window_draw(lo, hi, rate, rng):
    """Start month of at most one participation in [lo, hi): (chosen rows, start months)."""
    months = np.maximum(hi - lo, 0)
    take = rng.random(len(lo)) < 1 - np.exp(-rate * months)
    start = lo + np.floor(rng.random(len(lo)) * np.maximum(months, 1)).astype(int)
    return take & (months > 0), start


def instrument_spells(scn, pf: pd.DataFrame, employment: pd.DataFrame, rng, data_end, *, base: int = 0):
    """The chunk's instrument participations and its employment table with the funded jobs they bring.

    Returns ``(instruments, employment)``.
    """
    n_m = len(scn.months)
    year0 = pd.Timestamp(scn.data_start).year
    m2019 = (NEW_16E_FROM_YEAR - year0) * 12
    entry, start_m = pf["entry_m"].to_numpy(), pf["start_m"].to_numpy()
    integ, leave = pf["integration_m"].to_numpy(), pf["leave_m"].to_numpy()
    stop = np.minimum(np.where(integ >= 0, integ, n_m), np.minimum(leave, n_m))  # first month not at risk
    since = entry - pf["benefit_months"].to_numpy()  # month from which receipt counts
    age25_m = (pf["birth_year"].to_numpy() + 25 - year0) * 12
    adult18_m = (pf["birth_year"].to_numpy() + 18 - year0) * 12
    lo = np.maximum(start_m, 0)
    windows = {
        "sgb3_45": (np.maximum(lo, adult18_m), stop),
        "fbw": (np.maximum(lo, age25_m), np.where(pf["vocational"].to_numpy() == "none", stop, 0)),
        "agh": (np.maximum(lo, since + 12), stop),
        "16e_old": (np.maximum(lo, since + 24), np.minimum(stop, m2019)),
        "16i": (np.maximum.reduce([lo, since + 72, np.full(len(pf), m2019), age25_m]), stop),
    }
    parts, funded = [], []
    for kind, (w_lo, w_hi) in windows.items():
        take, s = _window_draw(w_lo, w_hi, RATES[kind], rng)
        d_lo, d_hi = DURATION[kind]
        dur = rng.integers(d_lo, d_hi + 1, len(pf))
        end = np.minimum(s + dur, np.minimum(leave, np.where(integ >= 0, integ, n_m + 999)))
        idx = np.flatnonzero(take)
        part = (kind.replace("_old", ""), idx, date_in_month(scn, s[idx], rng), np.maximum(end[idx] - s[idx], 1))
        parts.append(part)
        if kind in ("16e_old", "16i"):
            funded.append(part)
    kind = employment["kind"].to_numpy().copy()
    svb_pos = np.flatnonzero(kind == "svb")
    svb_start = employment["start"].to_numpy()[svb_pos]
    rows_of = pd.Series(np.arange(len(pf)), index=pf["person_id"].to_numpy())
    svb_rows = rows_of.reindex(employment["person_id"].to_numpy()[svb_pos]).to_numpy()
    svb_m = integ[svb_rows]
    egz = rng.random(len(svb_pos)) < EGZ_SHARE
    new16e = (svb_m >= m2019) & (svb_m - since[svb_rows] >= 24) & (rng.random(len(svb_pos)) < NEW_16E_SHARE)
    egz &= ~new16e  # one wage subsidy per job
    for name, rows in (("egz", egz), ("16e", new16e)):
        d_lo, d_hi = DURATION["16e_new" if name == "16e" else name]
        parts.append((name, svb_rows[rows], svb_start[rows], rng.integers(d_lo, d_hi + 1, int(rows.sum()))))
    kind[svb_pos[new16e]] = "funded_16e"
    emp = employment.assign(kind=kind)
    return _instrument_table(pf, parts, data_end, base), _with_funded_jobs(pf, emp, funded, data_end, base)


def _end_of(start: np.ndarray, months: np.ndarray, data_end) -> np.ndarray:
    """The last day of a participation of ``months`` months from ``start`` (empty while running at the data end)."""
    end = start + (months * 30.4).astype("timedelta64[D]") - np.timedelta64(1, "D")
    return np.where(end > np.datetime64(data_end), np.datetime64("NaT"), end).astype("datetime64[ns]")


def _instrument_table(pf, parts, data_end, base) -> pd.DataFrame:
    kind = np.concatenate([np.full(len(p[1]), p[0], dtype=object) for p in parts])
    rows = np.concatenate([p[1] for p in parts]).astype(int)
    start = np.concatenate([p[2] for p in parts]).astype("datetime64[ns]")
    months = np.concatenate([p[3] for p in parts]).astype(int)
    return pd.DataFrame({"spell_id": ids("I", len(rows), start=base, width=10),
                         "person_id": pf["person_id"].to_numpy()[rows], "kind": kind,
                         "start": start, "end": _end_of(start, months, data_end)})


def _with_funded_jobs(pf, emp, funded, data_end, base) -> pd.DataFrame:
    """The employment table plus the funded jobs of old-§ 16e and § 16i participations (the same days)."""
    frames = [emp]
    for kind, idx, start, months in funded:
        frames.append(pd.DataFrame({"person_id": pf["person_id"].to_numpy()[idx], "start": start,
                                    "end": _end_of(start, months, data_end), "kind": f"funded_{kind}",
                                    "need_ending": False}))
    out = pd.concat(frames, ignore_index=True)
    spell = out["spell_id"].to_numpy().copy()
    spell[len(emp):] = ids("E", len(out) - len(emp), start=base + len(emp), width=10)
    return out.assign(spell_id=spell).astype({"start": "datetime64[ns]", "end": "datetime64[ns]",
                                              "need_ending": bool})
