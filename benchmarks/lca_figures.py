"""docs/profiling.md figures: latent-class ARI against the oracle on the demo scenarios (not part of make bench).

Run: python benchmarks/lca_figures.py   (about 20 minutes on the 2-core machine; one JSON line per scenario)
The oracle classifies every person with the true classes' item profiles and shares (naive Bayes, estimated from
the recorded truth), over the twelve need columns and over the model's key-group items.
"""
import json
import time

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from casework import synth
from casework.profiling import latent_classes
from casework.profiling.latent import NEED_ITEMS, LatentClassModel, key_group_items, oracle_ari

for scn, n in [("gelsenkirchen", 6000), ("gelsenkirchen", 20000), ("pankow", 52000), ("nrw_teilhabe", 200000)]:
    t0 = time.perf_counter()
    ds = synth.generate(scn, seed=1, persons=n)
    res = latent_classes(ds, n_classes=5)
    lc = res.classes
    truth = ds.truth.set_index("person_id")["latent_class"].reindex(lc["person_id"]).to_numpy()
    a = ds.table("assessments").sort_values(["person_id", "date"], kind="stable").drop_duplicates("person_id")
    a = a.set_index("person_id").reindex(lc["person_id"])
    X12 = a[[c for c in NEED_ITEMS]].to_numpy()
    Xkg = key_group_items(a.reset_index()).to_numpy()
    sub = np.random.default_rng(0).choice(len(X12), min(len(X12), 50000), replace=False)
    m12 = LatentClassModel(n_classes=5, random_state=0).fit(pd.DataFrame(X12[sub]))
    row = {"scenario": scn, "persons": n, "first_assessments": len(lc),
           "ari_model_keygroups": round(adjusted_rand_score(truth, lc["latent_class"]), 3),
           "ari_oracle_12": round(oracle_ari(X12, truth), 3), "ari_oracle_keygroups": round(oracle_ari(Xkg, truth), 3),
           "ari_model_12": round(adjusted_rand_score(truth, m12.predict(pd.DataFrame(X12))), 3),
           "seconds": round(time.perf_counter() - t0, 1)}
    if n <= 20000:
        bic = latent_classes(ds).model
        row["classes_by_bic"] = int(bic.n_classes_)
    print(json.dumps(row), flush=True)
