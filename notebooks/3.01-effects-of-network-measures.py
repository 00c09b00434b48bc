# %% [markdown]
# # 3.01 – Do network measures help people into work?
#
# **Question.** Did starting a network measure (debt or addiction counselling, childcare,
# psychosocial care, health modules, neighbourhood-centre activities, volunteering, funded
# employment with coaching) change the share of people who found work within 12 months —
# and for whom?
#
# **Estimand** (docs/estimands.md). Landmark design: time zero is three months after the first
# assessment in the cohort window; *treated* = started the measure in those three months;
# *comparison* = started none; outcome = integration (§48a) in the 12 months from time zero.
# Waiting time before a measure is therefore never credited to it. Headline: the ATT.

# %% tags=["parameters"]
dataset = "../data/gelsenkirchen"
small = False
store_results = False  # the pipeline sets True; exploring here never overwrites stored results
method = "aipw"
estimand = "att"
fit_persons = 50_000  # the comparison of estimators and the checks run on at most this many cohort persons

# %%
import matplotlib.pyplot as plt
import pandas as pd

from casework.effects import estimate, measure_effects
from casework.effects.dataset import effect_sample
from casework.effects.hetero import effects_by
from casework.effects.plots import forest_plot
from casework.effects.sensitivity import sensitivity_table
from casework.panel import analysis_cohort, available_covariates
from casework.produce import effect_evalues, effects_table, stored_estimates
from casework.profiling import profillagen
from casework.store import Dataset

ds = Dataset.open(dataset)
cohort = analysis_cohort(ds)
covariates = available_covariates(cohort)  # optional fields the data lack are left out, with a warning
# Land scale (docs/scale.md): the headline (AIPW, the boards' table) uses every cohort person; the comparison of
# estimators, the diagnostics, the subgroups and the refutations below run on a random sample of fit_persons
# cohort persons (fixed seed); a smaller cohort is used whole. Matching's neighbour search grows with the square
# of the persons (an hour and more at the ~600,000 cohort persons of an NRW-sized dataset). On the sample the
# standard errors grow by about sqrt(cohort / fit_persons): 1.0x up to 50,000 persons, about 3.5x at 600,000.
fit = cohort if len(cohort) <= fit_persons else cohort.sample(fit_persons, random_state=0).sort_index()
print(f"comparison, diagnostics, subgroups, refutations: {len(fit):,} of {len(cohort):,} cohort persons")
cohort["measure"].value_counts().rename("persons").to_frame()

# %% [markdown]
# ## The naive comparison is confounded
# People with more needs are referred more often *and* find work less often. A raw comparison
# of integration shares therefore understates (or even reverses) the effect.

# %%
naive = (cohort.groupby("measure")["integration_12m"].mean()
         - cohort.loc[cohort["measure"] == "none", "integration_12m"].mean()).drop("none").rename("naive")
naive.to_frame()

# %% [markdown]
# ## Adjusted effects, every measure kind
# Doubly robust AIPW with 5-fold cross-fitting (the headline, every cohort person), with
# regression adjustment, inverse probability weighting and propensity-score matching beside it
# on the same persons (on a larger cohort: the random sample above, with AIPW refitted on it so
# that all four compare like with like). The overlap rule and the trimmed counts are stated in
# every row.

# %%
# run by the pipeline: the producer's estimates of these very data (AIPW fitted once, casework.produce)
effects = stored_estimates(ds, method=method, estimand=estimand) if store_results else None
if effects is None:
    effects = measure_effects(ds, method=method, estimand=estimand, cohort=cohort)
board = effects_table(ds, effects=effects)  # what the boards show (stored by casework.produce, not here)
board[["label", "estimate", "ci_low", "ci_high", "n_treated", "n_control", "n_trimmed", "truth", "note"]]

