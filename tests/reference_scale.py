"""The earlier, slower implementations of what the Land-scale pipeline now computes faster (issue 20).

Kept verbatim (apart from their imports) so that tests/test_scale.py can assert that every faster version gives
exactly the same numbers on data with all the hard cases (several jobcenters, missing partners, every referral
status, cell keys on and off).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework import privacy
from casework.boards.build import _attributes, _month_start, age_group
from casework.cells import month_ordinal


def referral_cube(ds, segments: pd.Series | None = None, cell_keys: bytes | None = None) -> pd.DataFrame:
    """casework.boards.build.referral_cube before issue 20's scale work: one Python call per cell and status."""
    r = ds.table("referrals").merge(ds.table("offers")[["offer_id", "partner_id", "measure", "project_id"]],
                                    on="offer_id", how="left")
    r = r.merge(ds.table("partners")[["partner_id", "kind"]].rename(columns={"kind": "partner_kind"}),
                on="partner_id", how="left")
    r = r.merge(_attributes(ds, segments, cell_keys), on="person_id", how="left")
    r["m"] = month_ordinal(r["referred"]).astype(int)
    r["project_id"] = r["project_id"].fillna("").astype(str).str.split("/").str[0]
    year = 1970 + r["m"] // 12
    r = r.assign(month=_month_start(r["m"].to_numpy()).to_numpy(),
                 age_group=age_group((year - r["birth_year"]).to_numpy()).astype(str).to_numpy())
    dims = ["jc_id", "month", "partner_kind", "measure", "project_id", "sex", "age_group", "segment"]
    g = r.groupby(dims, observed=True)
    out = g.agg(referrals=("referral_id", "size"), started=("started", "count"),
                persons=("person_id", "nunique")).reset_index()
    for status in ("completed", "dropped_out", "no_show"):
        out[status] = g["status"].apply(lambda s, v=status: int((s == v).sum())).to_numpy()
    if cell_keys is not None:
        rk = privacy.record_keys(r["referral_id"].astype(str), cell_keys, "referral")
        counted = {"referrals": np.ones(len(r), bool), "started": r["started"].notna().to_numpy(),
                   **{s: (r["status"] == s).to_numpy() for s in ("completed", "dropped_out", "no_show")}}
        keys = pd.DataFrame({f"{c}{privacy.KEY_SUFFIX}": np.where(flag, rk, 0) for c, flag in counted.items()})
        sums = keys.groupby([r[d] for d in dims], observed=True).sum() % privacy.KEY_MODULUS
        out = out.merge(sums.reset_index(), on=dims, how="left")
    return out
