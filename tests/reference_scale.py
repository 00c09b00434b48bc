"""The earlier, slower implementations of what the Land-scale pipeline now computes faster (issue 20).

Kept verbatim (apart from their imports) so that tests/test_scale.py can assert that every faster version gives
exactly the same numbers on data with all the hard cases (several jobcenters, missing partners, every referral
status, cell keys on and off).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework import privacy
from casework import schema as S
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

# --------------------------------------------------------------------------- casework.network before the pieces


def _identified(ds, min_severity: int, start=None, end=None) -> pd.DataFrame:
    a = ds.table("assessments")
    if start is None or end is None:
        referred = ds.table("referrals")["referred"]
        start = referred.min() if start is None else start
        end = referred.max() if end is None else end
    a = a[(a["date"] >= pd.Timestamp(start)) & (a["date"] <= pd.Timestamp(end))]
    cols = {S.NEED_COLUMNS[k]: k for k in S.SUB_NEEDS if S.NEED_COLUMNS[k] in a} | {
        S.NEED_COLUMNS[k]: k for k in S.KEY_GROUPS if S.NEED_COLUMNS[k] in a}
    long = a.melt(id_vars=["assessment_id", "person_id", "date"], value_vars=list(cols), var_name="column",
                  value_name="severity")
    long = long[long["severity"] >= min_severity]
    long["need"] = long["column"].map(cols)
    return long[["assessment_id", "person_id", "need", "date"]].rename(columns={"date": "identified"})


def _starts(ds) -> pd.DataFrame:
    r = ds.table("referrals")
    r = r[r["started"].notna()].merge(ds.table("offers")[["offer_id", "need", "partner_id", "measure"]], on="offer_id")
    return r.merge(ds.table("partners")[["partner_id", "kind"]].rename(columns={"kind": "partner_kind"}),
                   on="partner_id")


def needs_coverage(ds, window_days: int = 91, min_severity: int = 1, by: str = "need", start=None,
                   end=None) -> pd.DataFrame:
    """casework.network.needs_coverage before issue 20: every identified need of every person melted at once.

    Parameters
    ----------
    by : {"need", "partner_kind"}
        ``need``: one row per need; ``partner_kind``: covered needs by the kind of partner that met them.

    Returns
    -------
    DataFrame
        by="need": need, label, needs, covered, share.
        by="partner_kind": partner_kind, label, covered.

    """
    ident = _identified(ds, min_severity, start, end)
    starts = _starts(ds)
    m = ident.merge(starts[["person_id", "need", "started", "partner_kind"]], on=["person_id", "need"], how="left")
    lag = (m["started"] - m["identified"]).dt.days
    m["hit"] = lag.between(0, window_days)
    hits = m[m["hit"]].sort_values("started", kind="stable").drop_duplicates(["assessment_id", "need"])
    if by == "partner_kind":
        out = hits.groupby("partner_kind").size().rename("covered").reset_index()
        out.insert(1, "label", out["partner_kind"].map(S.PARTNER_KINDS))
        return out
    out = ident.groupby("need").size().rename("needs").to_frame()
    out["covered"] = hits.groupby("need").size().reindex(out.index).fillna(0).astype(int)
    out["share"] = out["covered"] / out["needs"]
    out = out.reset_index()
    out.insert(1, "label", out["need"].map(S.NEEDS))
    return out.sort_values("needs", ascending=False).reset_index(drop=True)
