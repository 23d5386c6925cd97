"""Every warning the estimators can give, as a stable code with its values and one English template.

An estimator never writes a warning sentence itself: it builds a :class:`Note`
(a code from :data:`TEMPLATES` and the numbers that go into it) and returns it on
its result; it never issues a Python warning. The English text (``Note.text``) is
what ``warnings`` in ``to_dict()`` shows; the code and values go into
``warning_codes`` so that a report can word the same warning in its own language
(``w.<code>`` in ``evalkit/report/translations.yaml``). The edge (the command
line, the results bundle, a report) decides how to show them.

Values are plain JSON values (int, float, str, bool, lists of them). A list is
written as its items joined by ``", "``; placeholders may carry a format spec
(``{smallest:.3f}``) or ``!r`` for a quoted column name.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PERIOD_VALUES",
    "PREPARATION_CODES",
    "TEMPLATES",
    "Note",
    "Notes",
    "as_number",
    "fields",
]

_ALT = "compare with inference='conley_taber' or 'permutation'"
_UNBOUNDED = (
    "so the smallest p-value this design can produce is 1/{assignments} = {smallest:.3f}, "
    "above alpha = {alpha:g}; no effect of any size can be declared significant at the "
    "{level:.0%} level and the interval is unbounded"
)

#: English template of every warning, by code (the one place these sentences live).
TEMPLATES: dict[str, str] = {
    # --- data preparation (2×2, TWFE, event study, Bacon) ---
    "dropped_missing_outcome": (
        "{n} row(s) with a missing outcome {outcome!r} were dropped ({kept} of {total} rows remain)"
    ),
    "dropped_missing_covariate": "{n} row(s) with a missing covariate were dropped",
    "single_unit_cohorts": (
        "cohort(s) {cohorts} have a single unit; their effects rest on one unit and cannot be "
        "told apart from that unit's own shocks"
    ),
    # --- few treated clusters: 2×2, TWFE and Bacon ---
    "few_treated_conley_taber": (
        "only {treated} of {clusters} clusters are treated (fewer than {threshold}); "
        "cluster-robust standard errors are far too small in this case, so the p-value and "
        "interval come from how the estimate compares with placebo estimates on the comparison "
        "clusters (Conley–Taber, with the Ferman–Pinto correction when cluster sizes differ)"
    ),
    "few_treated_permutation": (
        "only {treated} treated and {comparison} comparison clusters (fewer than {threshold} "
        "on one side of {clusters}): cluster-robust standard errors are too small in this "
        "case, so the p-value and interval come from randomization inference: how the "
        "estimate compares with the estimates when the treatment is given to other clusters"
    ),
    "permutation_conservative": (
        "permutation inference: with {assignments} distinct assignments the test cannot reject "
        "at exactly alpha = {alpha:g}; its exact size is {size:.1%}, so it rejects less often "
        "than nominal and the interval is correspondingly wider"
    ),
    "few_treated_cr1": (
        "only {treated} of {clusters} clusters are treated; cluster-robust (CR1) intervals "
        "over-reject badly with so few treated clusters — prefer inference='conley_taber' or "
        "'permutation'"
    ),
    "inference_failed": "{method} inference could not run ({reason})",
    "interval_cut_to_range": (
        "the interval was cut to [{range_low:g}, {range_high:g}], the values the effect can take "
        "(a difference of two shares); inverting the test does not know that range"
    ),
    "conley_taber_needs_common_start": (
        "Conley–Taber inference needs a treatment that starts at the same period in every row "
        "of a cluster"
    ),
    "no_few_treated_inference": (
        "no few-treated inference could run, so the interval is cluster-robust (CR1) and far "
        "too narrow with so few treated clusters; do not read its p-value as evidence"
    ),
    "wild_unreliable": (
        "the wild cluster bootstrap is unreliable with {treated} treated cluster(s) "
        "(MacKinnon–Webb): its p-value can be far too small or too large; " + _ALT
    ),
    # --- event study ---
    "event_times_dropped": (
        "event times [{event_times}] could not be estimated (collinear with the fixed effects; "
        "add never-treated units or bin the end points)"
    ),
    "event_wild_instead_of_conley_taber": (
        "Conley–Taber inference needs a treatment that starts at the same period in every row "
        "of a cluster, which is not the case here; the wild cluster bootstrap is used instead"
    ),
    "event_wild_unreliable": (
        "the wild cluster bootstrap is unreliable with {treated} treated cluster(s) "
        "(MacKinnon–Webb): its p-values can be far too small or too large; " + _ALT
    ),
    "event_few_treated_cr1": (
        "only {treated} of {clusters} clusters are treated; the event-time intervals are "
        "cluster-robust (CR1) and far too narrow with so few treated clusters — read them as "
        "descriptive"
    ),
    "modern_few_treated_cr1": (
        "only {treated} of {clusters} clusters are treated; the intervals and p-values of "
        "the event times are cluster-robust (CR1), the only inference they have here, and far "
        "too narrow with so few treated clusters — read them as descriptive"
    ),
    "imputation_leads_cr1": (
        "only {treated} of {clusters} clusters are treated; the event times from the start on "
        "get randomization inference, as the overall effect, but the pre-period (lead) "
        "coefficients are cluster-robust (CR1) and far too narrow with so few treated "
        "clusters — read them as descriptive"
    ),
    "modern_permutation_failed": (
        "randomization inference for the overall effect could not run ({reason}); its "
        "p-value and interval are cluster-robust (CR1) and far too narrow with so few treated "
        "clusters; do not read the p-value as evidence"
    ),
    # --- resampling inference ---
    "wild_enumerated": (
        "wild bootstrap: with {clusters} clusters all {draws} Rademacher sign vectors were "
        "enumerated; p-values come in steps of 2/{draws}"
    ),
    "permutation_unbounded": (
        "permutation inference: with {treated} treated of {clusters} clusters there are only "
        "{assignments} distinct ways to assign the treatment, " + _UNBOUNDED
    ),
    "permutation_not_identified": (
        "permutation inference: under {left_out} of the {assignments} assignments the moved "
        "treatment is collinear with the fixed effects (a municipality observed only before "
        "or only after the start), so no effect is defined there; the test uses the other "
        "assignments"
    ),
    "conley_taber_unbounded": (
        "Conley–Taber: with {treated} treated and {comparison} comparison clusters there are "
        "only {placebos} placebo estimates, " + _UNBOUNDED
    ),
    "ferman_pinto_nonpositive": (
        "Conley–Taber: the Ferman–Pinto variance model A + B/M gave a non-positive variance; "
        "placebos were not rescaled"
    ),
    # --- synthetic control, synthetic DiD, triple differences ---
    "placebo_unbounded": (
        "placebo inference: with {treated} treated unit(s) there are only {placebos} placebo "
        "estimates on the comparison units, " + _UNBOUNDED
    ),
    "placebo_sampled": (
        "placebo inference: {placebos} of the {assignments} possible placebo assignments were "
        "drawn at random; p-values come in steps of 1/({placebos} + 1)"
    ),
    "placebo_degenerate": (
        "placebo inference: every placebo estimate is the same ({value:.4g}), because the "
        "comparison units do not differ from one another; the spread of the placebos says "
        "nothing about the estimate's uncertainty, so there is no standard error"
    ),
    "synthetic_outside_range": (
        "synthetic control: the pilot's outcome lies outside the comparison units' range in "
        "{outside} of {pre_periods} pre-period(s), so no weighted average of them reproduces "
        "it (pre-period root mean squared gap {rmse:.4g}, against a standard deviation of "
        "{spread:.4g} in the comparison units' outcomes); the estimate carries that gap. "
        "Synthetic DiD allows a difference in level"
    ),
    "conformal_unbounded": (
        "conformal inference: with {periods} periods there are only {assignments} moving-block "
        "permutations of time, " + _UNBOUNDED
    ),
    "conformal_short_pre": (
        "conformal inference: the pre-period ({pre_periods} periods) is not longer than the "
        "post-period ({post_periods}); a model with a level, fitted on all periods, then leaves "
        "a wrong effect's residuals in the pre-period, so the test cannot reject an effect "
        "however large and the interval is unbounded; use placebo inference, synthetic "
        "control or a longer pre-period"
    ),
    "conformal_empty_set": (
        "conformal inference: every effect tested is rejected at alpha = {alpha:g}, zero "
        "included, so the confidence set is empty and there is no interval"
    ),
    "conformal_open_interval": (
        "conformal inference: the interval did not close within the effects tested; it is "
        "reported as unbounded on the open side"
    ),
    "conformal_set_gaps": (
        "conformal inference: the effects the test does not reject do not form one interval; "
        "conf_set lists its pieces, and the interval shown runs from the smallest to the "
        "largest of them, so it also holds effects the test rejects (which is how p can be "
        "below alpha while the interval contains zero)"
    ),
    # --- Callaway–Sant'Anna: data ---
    "cs_dropped_missing": "dropped {n} of {total} rows with a missing outcome or covariate",
    "cs_dropped_early_treated": (
        "dropped {n} unit(s) already treated in the first period ({first_period}); they have "
        "no pre-treatment period"
    ),
    "cs_dropped_unbalanced": (
        "dropped {n} unit(s) not observed in all {periods} periods (balanced panel); pass "
        "allow_unbalanced_panel=True to keep them"
    ),
    "cs_single_unit_cohorts": (
        "cohort(s) {cohorts} have a single unit; their effects rest on one unit and their "
        "standard errors are unreliable"
    ),
    "cs_cohort_no_pre_period": (
        "cohort {cohort}: no period before treatment (less {anticipation} anticipation "
        "period(s)); its effects cannot be estimated"
    ),
    "cs_cell_no_comparison": "ATT({group}, {time}): no comparison units; not estimated",
    # --- Callaway–Sant'Anna: few treated clusters ---
    "cs_few_treated_clusters": (
        "only {treated} treated cluster(s): cluster-robust standard errors and intervals are "
        "unreliable with so few treated clusters; read the estimates as descriptive"
    ),
    "cs_few_treated_permutation": (
        "only {treated} treated and {comparison} comparison clusters (fewer than {threshold} "
        "on one side of {clusters}); influence-function and bootstrap standard errors are too "
        "small in this case, so the p-values "
        "and intervals of the overall effects come from comparing the estimate with the "
        "estimates obtained when the start periods are given to other clusters (randomization "
        "inference)"
    ),
    "cs_permutation_failed": (
        "permutation inference could not run ({reason}); the intervals are influence-function "
        "intervals and far too narrow with so few treated clusters; do not read their p-values "
        "as evidence"
    ),
    "cs_rows_descriptive": (
        "with {treated} treated cluster(s) the rows of the aggregations and the ATT(g, t) cells "
        "keep influence-function intervals, which are far too narrow here: read them as "
        "descriptive (the overall values carry the permutation p-values and intervals)"
    ),
    "cs_permutation_unbounded": (
        "permutation inference: with {treated} treated of {clusters} clusters there are only "
        "{assignments} distinct ways to assign the cohorts to the clusters, " + _UNBOUNDED
    ),
    "cs_permutation_not_estimable": (
        "permutation inference: {failed} of {assignments} cohort assignments could not be "
        "estimated (e.g. no comparison units) and count as at least as extreme as the data"
    ),
    # --- imputation (Borusyak–Jaravel–Spiess) and Sun–Abraham ---
    "imputation_dropped": (
        "{n} treated row(s) were dropped: their unit or period has no untreated row, so their "
        "untreated outcome cannot be imputed"
    ),
    # --- HonestDiD sensitivity analysis ---
    "sensitivity_few_treated_normal": (
        "only {treated} of {clusters} clusters are treated: the robust intervals of the "
        "sensitivity analysis rest on a normal approximation with an estimated covariance, which "
        "fails with so few treated clusters (they come out far too narrow); read them as "
        "descriptive, or use the placebo-based (Conley–Taber) sensitivity bounds"
    ),
    "sensitivity_few_treated_placebo": (
        "only {treated} of {clusters} clusters are treated, so the normal approximation behind "
        "HonestDiD fails; the robust intervals use the placebo (Conley–Taber) distribution of the "
        "event-study coefficients on the comparison clusters instead"
    ),
    "sensitivity_projection": (
        "with {n} post-period coefficients the conditional test of relative magnitudes is too "
        "large to compute; the robust intervals are projection intervals from normal draws "
        "(valid, but wider)"
    ),
    "sensitivity_open_grid": (
        "a robust interval reaches the end of the grid of values tested; its true end lies further "
        "out"
    ),
    "sensitivity_empty": (
        "at some bound no effect is consistent with the pre-period coefficients and the "
        "restriction (empty interval): the restriction itself is rejected by the data"
    ),
    # --- person-level comparisons made by the analyses on top of these estimators ---
    "person_level_few_clusters": (
        "only {n} pilot {units}: persons are not independent within a municipality, so this "
        "person-level interval would overstate certainty; see the did_2x2 row"
    ),
    # --- estimates the analyses could not make (the row stays empty) ---
    "estimate_failed": "{reason}",
    "subgroup_empty": "no one in the analysed data belongs to the subgroup ({definition})",
    "subgroup_no_pilot": (
        "no one in the pilot group belongs to the subgroup ({definition}), so there is no "
        "effect to estimate"
    ),
    "subgroup_no_comparison": (
        "no one in the comparison group belongs to the subgroup ({definition}), so there is "
        "nothing to compare the pilot with"
    ),
}


def fields(code: str) -> set[str]:
    """Return the names of the values that the template of ``code`` uses.

    Parameters
    ----------
    code : str
        A key of :data:`TEMPLATES`.

    Returns
    -------
    set of str
        Placeholder names.
    """
    return {name for _, name, _, _ in string.Formatter().parse(TEMPLATES[code]) if name}


def as_number(value: Any) -> int | float:
    """Return a period, cohort or count as an int when it is whole, else as a float.

    Parameters
    ----------
    value : Any
        A Python or numpy number.

    Returns
    -------
    int or float
        ``2005`` for ``2005.0``; ``2005.5`` stays a float.
    """
    number = float(value)
    return int(number) if number.is_integer() else number


def _plain(value: Any) -> Any:
    """Return a JSON value: numpy scalars become Python numbers, tuples become lists."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()  # numpy scalar
    return value


