# ruff: noqa: E501  (a translation table: one sentence per line reads best)
"""The one translation table of the reports: every label, caption and generated sentence.

Keys are stable identifiers; values are ``{"nl": ..., "en": ...}`` templates for
``str.format``. Column names, table names, rule codes and limitation codes that are
not in the table fall back to a readable version of the key, so a new bundle
field never breaks a report.
"""

from __future__ import annotations

from typing import Any

from evalkit.errors import ReportError
from evalkit.report.formatting import check_lang

__all__ = ["TEXT", "label", "t"]

TEXT: dict[str, dict[str, str]] = {
    # document titles and headings
    "doc.evaluation": {"nl": "Evaluatierapport", "en": "Evaluation report"},
    "doc.monitor": {"nl": "Monitor", "en": "Monitor"},
    "doc.summary": {"nl": "Samenvatting voor financiers", "en": "Summary for funders"},
    "h.first_page": {"nl": "In het kort", "en": "At a glance"},
    "h.key_facts": {"nl": "Kerngegevens", "en": "Key facts"},
    "h.summary": {"nl": "Wat we vonden", "en": "What we found"},
    "h.protocol": {"nl": "Het protocol in het kort", "en": "The protocol in brief"},
    "h.deviations": {"nl": "Afwijkingen van het protocol", "en": "Deviations from the protocol"},
    "h.data_quality": {"nl": "Datakwaliteit", "en": "Data quality"},
    "h.sample": {"nl": "Steekproef", "en": "Sample"},
    "h.primary": {"nl": "Primaire uitkomsten", "en": "Primary outcomes"},
    "h.robustness": {"nl": "Robuustheid", "en": "Robustness"},
    "h.secondary": {"nl": "Secundaire uitkomsten", "en": "Secondary outcomes"},
    "h.subgroups": {"nl": "Subgroepen", "en": "Subgroups"},
    "h.throughput": {"nl": "Doorlooptijden", "en": "Throughput times"},
    "h.questionnaire": {"nl": "Vragenlijsten", "en": "Questionnaires"},
    "h.exploratory": {"nl": "Verkennende analyses", "en": "Exploratory analyses"},
    "h.limitations": {"nl": "Beperkingen", "en": "Limitations"},
    "h.appendix": {"nl": "Bijlage", "en": "Appendix"},
    "h.software": {"nl": "Softwareversies", "en": "Software versions"},
    "h.full_protocol": {
        "nl": "Het volledige geregistreerde protocol",
        "en": "The full registered protocol",
    },
    "h.privacy": {"nl": "Privacy en onthulling", "en": "Privacy and disclosure control"},
    "h.pretrend": {"nl": "Toets op parallelle trends vooraf", "en": "Pre-trend test"},
    "h.placebo": {"nl": "Placebo in de tijd", "en": "Placebo in time"},
    "h.inference": {
        "nl": "Inferentie met weinig pilotgemeenten",
        "en": "Inference with few treated units",
    },
    "h.alt_control": {"nl": "Andere vergelijkingsgroep", "en": "Alternative control group"},
    "h.bacon": {"nl": "Bacon-decompositie", "en": "Bacon decomposition"},
    "h.registrations": {
        "nl": "Aanmeldingen en lopende trajecten",
        "en": "Registrations and active cases",
    },
    "h.caseload": {"nl": "Caseload per coach", "en": "Caseload per coach"},
    "h.out_of_sight": {"nl": "Uit beeld geraakt", "en": "Out of sight"},
    "h.response": {"nl": "Respons op vragenlijsten", "en": "Questionnaire response"},
    "h.completeness": {"nl": "Volledigheid van de data", "en": "Data completeness"},
    "h.norms": {"nl": "Doorlooptijden tegen de normen", "en": "Throughput against norms"},
    "h.what_it_means": {"nl": "Wat betekent dit?", "en": "What does this mean?"},
    "h.how_sure": {"nl": "Hoe zeker is dit?", "en": "How sure are we?"},
    "h.what_next": {"nl": "Kanttekeningen", "en": "Caveats"},
    # key facts
    "k.pilot": {"nl": "Pilot", "en": "Pilot"},
    "k.protocol": {"nl": "Protocol", "en": "Protocol"},
    "k.status": {"nl": "Registratiestatus", "en": "Registration status"},
    "k.reg_hash": {"nl": "Registratiehash (sha256)", "en": "Registration hash (sha256)"},
    "k.reg_time": {"nl": "Geregistreerd op", "en": "Registered at"},
    "k.before_data": {"nl": "Geregistreerd vóór de data", "en": "Registered before the data"},
    "k.first_data": {"nl": "Eerste data ingelezen op", "en": "First data ingested at"},
    "k.version": {"nl": "evalkit-versie", "en": "evalkit version"},
    "k.commit": {"nl": "Codeversie (git)", "en": "Code version (git)"},
    "k.seed": {"nl": "Seed", "en": "Seed"},
    "k.synthetic": {"nl": "Data", "en": "Data"},
    "k.estimator": {"nl": "Schatter", "en": "Estimator"},
    "k.periods": {"nl": "Perioden", "en": "Periods"},
    "k.units": {"nl": "Eenheden", "en": "Units"},
    "k.treated": {"nl": "Pilot", "en": "Pilot"},
    "k.comparison": {"nl": "Vergelijking", "en": "Comparison"},
    "k.intervention": {"nl": "Interventie", "en": "Intervention"},
    "k.population": {"nl": "Doelgroep", "en": "Population"},
    "k.alpha": {"nl": "Significantieniveau", "en": "Significance level"},
    "k.multiple": {"nl": "Correctie voor meerdere toetsen", "en": "Multiple-testing correction"},
    "k.inference": {"nl": "Inferentie", "en": "Inference"},
    "k.hypotheses": {"nl": "Hypothesen", "en": "Hypotheses"},
    "k.threshold": {"nl": "Onthullingsdrempel", "en": "Disclosure threshold"},
    "v.yes": {"nl": "ja", "en": "yes"},
    "v.no": {"nl": "nee", "en": "no"},
    "v.unknown": {"nl": "onbekend", "en": "unknown"},
    "v.synthetic": {
        "nl": "synthetisch (demo), geen echte personen",
        "en": "synthetic (demo), no real persons",
    },
    "v.real": {"nl": "geregistreerde gegevens", "en": "registered data"},
    "v.suppressed": {"nl": "<{threshold}", "en": "<{threshold}"},
    "v.secondary": {"nl": "·", "en": "·"},
    "v.pilot": {"nl": "pilot", "en": "pilot"},
    "v.comparison": {"nl": "vergelijking", "en": "comparison"},
    "v.before": {"nl": "vóór de pilot", "en": "before the pilot"},
    "v.during": {"nl": "tijdens de pilot", "en": "during the pilot"},
    "v.after": {"nl": "na de pilot", "en": "after the pilot"},
    "v.all": {"nl": "alle", "en": "all"},
    "v.months": {"nl": "{start} t/m {end}", "en": "{start} to {end}"},
    "status.registered": {"nl": "geregistreerd", "en": "registered"},
    "status.registered_with_deviations": {
        "nl": "geregistreerd, met afwijkingen",
        "en": "registered, with deviations",
    },
    "status.not_registered": {"nl": "NIET vooraf geregistreerd", "en": "NOT pre-registered"},
    # generated sentences
    "s.not_available": {
        "nl": "Niet beschikbaar: de resultatenbundel bevat dit onderdeel niet.",
        "en": "Not available: the results bundle does not contain this part.",
    },
    "s.not_preregistered": {
        "nl": "**Let op: deze evaluatie is niet vooraf geregistreerd.** De analyses zijn niet vastgelegd voordat de data binnenkwamen; behandel alle uitkomsten als verkennend.",
        "en": "**Note: this evaluation was not pre-registered.** The analyses were not fixed before the data arrived; treat all results as exploratory.",
    },
    "s.registered_after_data": {
        "nl": "**Let op:** het protocol is geregistreerd ná de eerste data ({registered} tegenover {first_data}).",
        "en": "**Note:** the protocol was registered after the first data arrived ({registered} versus {first_data}).",
    },
    "s.synthetic": {
        "nl": "Dit rapport gebruikt synthetische demodata; de cijfers gaan niet over echte jongeren.",
        "en": "This report uses synthetic demo data; the numbers are not about real young people.",
    },
    "s.effect": {
        "nl": "**{outcome}:** in de pilot veranderde dit met {effect} {unit} ten opzichte van de vergelijkingsgroep (95%-interval {ci}; vóór de pilot {baseline}).",
        "en": "**{outcome}:** in the pilot this changed by {effect} {unit} relative to the comparison group (95% interval {ci}; before the pilot {baseline}).",
    },
    "s.ci_unbounded": {
        "nl": "met dit ontwerp niet te begrenzen",
        "en": "cannot be bounded with this design",
    },
    "s.not_estimated": {
        "nl": "**{outcome}:** kon niet worden geschat ({error}).",
        "en": "**{outcome}:** could not be estimated ({error}).",
    },
    "s.inference_notes": {
        "nl": "Toelichting bij de onzekerheid:",
        "en": "Notes on the uncertainty:",
    },
    "s.rows_cut": {
        "nl": "De tabel toont de eerste {shown} van {total} rijen; de volledige tabel staat in `{file}` en in het Excel-werkboek naast dit rapport.",
        "en": "The table shows the first {shown} of {total} rows; the full table is in `{file}` and in the Excel workbook next to this report.",
    },
    "s.unit_pp": {"nl": "procentpunt", "en": "percentage points"},
    "s.unit_abs": {"nl": "", "en": ""},
    "s.sure_clear": {
        "nl": "Dit resultaat is na correctie voor meerdere toetsen statistisch betrouwbaar (gecorrigeerde p = {p}): het is onwaarschijnlijk dat dit toeval is.",
        "en": "After correcting for multiple tests this result is statistically reliable (adjusted p = {p}): it is unlikely to be chance.",
    },
    "s.sure_unclear": {
        "nl": "Dit resultaat kan ook door toeval komen (gecorrigeerde p = {p}); het interval laat zowel een kleine verbetering als geen effect toe.",
        "en": "This result may be due to chance (adjusted p = {p}); the interval allows both a small improvement and no effect.",
    },
    "s.direction_good": {
        "nl": "Dat is de richting die de pilot beoogde.",
        "en": "That is the direction the pilot aimed for.",
    },
    "s.direction_bad": {
        "nl": "Dat is tegen de beoogde richting in.",
        "en": "That is against the intended direction.",
    },
    "s.mde": {
        "nl": "Het vooraf genoemde kleinste relevante effect was {mde} {unit}.",
        "en": "The smallest relevant effect named in advance was {mde} {unit}.",
    },
    "s.disclosure": {
        "nl": "Aantallen kleiner dan {threshold} zijn onderdrukt (weergegeven als “<{threshold}”), en waar een totaal een onderdrukt getal zou verraden is ook een tweede cel onderdrukt (“·”). Dit rapport bevat geen BSN's, namen of pseudoniemen. In dit rapport zijn {n_cells} cellen onderdrukt.",
        "en": "Counts below {threshold} are suppressed (shown as “<{threshold}”), and where a total would reveal a suppressed number a second cell is suppressed too (“·”). This report contains no BSNs, names or pseudonyms. {n_cells} cells were suppressed in this report.",
    },
    "s.exploratory": {
        "nl": "Verkennend, niet vooraf geregistreerd. Deze analyses kunnen hypothesen opleveren, geen bewijs.",
        "en": "Exploratory, not pre-registered. These analyses can suggest hypotheses, not prove them.",
    },
    "s.no_deviations": {
        "nl": "Er zijn geen afwijkingen van het geregistreerde protocol.",
        "en": "There are no deviations from the registered protocol.",
    },
    "s.few_treated_warning": {
        "nl": "Met maar {n} pilot{s_nl} zijn gewone cluster-robuuste standaardfouten te klein, zodat effecten zekerder lijken dan ze zijn. De hoofdanalyse gebruikt daarom {inference}; de tabel zet beide naast elkaar.",
        "en": "With only {n} treated unit{s_en} ordinary cluster-robust standard errors are too small, so effects look more certain than they are. The main analysis therefore uses {inference}; the table shows both side by side.",
    },
    "s.figure_event": {
        "nl": "Geschat effect per maand rond de start van de pilot: {outcome}",
        "en": "Estimated effect by month around the pilot start: {outcome}",
    },
    "s.figure_trend": {
        "nl": "Maandgemiddelde, pilot en vergelijking (stippellijn: start pilot): {outcome}",
        "en": "Monthly mean, pilot and comparison (dashed line: pilot start): {outcome}",
    },
    "s.figure_effects": {
        "nl": "Effecten van de pilot met 95%-intervallen",
        "en": "Effects of the pilot with 95% intervals",
    },
    "s.see_figures": {"nl": "Zie {refs}.", "en": "See {refs}."},
    "s.and": {"nl": "en", "en": "and"},
    "s.primary_count": {
        "nl": "Het protocol noemt {n} primaire uitkomst(en); de p-waarden zijn gecorrigeerd met de methode {method}.",
        "en": "The protocol names {n} primary outcome(s); p-values are adjusted with the {method} method.",
    },
    "s.rejected_total": {
        "nl": "In totaal zijn {rejected} van de {read} ingelezen regels afgewezen ({share}); afgewezen regels staan met reden in quarantaine, niets is stilzwijgend weggelaten.",
        "en": "In total {rejected} of the {read} rows read were rejected ({share}); rejected rows are kept in quarantine with their reason, nothing was dropped silently.",
    },
    "s.generated_from": {
        "nl": "Gemaakt met evalkit {version} uit resultatenbundel {bundle}.",
        "en": "Made with evalkit {version} from results bundle {bundle}.",
    },
    "s.summary_intro": {
        "nl": "{pilot} is geëvalueerd volgens een vooraf vastgelegd plan ({status}). Hieronder staan de belangrijkste uitkomsten in gewone taal.",
        "en": "{pilot} was evaluated according to a plan fixed in advance ({status}). The main results follow in plain language.",
    },
    "s.monitor_intro": {
        "nl": "Deze monitor is bedoeld voor tijdens de pilot. Hij toont beschrijvende cijfers, geen effecten.",
        "en": "This monitor is for use during the pilot. It shows descriptive figures, not effects.",
    },
    "s.caseload_above": {
        "nl": "{n} van de {total} coach- of behandelaarweken lagen boven de norm van {high} trajecten.",
        "en": "{n} of {total} coach-weeks (or holder-weeks) were above the benchmark of {high} cases.",
    },
    "s.full_report": {
        "nl": "Het volledige evaluatierapport bevat de methoden, de robuustheidsanalyses en alle tabellen.",
        "en": "The full evaluation report contains the methods, robustness analyses and all tables.",
    },
    # limitations from codes
    "lim.few_treated_clusters": {
        "nl": "Er {verb_nl} maar {n_treated_clusters} pilotgemeente(n). Onzekerheid is daarom geschat met methoden voor weinig behandelde clusters; de intervallen zijn breed en de resultaten gelden vooral voor deze gemeente(n).",
        "en": "There {verb_en} only {n_treated_clusters} treated municipalit{ies}. Uncertainty was therefore estimated with methods for few treated clusters; intervals are wide and results mainly apply to the treated municipalit{ies}.",
    },
    "lim.short_post_period": {
        "nl": "De periode na de start is kort ({months} maanden); effecten die later optreden zijn nog niet zichtbaar.",
        "en": "The post period is short ({months} months); effects that appear later are not visible yet.",
    },
    "lim.power_below_target": {
        "nl": "Voor {outcome} had het onderzoek {power} kans om het vooraf genoemde effect te vinden; het kleinste effect dat met 80% kans te vinden is, is {mde}. Geen significant effect betekent hier dus niet dat er geen effect is.",
        "en": "For {outcome} the study had {power} power to detect the effect named in advance; the smallest effect detectable with 80% power is {mde}. No significant effect therefore does not mean no effect.",
    },
    "lim.data_quality": {
        "nl": "{rejected_share} van de ingelezen regels is afgewezen bij de validatie (zie Datakwaliteit).",
        "en": "{rejected_share} of the rows read were rejected by validation (see Data quality).",
    },
    "lim.not_registered": {
        "nl": "Het protocol is niet vooraf geregistreerd.",
        "en": "The protocol was not pre-registered.",
    },
    "lim.registered_after_data": {
        "nl": "Het protocol is pas geregistreerd nadat de eerste uitkomstdata waren ingelezen; de analyse kan door de data zijn beïnvloed.",
        "en": "The protocol was registered only after the first outcome data were ingested; the analysis may have been shaped by the data.",
    },
    "pretrend.no_event_study": {
        "nl": "De event-study kon niet worden geschat.",
        "en": "The event study could not be estimated.",
    },
    "pretrend.no_pre_periods": {
        "nl": "Er zijn geen maanden vóór de referentiemaand om te toetsen.",
        "en": "There are no months before the reference month to test.",
    },
    "pretrend.more_effects_than_clusters": {
        "nl": "Niet te toetsen: {k} effecten vóór de start bij maar {clusters} clusters; de clustergecorrigeerde covariantie kan zo'n gezamenlijke toets niet dragen. Zie het placebo in de tijd.",
        "en": "Not testable: {k} pre-period effects with only {clusters} clusters; the cluster-robust covariance cannot support such a joint test. See the placebo in time.",
    },
    "pretrend.few_treated_clusters": {
        "nl": "Niet te toetsen met {treated} pilotcluster(s): een clustergecorrigeerde toets verwerpt dan veel te vaak. Zie het placebo in de tijd.",
        "en": "Not testable with {treated} treated cluster(s): a cluster-robust test then rejects far too often. See the placebo in time.",
    },
    "lim.generic": {"nl": "Beperking ({code}): {values}.", "en": "Limitation ({code}): {values}."},
    "lim.none": {
        "nl": "De resultatenbundel noemt geen beperkingen.",
        "en": "The results bundle lists no limitations.",
    },
    # table captions
    "c.key_facts": {"nl": "Kerngegevens van deze evaluatie", "en": "Key facts of this evaluation"},
    "c.snapshot": {"nl": "Datasnapshot per bron", "en": "Data snapshot per source"},
    "c.deviations": {
        "nl": "Afwijkingen van het geregistreerde protocol",
        "en": "Deviations from the registered protocol",
    },
    "c.outcomes": {"nl": "Uitkomstmaten en hypothesen", "en": "Outcomes and hypotheses"},
    "c.quality": {"nl": "Regels per bron", "en": "Rows per source"},
    "c.reasons": {"nl": "Belangrijkste redenen voor afwijzing", "en": "Top rejection reasons"},
    "c.flow": {"nl": "Van data naar analyse", "en": "From data to analysis"},
    "c.balance": {"nl": "Balans in de periode vóór de pilot", "en": "Balance in the pre-period"},
    "c.effects_primary": {
        "nl": "Effecten op de primaire uitkomsten",
        "en": "Effects on the primary outcomes",
    },
    "c.effects_secondary": {
        "nl": "Effecten op de secundaire uitkomsten",
        "en": "Effects on the secondary outcomes",
    },
    "c.pretrend": {"nl": "Toetsen op trends vóór de pilot", "en": "Pre-trend tests"},
    "c.placebo": {
        "nl": "Placebo-effecten met een verschoven startdatum",
        "en": "Placebo effects with a shifted start",
    },
    "c.inference": {
        "nl": "Hetzelfde effect met verschillende inferentiemethoden",
        "en": "The same effect under different inference methods",
    },
    "c.alt_control": {
        "nl": "Effect met een andere vergelijkingsgroep",
        "en": "Effect with an alternative control group",
    },
    "c.bacon": {
        "nl": "Bacon-decompositie van de TWFE-schatting",
        "en": "Bacon decomposition of the TWFE estimate",
    },
    "c.subgroups": {"nl": "Effecten per subgroep", "en": "Effects by subgroup"},
    "c.power": {"nl": "Onderscheidend vermogen (simulatie)", "en": "Power (simulation)"},
    "c.software": {"nl": "Gebruikte software", "en": "Software used"},
    # column labels
    "col.source": {"nl": "Bron", "en": "Source"},
    "col.kind": {"nl": "Soort", "en": "Kind"},
    "col.file": {"nl": "Bestand", "en": "File"},
    "col.sha256": {"nl": "sha256 (begin)", "en": "sha256 (start)"},
    "col.rows_read": {"nl": "Ingelezen", "en": "Read"},
    "col.accepted": {"nl": "Geaccepteerd", "en": "Accepted"},
    "col.rejected": {"nl": "Afgewezen", "en": "Rejected"},
    "col.ingested_at": {"nl": "Ingelezen op", "en": "Ingested at"},
    "col.rule": {"nl": "Regel", "en": "Rule"},
    "col.column": {"nl": "Kolom", "en": "Column"},
    "col.n": {"nl": "Aantal", "en": "Count"},
    "col.date": {"nl": "Datum", "en": "Date"},
    "col.field": {"nl": "Veld", "en": "Field"},
    "col.old": {"nl": "Was", "en": "Old"},
    "col.new": {"nl": "Wordt", "en": "New"},
    "col.reason": {"nl": "Reden", "en": "Reason"},
    "col.step": {"nl": "Stap", "en": "Step"},
    "col.n_persons": {"nl": "Personen", "en": "Persons"},
    "col.n_person_months": {"nl": "Persoonsmaanden", "en": "Person-months"},
    "col.variable": {"nl": "Kenmerk", "en": "Variable"},
    "col.pilot_mean": {"nl": "Gemiddelde pilot", "en": "Pilot mean"},
    "col.comparison_mean": {"nl": "Gemiddelde vergelijking", "en": "Comparison mean"},
    "col.std_diff": {"nl": "Gestandaardiseerd verschil", "en": "Standardised difference"},
    "col.n_pilot": {"nl": "n pilot", "en": "n pilot"},
    "col.n_comparison": {"nl": "n vergelijking", "en": "n comparison"},
    "col.outcome": {"nl": "Uitkomst", "en": "Outcome"},
    "col.hypothesis": {"nl": "Hypothese", "en": "Hypothesis"},
    "col.direction": {"nl": "Verwachte richting", "en": "Expected direction"},
    "col.effect": {"nl": "Effect", "en": "Effect"},
    "col.estimate": {"nl": "Schatting", "en": "Estimate"},
    "col.std_error": {"nl": "Standaardfout", "en": "Std. error"},
    "col.ci": {"nl": "95%-interval", "en": "95% interval"},
    "col.p_value": {"nl": "p", "en": "p"},
    "col.p_adjusted": {"nl": "p (gecorrigeerd)", "en": "p (adjusted)"},
    "col.baseline": {"nl": "Niveau vooraf", "en": "Baseline"},
    "col.smallest_effect": {"nl": "Kleinste relevante effect", "en": "Smallest relevant effect"},
    "col.n_clusters": {"nl": "Clusters (pilot)", "en": "Clusters (treated)"},
    "col.inference": {"nl": "Inferentie", "en": "Inference"},
    "col.warnings": {"nl": "Waarschuwingen", "en": "Warnings"},
    "col.test": {"nl": "Toets", "en": "Test"},
    "col.statistic": {"nl": "Toetsgrootheid", "en": "Statistic"},
    "col.placebo_start": {"nl": "Placebostart", "en": "Placebo start"},
    "col.control": {"nl": "Vergelijkingsgroep", "en": "Control group"},
    "col.type": {"nl": "Vergelijking", "en": "Comparison"},
    "col.treated": {"nl": "Behandeld", "en": "Treated"},
    "col.weight": {"nl": "Gewicht", "en": "Weight"},
    "col.subgroup": {"nl": "Subgroep", "en": "Subgroup"},
    "col.power": {"nl": "Onderscheidend vermogen", "en": "Power"},
    "col.mde": {"nl": "Minimaal detecteerbaar effect", "en": "Minimal detectable effect"},
    "col.n_sims": {"nl": "Simulaties", "en": "Simulations"},
    "col.package": {"nl": "Pakket", "en": "Package"},
    "col.version": {"nl": "Versie", "en": "Version"},
    "col.item": {"nl": "Onderdeel", "en": "Item"},
    "col.value": {"nl": "Waarde", "en": "Value"},
    "col.period": {"nl": "Periode", "en": "Period"},
    "col.n_registrations": {"nl": "Aanmeldingen", "en": "Registrations"},
    "col.n_active": {"nl": "Lopende trajecten", "en": "Active cases"},
    "col.n_ended": {"nl": "Afgesloten", "en": "Ended"},
    "col.n_out_of_sight": {"nl": "Uit beeld", "en": "Out of sight"},
    "col.share_missing": {"nl": "Aandeel ontbrekend", "en": "Share missing"},
    "col.week": {"nl": "Week", "en": "Week"},
    "col.coach": {"nl": "Coach", "en": "Coach"},
    "col.benchmark_low": {"nl": "Norm (laag)", "en": "Benchmark (low)"},
    "col.benchmark_high": {"nl": "Norm (hoog)", "en": "Benchmark (high)"},
    "col.median": {"nl": "Mediaan", "en": "Median"},
    "col.p80": {"nl": "80e percentiel", "en": "80th percentile"},
    "col.n_cases": {"nl": "Zaken", "en": "Cases"},
    "col.n_breach_open": {"nl": "Buiten norm (nog open)", "en": "Breach (still open)"},
    "col.limit": {"nl": "Grens", "en": "Limit"},
    "col.unit": {"nl": "Eenheid", "en": "Unit"},
    "col.from_org_type": {"nl": "Van", "en": "From"},
    "col.to_org_type": {"nl": "Naar", "en": "To"},
    "col.n_arrived": {"nl": "Aangekomen", "en": "Arrived"},
    "col.n_open": {"nl": "Nog open", "en": "Still open"},
    "col.organisation": {"nl": "Organisatie", "en": "Organisation"},
    "col.holder_type": {"nl": "Soort behandelaar", "en": "Holder type"},
    "col.n_holders": {"nl": "Behandelaars", "en": "Holders"},
    "col.mean_caseload": {"nl": "Gemiddelde caseload", "en": "Mean caseload"},
    "col.median_caseload": {"nl": "Mediane caseload", "en": "Median caseload"},
    "col.max_caseload": {"nl": "Hoogste caseload", "en": "Highest caseload"},
    "col.n_below": {"nl": "Onder norm", "en": "Below benchmark"},
    "col.n_above": {"nl": "Boven norm", "en": "Above benchmark"},
    "col.n_followed_up": {"nl": "Opgevolgd", "en": "Followed up"},
    "col.n_not_yet_known": {"nl": "Nog onbekend", "en": "Not yet known"},
    "col.n_persons_out_of_sight": {"nl": "Personen uit beeld", "en": "Persons out of sight"},
    "col.share_out_of_sight": {"nl": "Aandeel uit beeld", "en": "Share out of sight"},
    "col.end_event": {"nl": "Afsluiting", "en": "End event"},
    "col.days": {"nl": "Dagen", "en": "Days"},
    "col.sub_process": {"nl": "Deelproces", "en": "Sub-process"},
    "col.interval": {"nl": "Deelproces", "en": "Sub-process"},
    "col.org_type": {"nl": "Soort organisatie", "en": "Organisation type"},
    "col.n_events": {"nl": "Afgerond", "en": "Completed"},
    "col.n_censored": {"nl": "Nog open", "en": "Still open"},
    "col.median_days": {"nl": "Mediaan (dagen)", "en": "Median (days)"},
    "col.p80_days": {"nl": "80e percentiel (dagen)", "en": "80th percentile (days)"},
    "col.norm": {"nl": "Norm", "en": "Norm"},
    "col.n_within": {"nl": "Binnen norm", "en": "Within norm"},
    "col.n_breach": {"nl": "Buiten norm", "en": "Breach"},
    "col.n_unknown": {"nl": "Nog onbekend", "en": "Not yet known"},
    "col.share_within": {"nl": "Aandeel binnen norm", "en": "Share within norm"},
    "col.from_org": {"nl": "Van", "en": "From"},
    "col.to_org": {"nl": "Naar", "en": "To"},
    "col.wave": {"nl": "Meting", "en": "Wave"},
    "col.group": {"nl": "Groep", "en": "Group"},
    "col.n_invited": {"nl": "Uitgenodigd", "en": "Invited"},
    "col.n_responded": {"nl": "Gerespondeerd", "en": "Responded"},
    "col.rate": {"nl": "Respons", "en": "Response rate"},
    "col.instrument": {"nl": "Instrument", "en": "Instrument"},
    "col.mean": {"nl": "Gemiddelde", "en": "Mean"},
    "col.sd": {"nl": "SD", "en": "SD"},
    "col.alpha": {"nl": "Cronbachs alfa", "en": "Cronbach's alpha"},
    "col.conf_low": {"nl": "Ondergrens", "en": "Lower"},
    "col.conf_high": {"nl": "Bovengrens", "en": "Upper"},
    "col.month": {"nl": "Maand", "en": "Month"},
    "col.event_time": {"nl": "Maanden sinds start", "en": "Months since start"},
    # table names inside throughput / questionnaire / monitoring
    "tab.durations": {
        "nl": "Doorlooptijden per deelproces",
        "en": "Throughput times per sub-process",
    },
    "tab.norms": {
        "nl": "Aandeel binnen de norm (open zaken correct meegeteld)",
        "en": "Share within norm (open cases counted correctly)",
    },
    "tab.caseload": {
        "nl": "Lopende trajecten per coach per week",
        "en": "Active cases per coach per week",
    },
    "tab.handovers": {"nl": "Warme overdrachten", "en": "Warm handovers"},
    "tab.kaplan_meier": {"nl": "Kaplan–Meier-schattingen", "en": "Kaplan–Meier estimates"},
    "tab.response": {"nl": "Respons per meting en groep", "en": "Response per wave and group"},
    "tab.scores": {"nl": "Scores per instrument en meting", "en": "Scores per instrument and wave"},
    "tab.reliability": {
        "nl": "Betrouwbaarheid per schaal en meting",
        "en": "Reliability per scale and wave",
    },
    "tab.change": {"nl": "Verandering ten opzichte van T0", "en": "Change from T0"},
    "tab.registrations": {
        "nl": "Aanmeldingen en lopende trajecten per periode",
        "en": "Registrations and active cases per period",
    },
    "tab.out_of_sight": {
        "nl": "Jongeren uit beeld na afsluiting",
        "en": "Young people out of sight after their case ended",
    },
    "tab.completeness": {"nl": "Ontbrekende waarden per kolom", "en": "Missing values per column"},
    # axis labels
    "ax.month": {"nl": "Maand", "en": "Month"},
    "ax.event_time": {
        "nl": "Maanden sinds de start van de pilot",
        "en": "Months since the pilot start",
    },
    "ax.effect": {"nl": "Geschat effect", "en": "Estimated effect"},
    "ax.mean": {"nl": "Gemiddelde", "en": "Mean"},
    "ax.group": {"nl": "Groep", "en": "Group"},
    "ax.pilot": {"nl": "Pilot", "en": "Pilot"},
    "ax.comparison": {"nl": "Vergelijking", "en": "Comparison"},
    "ax.registrations": {"nl": "Aanmeldingen", "en": "Registrations"},
    # throughput intervals
    "code.registration_to_first_conversation": {
        "nl": "aanmelding → eerste gesprek",
        "en": "registration → first conversation",
    },
    "code.first_conversation_to_decision_or_plan": {
        "nl": "eerste gesprek → besluit of plan",
        "en": "first conversation → decision or plan",
    },
    "code.application_to_decision": {"nl": "aanvraag → besluit", "en": "application → decision"},
    "code.application_to_advance_payment": {
        "nl": "aanvraag → voorschot",
        "en": "application → advance payment",
    },
    "code.registration_to_start": {
        "nl": "aanmelding → start traject",
        "en": "registration → start of trajectory",
    },
    "code.start_to_exit": {"nl": "start traject → uitstroom", "en": "start of trajectory → exit"},
    # enumerations
    "dir.decrease": {"nl": "daling", "en": "decrease"},
    "dir.increase": {"nl": "stijging", "en": "increase"},
    "dir.any": {"nl": "beide", "en": "either"},
    "role.primary": {"nl": "primair", "en": "primary"},
    "role.secondary": {"nl": "secundair", "en": "secondary"},
    "inf.cluster_robust": {"nl": "cluster-robuust", "en": "cluster-robust"},
    "inf.wild_cluster_bootstrap": {"nl": "wild cluster bootstrap", "en": "wild cluster bootstrap"},
    "inf.conley_taber": {"nl": "Conley–Taber", "en": "Conley–Taber"},
    "inf.analytic": {"nl": "cluster-robuust (analytisch)", "en": "cluster-robust (analytic)"},
    "inf.wild": {"nl": "wild cluster bootstrap", "en": "wild cluster bootstrap"},
    "inf.permutation": {"nl": "permutatie-inferentie", "en": "permutation inference"},
    "inf.auto": {
        "nl": "automatisch (naar aantal pilotclusters)",
        "en": "automatic (by number of treated clusters)",
    },
    "code.wald_pre_periods": {
        "nl": "Wald-toets op de maanden vóór de start",
        "en": "Wald test on the months before the start",
    },
    "code.joint_wald_pre": {
        "nl": "Wald-toets op de maanden vóór de start",
        "en": "Wald test on the months before the start",
    },
    "code.never": {"nl": "nooit behandeld", "en": "never treated"},
    "code.treated_vs_never": {
        "nl": "pilot tegen nooit behandeld",
        "en": "treated vs never treated",
    },
    "code.earlier_vs_later": {
        "nl": "eerder tegen later behandeld",
        "en": "earlier vs later treated",
    },
    "code.later_vs_earlier": {
        "nl": "later tegen eerder behandeld",
        "en": "later vs earlier treated",
    },
    "code.nearest_half_pre_period": {
        "nl": "de helft van de gemeenten die vooraf het meest leek",
        "en": "the half of municipalities most similar before",
    },
    "inf.randomization": {"nl": "randomisatie-inferentie", "en": "randomisation inference"},
    "est.twfe": {"nl": "two-way fixed effects (TWFE)", "en": "two-way fixed effects (TWFE)"},
    "est.cs": {"nl": "Callaway–Sant'Anna", "en": "Callaway–Sant'Anna"},
    "est.did2x2": {"nl": "verschil-in-verschillen 2×2", "en": "2×2 difference-in-differences"},
    "mt.holm": {"nl": "Holm", "en": "Holm"},
    "mt.bonferroni": {"nl": "Bonferroni", "en": "Bonferroni"},
    "mt.bh": {"nl": "Benjamini–Hochberg", "en": "Benjamini–Hochberg"},
    "mt.none": {"nl": "geen", "en": "none"},
    "step.rows_in_store": {"nl": "Regels in de opslag", "en": "Rows in the store"},
    "step.age_16_27": {"nl": "Leeftijd 16–27", "en": "Aged 16–27"},
    "step.in_study_municipalities": {
        "nl": "In pilot- of vergelijkingsgemeente",
        "en": "In a pilot or comparison municipality",
    },
    "step.in_pilot_or_comparison_units": {
        "nl": "In pilot- of vergelijkingseenheid",
        "en": "In a pilot or comparison unit",
    },
    "step.in_protocol_windows": {
        "nl": "Binnen de perioden van het protocol",
        "en": "Within the protocol's periods",
    },
    "step.eligible": {"nl": "Voldoet aan de inclusiecriteria", "en": "Eligible"},
    "step.analysed": {"nl": "Geanalyseerd", "en": "Analysed"},
}


def t(key: str, lang: str, **values: Any) -> str:
    """Translate ``key`` into ``lang`` and fill in ``values``.

    Raises
    ------
    ReportError
        When the key is not in the table (a programming error in a report).
    """
    check_lang(lang)
    entry = TEXT.get(key)
    if entry is None:
        raise ReportError(f"no translation for {key!r}")
    return entry[lang].format(**values) if values else entry[lang]


def label(prefix: str, code: Any, lang: str) -> str:
    """Translate a code (column, rule, step, ...) with a readable fallback for unknown codes."""
    entry = TEXT.get(f"{prefix}.{code}")
    if entry is not None:
        return entry[check_lang(lang)]
    text = str(code).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if prefix in ("col", "tab", "step") else text
