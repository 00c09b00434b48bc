"""The cooperation network: needs coverage ("aus einer Hand"), the referral graph and need → partner → outcome flows.

**Needs coverage** is the share of identified needs for which a matching
network offer started within three months. No public statistic measures it;
it is what the networks promise. A need is *identified* at an assessment
when its severity is at least ``min_severity`` (1 = moderate); it is
*covered* when the person started an offer addressing that need
(``offers.need``) within ``window_days`` after the assessment. The unit is
an assessment and a need; only assessments in the period count (default: the
months in which the network took referrals at all).
"""

from __future__ import annotations

import networkx as nx
import pandas as pd

from casework import schema as S

__all__ = ["needs_coverage", "network_graph", "flow_table", "sankey_figure"]


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


#: persons per piece for needs coverage (at most; smaller when the engine's pieces are): every identified need of a
#: piece is melted to one row per assessment and need, 8.4 GB for the default pieces of 1,100,000 persons and none
#: above the process's 2.7 GB with this size (measured: docs/scale.md)
COVERAGE_PIECE = 100_000


def needs_coverage(ds, window_days: int = 91, min_severity: int = 1, by: str = "need", start=None,
                   end=None) -> pd.DataFrame:
    """Identified needs, how many were met by a matching offer within the window, and the share.

    Counted piece by piece (:func:`casework.engine.map_partitions`; an assessment and the referrals that may
    cover it belong to one person, so the counts add up): every identified need of an NRW-sized dataset melted
    at once took several GB (docs/scale.md).

    Parameters
    ----------
    by : {"need", "partner_kind"}
        ``need``: one row per need; ``partner_kind``: covered needs by the kind of partner that met them.

    Returns
    -------
    DataFrame
        by="need": need, label, needs, covered, share.
        by="partner_kind": partner_kind, label, covered.

    Examples
    --------
    >>> from casework import synth
    >>> cov = needs_coverage(synth.generate("pankow", seed=1, persons=1500))
    >>> bool((cov["covered"] <= cov["needs"]).all())
    True
    """
    from casework import engine

    if start is None or end is None:  # the period of the whole network, not of a piece
        referred = ds.table("referrals")["referred"]
        start = referred.min() if start is None else start
        end = referred.max() if end is None else end
    parts = engine.map_partitions(ds, _coverage_counts, window_days, min_severity, start, end,
                                  desc="Bedarfsdeckung", tables=["assessments", "referrals"],
                                  max_persons=min(COVERAGE_PIECE, engine.partition_persons()))
    total = {k: pd.concat([p[k] for p in parts]).groupby(level=0).sum() for k in ("needs", "covered", "kinds")}
    if by == "partner_kind":
        out = total["kinds"].astype(int).rename("covered").rename_axis("partner_kind").reset_index()
        out.insert(1, "label", out["partner_kind"].map(S.PARTNER_KINDS))
        return out
    out = total["needs"].astype(int).rename("needs").rename_axis("need").to_frame()
    out["covered"] = total["covered"].reindex(out.index).fillna(0).astype(int)
    out["share"] = out["covered"] / out["needs"]
    out = out.reset_index()
    out.insert(1, "label", out["need"].map(S.NEEDS))
    return out.sort_values("needs", ascending=False).reset_index(drop=True)


def _coverage_counts(ds, window_days: int, min_severity: int, start, end) -> dict[str, pd.Series]:
    """One piece's identified needs by need, and its covered ones by need and by partner kind."""
    ident = _identified(ds, min_severity, start, end)
    starts = _starts(ds)
    m = ident.merge(starts[["person_id", "need", "started", "partner_kind"]], on=["person_id", "need"], how="left")
    lag = (m["started"] - m["identified"]).dt.days
    m["hit"] = lag.between(0, window_days)
    hits = m[m["hit"]].sort_values("started", kind="stable").drop_duplicates(["assessment_id", "need"])
    return {"needs": ident.groupby("need").size(), "covered": hits.groupby("need").size(),
            "kinds": hits.groupby("partner_kind").size()}


def network_graph(ds) -> nx.DiGraph:
    """Jobcenters → partners → offers, edge weight ``referrals`` (and ``started``)."""
    g = nx.DiGraph()
    partners = ds.table("partners")
    offers = ds.table("offers")
    r = ds.table("referrals").merge(offers[["offer_id", "partner_id"]], on="offer_id")
    per_offer = r.groupby("offer_id").agg(referrals=("referral_id", "size"), started=("started", "count"))
    per_partner = r.groupby("partner_id").agg(referrals=("referral_id", "size"), started=("started", "count"))
    for jc in ds.table("jobcenters").itertuples():
        g.add_node(jc.jc_id, kind="jobcenter", label=jc.name)
    for p in partners.itertuples():
        g.add_node(p.partner_id, kind="partner", partner_kind=p.kind, label=p.name)
        w = per_partner.loc[p.partner_id] if p.partner_id in per_partner.index else None
        g.add_edge(p.jc_id, p.partner_id, referrals=int(w["referrals"]) if w is not None else 0,
                   started=int(w["started"]) if w is not None else 0)
    for o in offers.itertuples():
        g.add_node(o.offer_id, kind="offer", measure=o.measure, label=o.name)
        w = per_offer.loc[o.offer_id] if o.offer_id in per_offer.index else None
        g.add_edge(o.partner_id, o.offer_id, referrals=int(w["referrals"]) if w is not None else 0,
                   started=int(w["started"]) if w is not None else 0)
    return g


def flow_table(ds) -> pd.DataFrame:
    """Referral flows need → partner kind → outcome: columns need, partner_kind, outcome, referrals."""
    r = ds.table("referrals").merge(ds.table("offers")[["offer_id", "need", "partner_id"]], on="offer_id")
    r = r.merge(ds.table("partners")[["partner_id", "kind"]].rename(columns={"kind": "partner_kind"}),
                on="partner_id")
    return (r.groupby(["need", "partner_kind", "status"]).size().rename("referrals").reset_index()
            .rename(columns={"status": "outcome"}))


def sankey_figure(flows: pd.DataFrame, min_flow: int = 20):
    """Plotly Sankey of :func:`flow_table` (flows under ``min_flow`` are left out, as on the boards)."""
    import plotly.graph_objects as go

    f = flows[flows["referrals"] >= min_flow]
    needs = [f"Bedarf: {S.NEEDS.get(n, n)}" for n in f["need"]]
    kinds = [S.PARTNER_KINDS.get(k, k) for k in f["partner_kind"]]
    outs = [S.REFERRAL_STATUS.get(o, o) for o in f["outcome"]]
    labels = list(dict.fromkeys(needs + kinds + outs))
    idx = {lab: i for i, lab in enumerate(labels)}
    first = pd.DataFrame({"s": needs, "t": kinds, "v": f["referrals"].to_numpy()}).groupby(["s", "t"]).sum()
    second = pd.DataFrame({"s": kinds, "t": outs, "v": f["referrals"].to_numpy()}).groupby(["s", "t"]).sum()
    links = pd.concat([first, second]).reset_index()
    fig = go.Figure(go.Sankey(node={"label": labels, "pad": 12},
                              link={"source": [idx[s] for s in links["s"]], "target": [idx[t] for t in links["t"]],
                                    "value": links["v"].tolist()}))
    fig.update_layout(title="Bedarf → Netzwerkpartner → Ergebnis der Zuweisung", height=480)
    return fig
