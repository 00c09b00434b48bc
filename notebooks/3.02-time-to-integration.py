# %% [markdown]
# # 3.02 – How fast do people find work, and does a measure speed it up?
#
# **Question.** How long does it take from time zero (the landmark, docs/estimands.md) to the
# first integration, by measure — and what is the effect of a measure *while* it runs
# (lock-in) and *after* it ended?
#
# Measures enter the hazard model as **time-varying** states, so months spent waiting for or
# sitting in a measure are never credited to it (immortal-time bias).

# %% tags=["parameters"]
dataset = "../data/gelsenkirchen"
small = False
store_results = False  # the pipeline sets True; exploring here never overwrites stored results
horizon = 24

# %%
import matplotlib.pyplot as plt
import numpy as np

from casework import schema as S
from casework.effects.survival import (adjusted_cumulative_incidence, cox, cox_time_varying, discrete_hazard,
                                       episodes, kaplan_meier, km_plot)
from casework.panel import analysis_cohort, available_covariates
from casework.store import Dataset

ds = Dataset.open(dataset)
cohort = analysis_cohort(ds)
covariates = available_covariates(cohort)  # optional fields the data lack are left out, with a warning
cohort["group"] = cohort["measure"].map({**S.MEASURES, "none": "keine Maßnahme"})
# Land scale (docs/scale.md): the models below that refit 200 times or expand every person to months are fitted
# on a random sample of FIT_PERSONS cohort persons (fixed seed); a smaller cohort is used whole. Their standard
# errors grow by about sqrt(cohort / FIT_PERSONS): 1.0x up to 100,000 persons, about 2.4x at the ~600,000 of
# an NRW-sized dataset. Kaplan-Meier and the first Cox model always use everyone.
# The discrete-time hazard's dense person-month design needs ~80 kB a person (8.8 GB for 100,000 at 200,000
# persons, measured): it takes the first HAZARD_PERSONS of the same random sample (SEs about sqrt(cohort / 50,000)).
FIT_PERSONS = 100_000
HAZARD_PERSONS = 50_000
fit = cohort if len(cohort) <= FIT_PERSONS else cohort.sample(FIT_PERSONS, random_state=0).sort_index()
hazard_fit = fit if len(fit) <= HAZARD_PERSONS else fit.sample(HAZARD_PERSONS, random_state=0).sort_index()
print(f"models with refits: {len(fit):,}, discrete-time hazard: {len(hazard_fit):,} of {len(cohort):,} cohort persons")

# %% [markdown]
# ## Kaplan–Meier: share integrated over time

# %%
km = kaplan_meier(cohort, by="group", horizon=horizon, unit="months")
km_plot(km)
plt.title("Anteil integriert nach Monaten ab Stichtag")
plt.show()

# %% [markdown]
# ## Cox model with the measure status at time zero
# A first look; it treats the measure as fixed at time zero and cannot separate lock-in from
# the effect after the measure.

# %%
BASELINE = ["age", "female", "receipt_months", "need_health", "need_qualification"]
treated = cohort.assign(treated=(cohort["measure"] != "none").astype(int))
cox_summary = cox(treated, BASELINE, horizon=horizon, unit="months")  # no penalty on the treatment
cox_summary[["exp(coef)", "exp(coef) lower 95%", "exp(coef) upper 95%", "p"]]

# %% [markdown]
# A hazard ratio says nothing about how many more people find work. The adjusted cumulative
# incidence does: the Cox model predicts every person's curve with and without a measure; the
# averages are the shares integrated by 6, 12 and 24 months in both worlds (bootstrap intervals).

# %%
incidence = adjusted_cumulative_incidence(treated.loc[fit.index], BASELINE, times=[6, 12, 24], horizon=horizon,
                                          unit="months",
                                          n_boot=20 if small else 200)
incidence

# %% [markdown]
# ## Cox model with the measure as a time-varying state
# The same data as counting-process episodes: from the landmark each person is "none", then
# "lockin" while a measure runs and "post" after it ended (any measure kind). Each hazard ratio
# compares people in that state with people at the same time since the landmark who are in
# none - both still without integration (docs/effects.md says what this conditions on).

# %%
months_from_landmark = lambda col: (fit[col] - fit["landmark"]).dt.days / 30.4375  # noqa: E731
in_measure = fit["measure"] != "none"
follow = fit.assign(
    time=fit["months_to_event"].clip(lower=0.01, upper=horizon),
    event_h=(fit["event"].astype(bool) & (fit["months_to_event"] <= horizon)).astype(int),
    lockin_from=np.where(in_measure, months_from_landmark("measure_start"), np.nan),
    post_from=np.where(in_measure, months_from_landmark("measure_end"), np.nan))
spells = episodes(follow, id="person_id", duration="time", event="event_h",
                  switches={"lockin": "lockin_from", "post": "post_from"}, keep=BASELINE)
tv_cox = cox_time_varying(spells, BASELINE, id="person_id")
tv_cox.loc[[t for t in tv_cox.index if t.startswith("state=")], ["exp(coef)", "exp(coef) lower 95%",
                                                                 "exp(coef) upper 95%", "p"]]

# %% [markdown]
# ## Discrete-time hazard with time-varying measures
# Odds ratios of the monthly integration hazard while participating (lock-in) and after. On a
# cohort of more than 50,000 persons it is fitted on a random sample of 50,000 (its person-month
# design is the largest memory of the pipeline); the intervals are correspondingly wider.

# %%
hazard = discrete_hazard(hazard_fit, covariates, horizon=horizon)  # dense person-month design: ~80 kB a person
if ds.ground_truth:
    truth = {(r["term"], r["phase"]): r["value"] for r in ds.ground_truth["hazard_ratios"]}
    hazard["truth"] = [truth.get((m, p)) for m, p in zip(hazard["measure"], hazard["phase"])]
hazard

# %%
fig, ax = plt.subplots(figsize=(7, 0.4 * len(hazard) + 1))
y = range(len(hazard))
ax.errorbar(hazard["odds_ratio"], y, xerr=[hazard["odds_ratio"] - hazard["ci_low"],
                                           hazard["ci_high"] - hazard["odds_ratio"]], fmt="o", color="#0072B2")
ax.set_yticks(list(y), [f"{S.MEASURES[m]} ({'während' if p == 'lockin' else 'danach'})"
                        for m, p in zip(hazard["measure"], hazard["phase"])])
ax.axvline(1, color="#999999")
ax.set_xscale("log")
ax.set_xlabel("Odds Ratio der monatlichen Integrationschance")
plt.show()

# %% [markdown]
# ## Checks and results

# %%
assert km.groupby("group")["still_unintegrated"].apply(lambda s: s.is_monotonic_decreasing).all()
assert (hazard["ci_low"] <= hazard["ci_high"]).all()
if store_results:
    ds.save_result("time_to_integration", km)
    ds.save_result("hazard_ratios", hazard)

# %% [markdown]
# ## Key ideas
# * While people take part, they search less (lock-in); the effect shows after the measure.
# * Treating the measure as time-varying keeps the waiting time out of its effect.
# * Hazard ratios condition on still being without work; the adjusted shares integrated say
#   how many more people find work by a given month.