def _shown(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return value


@dataclass(frozen=True, eq=True)
class Note:
    """One warning: a stable code and the values of its sentence.

    Parameters
    ----------
    code : str
        A key of :data:`TEMPLATES`.
    values : mapping
        The values its template uses (plain JSON values).

    Raises
    ------
    ValueError
        When the code has no template or a value the template needs is missing
        (a programming error, caught by the tests).
    """

    code: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in TEMPLATES:
            raise ValueError(f"no warning template for code {self.code!r}")
        plain = {str(k): _plain(v) for k, v in self.values.items()}
        object.__setattr__(self, "values", plain)
        missing = fields(self.code) - set(plain)
        if missing:
            raise ValueError(f"note {self.code!r} needs the value(s) {sorted(missing)}")

    @property
    def text(self) -> str:
        """The warning in English (what ``warnings`` in ``to_dict()`` shows)."""
        return TEMPLATES[self.code].format(**{k: _shown(v) for k, v in self.values.items()})

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"code", "values"}``, the entry of ``warning_codes``."""
        return {"code": self.code, "values": dict(self.values)}

    def with_periods(self, name: Callable[[int], str]) -> Note:
        """Return the note with its periods named by ``name`` (e.g. period 6 → ``2024-10``).

        Parameters
        ----------
        name : callable
            Maps a whole period number of the time column to its name. Values of
            :data:`PERIOD_VALUES` that are not whole numbers stay as they are.

        Returns
        -------
        Note
            The same code, the period values replaced.
        """

        def named(value: Any) -> Any:
            if isinstance(value, list):
                return [named(v) for v in value]
            whole = isinstance(value, int) and not isinstance(value, bool)
            return name(value) if whole else value

        values = {k: named(v) if k in PERIOD_VALUES else v for k, v in self.values.items()}
        return Note(self.code, values)

    def __str__(self) -> str:
        return self.text

    def __hash__(self) -> int:
        return hash((self.code, self.text))


class Notes:
    """The notes of one estimate, in the order they arose, each once.

    An estimate that fails part-way keeps what it had noted so far: pass a
    ``Notes`` to :func:`evalkit.did.estimate` (``notes=``) and read it after the
    error (e.g. the rows dropped before a design turned out to be singular).
    """

    def __init__(self, notes: Iterable[Note] = ()) -> None:
        self._items: list[Note] = []
        self.add(*notes)

    def add(self, *notes: Note) -> None:
        """Append each note that is not already here."""
        for note in notes:
            if note not in self._items:
                self._items.append(note)

    def __iter__(self) -> Iterator[Note]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Notes({[n.code for n in self._items]})"


#: Names of note values that are periods (or cohorts: first periods) of the time column.
PERIOD_VALUES = frozenset({"cohorts", "cohort", "first_period", "group", "time"})

#: Codes of the notes the regression estimators' shared data preparation gives
#: (:func:`evalkit.did._data.prepare`): notes on the rows used, not on the estimate.
PREPARATION_CODES = frozenset(
    {"dropped_missing_outcome", "dropped_missing_covariate", "single_unit_cohorts"}
)
