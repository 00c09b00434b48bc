# %% [markdown]
# # 0.01 – Who are our customers? Describing a dataset
#
# **Question.** Before any profiling or effect estimate: what is in the dataset, is it valid,
# and who are the people in it — their characteristics, their needs (Handlungsbedarfe) in the
# four key groups of the 4-phase model, and how the caseload and integrations develop?
#
# The notebook works on any dataset of the case data model (synthetic or imported); set
# `dataset` to its folder. It is parameterised for papermill.

# %% tags=["parameters"]
dataset = "../data/gelsenkirchen"
small = False
store_results = False  # the pipeline sets True; exploring here never overwrites stored results

# %% [markdown]
# ## Data
# Open the dataset (checksums are verified) and validate it against the case data model.
# Every problem would be listed with table, row and column.

# %%
from casework import describe, panel
from casework.schema import validate
from casework.store import Dataset

ds = Dataset.open(dataset)
report = validate(ds)
ds.release()  # validation read every table; the steps below read only their own (docs/scale.md: Land scale)
report

# %%
describe.table_sizes(ds)

# %% [markdown]
# ## Who are the customers?
# Shares among all persons in the dataset (German labels are the ones boards see).

# %%
overview = describe.population_overview(ds)
overview

# %% [markdown]
# ## Needs at the first assessment
# Severity 1 = moderate, 2 = serious. DOMAIN.md section 3: health restrictions ≈ 45 %,
# no vocational qualification ≈ 40–75 %, debt ≈ 25 %, addiction ≈ 10 %, psychosocial ≈ 23 %.

# %%
needs = describe.needs_profile(ds)
describe.needs_plot(needs)

# %%
counts = describe.barrier_counts(ds)
counts

# %% [markdown]
# ## Caseload and integrations over time
# Stock = persons with a benefit spell in the month; integration = start of svB employment,
# training or self-employment (never publicly funded employment).

# %%
jm = panel.jobcenter_months(ds)
describe.caseload_plot(jm)

# %% [markdown]
# ## Checks
# The dataset must be valid and every person must appear in the baseline description.

# %%
assert report.ok, report.summary()
assert abs(counts["share"].sum() - 1) < 1e-9
if store_results:
    ds.save_result("population_needs", needs)
    ds.save_result("population_overview", overview)
    ds.save_result("jobcenter_months", jm)

# %% [markdown]
# ## Key ideas
# * A dataset is only analysed after validation; every problem names table, row and column.
# * Most customers have needs in two or more key groups — which is why the network matters.
# * The caseload panel (stock, integrations) uses the same definitions as the key figures.
