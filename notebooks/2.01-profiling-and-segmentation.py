# %% [markdown]
# # 2.01 – Who falls into which group? Profillagen, statistical profiling, latent needs
#
# **Question.** How do our long-term unemployed customers fall into groups, how do the groups
# move from one assessment to the next, how well does a statistical profile predict integration
# within 12 months — and is that profile fair?
#
# **Caveat.** The BA's official Profillagen rules are not public; the rule table below is a
# documented assumption (DOMAIN.md 1.13–1.15). A statistical profile is an aid to the caseworker,
# never the decision (DOMAIN.md 5.6: the AMS case).

# %% tags=["parameters"]
dataset = "../data/gelsenkirchen"
small = False
store_results = False  # the pipeline sets True; exploring here never overwrites stored results
jobcenter = None
period_start = None
period_end = None

# %%
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from casework.profiling import (
    RULES_ARE_ASSUMPTION,
    StatisticalProfiler,
    fairness_audit,
    fairness_plot,
    latent_classes,
    profiling_frame,
    profillagen,
    rule_table,
    sankey_figure,
    tradeoff_curve,
    tradeoff_statement,
    transition_matrix,
)
from casework.profiling.latent import key_group_items
from casework.profiling.statistical import PROFILING_FEATURES
from casework.store import Dataset

ds = Dataset.open(dataset)
print(RULES_ARE_ASSUMPTION)
rule_table()

# %% [markdown]
# ## Profillagen at every assessment

# %%
prof = profillagen(ds)
if jobcenter:
    prof = prof[prof["person_id"].isin(ds.table("persons").query("jc_id == @jobcenter")["person_id"])]
if period_start or period_end:
    prof = prof[prof["date"].between(pd.Timestamp(period_start or "1900"), pd.Timestamp(period_end or "2100"))]
first = prof[prof["sequence"] == 1]
first["label"].value_counts(normalize=True).rename("Anteil").to_frame()

# %% [markdown]
# ## Transitions from one assessment to the next

# %%
transitions = transition_matrix(prof)
transitions.round(3)

# %%
sankey_figure(prof, min_flow=5 if small else 20)

# %% [markdown]
# ## Statistical profiling: chance of integration within 12 months
# Baseline data of the analysis cohort (docs/estimands.md); the model is fitted on two thirds of
# the jobcenters' cohort (random split, fixed seed) and judged on the rest.

# %%
frame = profiling_frame(ds)
feats = [f for f in PROFILING_FEATURES if f in frame]
test_mask = (pd.util.hash_pandas_object(frame["person_id"], index=False) % 3 == 0).to_numpy()
train, test = frame[~test_mask], frame[test_mask]
models = {m: StatisticalProfiler(model=m, random_state=0).fit(train[feats], train["integration_12m"])
          for m in (["logit"] if small else ["logit", "gbm"])}
metrics = pd.DataFrame({m: {k: v for k, v in p.evaluate(test[feats], test["integration_12m"]).items()
                            if k in ("auc", "brier", "log_loss", "base_rate")} for m, p in models.items()}).T
metrics

# %%
fig, ax = plt.subplots(figsize=(5, 5))
for m, p in models.items():
    cal = p.evaluate(test[feats], test["integration_12m"])["calibration"]
    ax.plot(cal["mean_predicted"], cal["observed"], marker="o", label=m)
ax.plot([0, 1], [0, 1], color="#999999", linestyle="--")
ax.set_xlabel("vorhergesagte Chance")
ax.set_ylabel("beobachteter Anteil")
ax.legend()
plt.show()

# %%
models["logit"].coefficients_.head(15)

# %% [markdown]
# ## Fairness audit
# By sex, citizenship, age group and disability: segment shares, calibration within groups, and
# the false "low chance" rate among people who *did* integrate (DOMAIN.md 5.11).

# %%
p_test = models["logit"].predict_proba(test[feats])[:, 1]
segments = models["logit"].segment(proba=p_test)
groups = test[["sex", "citizenship_group", "age_group", "disability_group"]].rename(
    columns={"citizenship_group": "citizenship", "disability_group": "disability"})
audit = fairness_audit(test["integration_12m"], p_test, segments, groups)
audit

# %%
fairness_plot(audit)
plt.show()
print(tradeoff_statement(audit, "citizenship"))

# %%
curve = tradeoff_curve(test["integration_12m"], p_test, groups["citizenship"])
ax = curve.plot(x="accuracy", y="ratio", marker="o", legend=False, figsize=(5, 4))
ax.set_ylabel("Verhältnis der Fehlklassifikationsraten")
plt.show()

# %% [markdown]
# ## Latent profiles of needs
# A latent class model over the needs at the first assessment — one item per key group with its sub-needs,
# since a key group holds its sub-needs (4-phase model); the number of classes is
# chosen by BIC, stability by bootstrap (adjusted Rand index). Large datasets: the model is fitted
# on a random sample of 50,000 persons and then classifies everyone.

# %%
latent = latent_classes(ds, random_state=0)
lc, model = latent.classes, latent.model
model.bic_table_

# %%
latent.description

# %%
first = ds.table("assessments").sort_values(["person_id", "date"]).drop_duplicates("person_id")
items = key_group_items(first)[model.columns_]
items = items.sample(min(len(items), 20_000), random_state=0)  # stability on a sample keeps the run short
stability = model.bootstrap_stability(items, n_boot=3 if small else 10)
print(f"bootstrap ARI: median {pd.Series(stability).median():.3f}, min {stability.min():.3f}")
if ds.truth is None:
    print("no ground truth: the latent classes cannot be compared with a true classification")
else:
    truth = ds.truth.set_index("person_id")["latent_class"].reindex(lc["person_id"])
    ari_truth = adjusted_rand_score(truth, lc["latent_class"])
    print(f"ARI against the true latent classes: {ari_truth:.3f}")

# %% [markdown]
# ## Checks and results

# %%
assert prof["profillage"].notna().all()
assert metrics["auc"].min() > 0.55
# the Profillagen the boards read are stored by casework.produce (one producer, never filtered by a jobcenter)
if store_results:
    ds.save_result("profiling_metrics", metrics.reset_index(names="model"))
    ds.save_result("fairness_audit", audit)
    ds.save_result("latent_class_description", latent.description)
    ds.save_result("profillage_transitions", transitions.reset_index(names="from"))

# %% [markdown]
# ## Key ideas
# * Profillagen here are a documented assumption; their shares are not official statistics.
# * A calibrated model can still be unfair: the audit shows who is wrongly labelled "low chance".
# * Latent classes describe need patterns, not people's worth; they are stable when the bootstrap ARI is high.