# %%
methods = ["ols", "ipw", "match"] if not small else ["ols"]
sampled = len(fit) < len(cohort)
on_fit = measure_effects(ds, method=method, estimand=estimand, cohort=fit) if sampled else effects
comparison = pd.concat([on_fit] + [measure_effects(ds, method=m, estimand=estimand, cohort=fit) for m in methods])
comparison = comparison.assign(persons=len(fit), cohort=len(cohort))
comparison.pivot_table(index="label", columns="method", values="estimate")

# %%
ax = forest_plot(board, truth="truth" if ds.is_synthetic else None)
ax.set_title("Effekt auf die Integration innerhalb von 12 Monaten (ATT)")
plt.show()

# %% [markdown]
# ## Diagnostics for the most frequent measure
# Balance (standardised mean differences before and after weighting; |SMD| < 0.1 is good) and
# overlap of the propensity scores; on a larger cohort on the sample above.

# %%
top = effects.dropna(subset=["estimate"]).sort_values("n_treated").iloc[-1]["measure"]
sample = effect_sample(fit, top)
result = estimate(sample, "treated", "integration_12m", covariates, method=method, estimand=estimand)
print(result.summary())
fig, axes = plt.subplots(1, 2, figsize=(12, 5))
result.diagnostics.love_plot(ax=axes[0], top=20)
result.diagnostics.overlap_plot(ax=axes[1])
plt.tight_layout()
plt.show()

# %% [markdown]
# ## For whom? Effects by Profillage, sex and age group
# Subgroup effects come with Holm-adjusted p-values and Benjamini-Hochberg q-values: with many
# subgroups some look "significant" by chance alone.

# %%
index_profillage = profillagen(ds).set_index("assessment_id")["profillage"]
sample = sample.assign(age_group=pd.cut(sample["age"], [0, 24, 34, 49, 120],
                                        labels=["unter 25", "25 bis 34", "35 bis 49", "50 und älter"]),
                       sex=sample["female"].map({1: "weiblich", 0: "männlich"}),
                       profillage=sample["assessment_id"].map(index_profillage))
by_group = pd.concat([effects_by(sample, g, "treated", "integration_12m", covariates,
                                 method=method, estimand=estimand, min_treated=20)
                      for g in ("profillage", "sex", "age_group")], ignore_index=True).assign(measure=top)
if ds.ground_truth:  # the truth by Profillage (the rule table's segments) beside the estimates
    seg_truth = {r["segment"]: r["value"] for r in ds.ground_truth["effects"]
                 if r["measure"] == top and r["estimand"] == estimand and r["segment"]}
    by_group["truth"] = [seg_truth.get(lv) if g == "profillage" else None
                         for g, lv in zip(by_group["group"], by_group["level"])]
by_group

# %% [markdown]
# ## Sensitivity and refutation
# E-values for every measure: how strong an unmeasured confounder would have to be to explain
# the effect away. Placebo treatment, placebo outcome and a random common cause for the most
# frequent measure.

# %%
effect_evalues(effects)

# %%
refutations = sensitivity_table(sample, result).assign(measure=top)
refutations[["check", "estimate", "ci_low", "ci_high", "passed", "text"]]

# %% [markdown]
# ## Checks and further results

# %%
assert effects["measure"].is_unique
assert (effects.dropna(subset=["estimate"])["ci_low"] <= effects.dropna(subset=["estimate"])["ci_high"]).all()
if ds.ground_truth:
    hit = board.dropna(subset=["estimate", "truth"])
    print("intervals covering the truth:", int(((hit.ci_low <= hit.truth) & (hit.truth <= hit.ci_high)).sum()),
          "of", len(hit))
# the effects table the boards read is stored by casework.produce (one producer)
if store_results:
    ds.save_result("effects_methods", comparison)
    ds.save_result("effects_by_group", by_group)
    ds.save_result("effect_refutations", refutations)

# %% [markdown]
# ## Key ideas
# * The landmark design keeps waiting time out of the effect; the naive comparison is confounded.
# * All four estimators target the same quantity on the same trimmed population.
# * Subgroup effects need the multiple-comparison caveat; E-values say how robust an effect is.
