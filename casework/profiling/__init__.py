"""Profiling and segmentation of jobseekers.

* :func:`assign_profillage` / :func:`profillagen` — Profillagen of the BA 4-phase
  model from a documented, configurable rule table (an assumption: the official
  rules are not public);
* :class:`StatisticalProfiler` — the probability of integration within 12
  months (interpretable logit or gradient boosting, calibrated), AMS-like
  segments, evaluation; :func:`fairness_audit` of any profiling model;
* :class:`LatentClassModel` / :func:`latent_classes` — latent profiles of needs;
* :func:`transition_matrix` / :func:`sankey_figure` — movement between groups.
"""

from casework.profiling.latent import LatentClassModel, latent_classes
from casework.profiling.rules import (
    DEFAULT_RULES,
    RULES_ARE_ASSUMPTION,
    ProfillageRules,
    assign_profillage,
    profillagen,
    rule_table,
    sankey_figure,
    transition_matrix,
)
from casework.profiling.statistical import (
    StatisticalProfiler,
    fairness_audit,
    fairness_plot,
    profiling_frame,
    tradeoff_curve,
    tradeoff_statement,
)

__all__ = ["assign_profillage", "profillagen", "rule_table", "ProfillageRules", "DEFAULT_RULES",
           "RULES_ARE_ASSUMPTION", "transition_matrix", "sankey_figure", "StatisticalProfiler", "fairness_audit",
           "fairness_plot", "tradeoff_curve", "tradeoff_statement", "profiling_frame", "LatentClassModel",
           "latent_classes"]
