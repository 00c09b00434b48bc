# %% [markdown]
# # 4.01 – How many places of which offer will we need?
#
# **Question.** For one jobcenter: from today's cases per Profillage, the inflow and the movement
# between Profillagen, how many cases per segment can we expect in the next four quarters — and
# how many places of each network offer will they need, compared with what the network offers?
# (Seed 001: an agreed programme with expected case numbers per target group.)

# %% tags=["parameters"]
dataset = "../data/pankow"
small = False
store_results = False  # the pipeline sets True; exploring here never overwrites stored results
jobcenter = None
inflow_scenario = 0.10
coverage = None

# %%
import matplotlib.pyplot as plt

from casework import fmt
from casework.planning import plan_capacity
from casework.profiling import profillagen
from casework.store import Dataset

ds = Dataset.open(dataset)
if jobcenter is None:  # default: the jobcenter with the most persons
    jobcenter = ds.table("persons")["jc_id"].value_counts().index[0]
segments = profillagen(ds)
plan = plan_capacity(ds, jc_id=jobcenter, segments=segments, coverage=coverage)
plan.attrs["start_stock"], fmt.number(plan.attrs["inflow_per_quarter"], 1)

# %% [markdown]
# ## Cases per Profillage, next four quarters

# %%
cases = plan[plan["segment"] != "alle"].pivot_table(index="quarter", columns="segment", values="cases",
                                                    aggfunc="first")
cases.round(0)

# %% [markdown]
# ## Places needed against places offered

# %%
total = plan[plan["segment"] == "alle"][["quarter", "label", "places_needed", "places_offered", "gap"]]
total.round(1)

# %%
last = total[total["quarter"] == total["quarter"].max()].set_index("label")
ax = last[["places_needed", "places_offered"]].plot.barh(figsize=(7, 4), color=["#0072B2", "#999999"])
ax.set_xlabel("Plätze")
plt.show()

# %% [markdown]
# ## Scenario: more inflow

# %%
scenario = plan_capacity(ds, jc_id=jobcenter, segments=segments, inflow_change=inflow_scenario, coverage=coverage)
compare = (scenario[scenario["segment"] == "alle"].groupby("quarter")["cases"].first().rename("Szenario")
           .to_frame().join(plan[plan["segment"] == "alle"].groupby("quarter")["cases"].first().rename("Basis")))
compare.round(0)

# %% [markdown]
# ## Checks and results

# %%
assert (compare["Szenario"] >= compare["Basis"]).all() or inflow_scenario < 0
if store_results:
    ds.save_result("capacity_plan", plan)
    ds.save_result("capacity_scenario", scenario)

# %% [markdown]
# ## Key ideas
# * The projection is a model: exit, inflow and transition rates are last year's, stated in ``plan.attrs``.
# * A gap (offered minus needed) below zero is where the network needs more places.
