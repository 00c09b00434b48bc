# %% [markdown]
# # 3.03 – Did the model project make a difference for the jobcenter as a whole?
#
# **Question.** Compared with similar jobcenters, did the monthly integration rate of the
# project jobcenter(s) change after the project started? (Difference-in-differences at
# jobcenter-month level, docs/estimands.md.)
#
# With few treated jobcenters ordinary cluster-robust errors are far too optimistic. The
# p-value compares the estimate with every other assignment of the project start(s) to the
# eligible jobcenters (randomisation inference); the interval is the set of effects that test
# does not reject. With one project jobcenter of eight no p-value can fall below 1/8: the
# result then states that a 95 % interval is not attainable and shows the 87.5 % interval.
# Jobcenters of other projects never serve as comparison; jobcenters that start at different
# times are compared by group-time effects (Callaway & Sant'Anna), never at the earliest start.

# %% tags=["parameters"]
dataset = "../data/pankow"
small = False
store_results = False  # the pipeline sets True; exploring here never overwrites stored results

# %%
import matplotlib.pyplot as plt

from casework.panel import jobcenter_months
from casework.produce import did_tables, evaluable_projects
from casework.store import Dataset

ds = Dataset.open(dataset)
evaluable = evaluable_projects(ds)  # empty when no jobcenter runs without a project: no comparison
in_projects = set(ds.table("projects")["jc_id"])
panel = jobcenter_months(ds)
evaluable

# %%
# the same function stores the boards' DiD table in the pipeline (casework.produce); here it only narrates
did_table, events = did_tables(ds, n_boot=199 if small else 999, panel=panel)
did_table

# %% [markdown]
# ## Trends: project jobcenter(s) against comparison jobcenters

# %%
for g in evaluable.itertuples():
    p = panel[~panel["jc_id"].isin(in_projects - set(g.jc_ids))]
    p = p.assign(group=p["jc_id"].isin(g.jc_ids).map({True: "Projekt", False: "Vergleich"}))
    trend = p.groupby(["group", "month"]).agg(integrations=("integrations", "sum"), stock=("stock", "sum"))
    trend["rate"] = trend["integrations"] / trend["stock"]
    ax = trend["rate"].unstack(0).rolling(3).mean().plot(figsize=(8, 3.5), color=["#0072B2", "#999999"])
    ax.axvline(g.start, color="#D55E00", linestyle="--")
    ax.set_ylabel("Integrationen je Bestand (3-Monats-Mittel)")
    ax.set_title(g.key)
    plt.show()

# %% [markdown]
# ## Event study and pre-trend check
# Effects by quarter relative to the start; the month before the start is the reference (it
# belongs to no bin). Leads (before the start) should be near zero; the pre-trend p-value
# tests them with the same randomisation, without the project months. The intervals are at
# the level of the main result (87.5 % with one project jobcenter of eight).

# %%
for key, es in events.groupby("project") if len(events) else []:
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.errorbar(es["event_time"], es["estimate"], yerr=[es["estimate"] - es["ci_low"], es["ci_high"] - es["estimate"]],
                fmt="o", color="#0072B2")
    ax.axhline(0, color="#999999")
    ax.axvline(-0.5, color="#D55E00", linestyle="--")
    ax.set_xlabel("Monate relativ zum Projektstart")
    ax.set_title(key)
    plt.show()

# %% [markdown]
# ## Checks and results

# %%
assert did_table.empty or (did_table["ci_low"] <= did_table["ci_high"]).all()
# the interval and the p-value come from one test: zero lies outside exactly when p <= 1 - ci_level
assert did_table.empty or ((did_table["p_value"] <= 1 - did_table["ci_level"] + 1e-12)
                           == ~((did_table["ci_low"] <= 0) & (0 <= did_table["ci_high"]))).all()
# the DiD table the boards read is stored by casework.produce (one producer)
if store_results:
    ds.save_result("event_study", events)

# %% [markdown]
# ## Key ideas
# * The comparison is other jobcenters over the same months: common shocks (e.g. Covid) cancel.
# * With one project jobcenter the honest interval is wide; it says what the data can carry.
# * The attainable level is part of the result: with n possible assignments no test is
#   sharper than 1/n, and the board sentence says so.
