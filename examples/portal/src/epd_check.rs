//! `zvp-portal epd check`: connect to the configured FHIR EPD, authenticate, and run every
//! query the portal makes for a test GP and patient, each with the strategy chosen for this
//! server, its result count and its time. For the integration engineer connecting an EPD: it
//! says whether the portal can work against that server before any GP tries.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use zvp_core::{AgbCode, Bsn, PatientId, ResultCategory};
use zvp_epd::client::{FhirEpd, Strategies};
use zvp_epd::{Epd, EpdError, RequestContext};

/// One query: what it is, how it is made here, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// What the portal asks.
    pub query: String,
    /// How the adapter asks it of this server.
    pub strategy: String,
    /// The number of results, or why there are none.
    pub outcome: Result<usize, String>,
    /// How long it took, in milliseconds.
    pub millis: u128,
}

/// What `epd check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The server's software, as its CapabilityStatement names it.
    pub software: String,
    /// One row per query.
    pub rows: Vec<Row>,
    /// What could not be checked, and why (no test GP, no test patient).
    pub skipped: Vec<String>,
}

impl Report {
    /// Whether every query answered.
    pub fn ok(&self) -> bool {
        !self.rows.is_empty() && self.rows.iter().all(|r| r.outcome.is_ok())
    }

    /// The report as the command prints it: a table, then the verdict.
    pub fn table(&self, base_url: &str) -> String {
        let mut out = format!("EPD {} at {base_url}\n", self.software);
        let width = self
            .rows
            .iter()
            .map(|r| r.query.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let swidth = self
            .rows
            .iter()
            .map(|r| r.strategy.chars().count())
            .max()
            .unwrap_or(8)
            .max(8);
        out.push_str(&format!(
            "{:<width$}  {:<swidth$}  {:>7}  {:>6}\n",
            "query", "strategy", "results", "ms"
        ));
        for row in &self.rows {
            let results = match &row.outcome {
                Ok(n) => n.to_string(),
                Err(_) => "FAILED".to_owned(),
            };
            out.push_str(&format!(
                "{:<width$}  {:<swidth$}  {:>7}  {:>6}\n",
                row.query, row.strategy, results, row.millis
            ));
            if let Err(e) = &row.outcome {
                out.push_str(&format!("  {e}\n"));
            }
        }
        for s in &self.skipped {
            out.push_str(&format!("not checked: {s}\n"));
        }
        out.push_str(if self.ok() {
            "ok: the portal can work against this server\n"
        } else {
            "FAILED: the portal cannot work against this server as configured\n"
        });
        out
    }
}

async fn timed<T, F>(
    rows: &mut Vec<Row>,
    query: &str,
    strategy: &str,
    count: impl Fn(&T) -> usize,
    work: F,
) -> Option<T>
where
    F: Future<Output = Result<T, EpdError>>,
{
    let start = Instant::now();
    let result = work.await;
    let millis = start.elapsed().as_millis();
    let (outcome, value) = match result {
        Ok(v) => (Ok(count(&v)), Some(v)),
        Err(e) => (Err(e.to_string()), None),
    };
    rows.push(Row {
        query: query.to_owned(),
        strategy: strategy.to_owned(),
        outcome,
        millis,
    });
    value
}

fn strategy<'a>(strategies: &'a Strategies, search: &str) -> &'a str {
    strategies
        .describe()
        .into_iter()
        .find(|(s, _)| *s == search)
        .map_or("", |(_, how)| how)
}

/// Runs every query against `epd` for the GP `agb` and the patient `bsn` (or the first
/// patient on the GP's lists), at `now`.
pub async fn run(
    epd: &FhirEpd,
    agb: Option<AgbCode>,
    bsn: Option<Bsn>,
    now: DateTime<Utc>,
) -> Report {
    let ctx = RequestContext {
        request_id: "epd-check".to_owned(),
    };
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let Some(strategies) = timed(
        &mut rows,
        "CapabilityStatement",
        "GET metadata",
        |_| 1,
        async { epd.strategies(&ctx).await.cloned() },
    )
    .await
    else {
        return Report {
            software: "(unknown)".to_owned(),
            rows,
            skipped,
        };
    };
    let gp_lists = strategy(&strategies, "GP lists");
    let mut patient: Option<PatientId> = None;
    match agb {
        Some(agb) => {
            let gps = [agb];
            if let Some(list) = timed(
                &mut rows,
                "admitted patients of the GP",
                gp_lists,
                Vec::len,
                epd.admitted(&gps, &ctx),
            )
            .await
            {
                patient = list.first().map(|l| l.patient.id.clone());
            }
            let since = now - Duration::days(14);
            if let Some(list) = timed(
                &mut rows,
                "discharged patients of the GP",
                gp_lists,
                Vec::len,
                epd.discharged_since(&gps, since, &ctx),
            )
            .await
                && patient.is_none()
            {
                patient = list.first().map(|l| l.patient.id.clone());
            }
            timed(
                &mut rows,
                "what changed for the GP",
                "Encounter and DocumentReference ?_lastUpdated=gt…, by the GP lists' search",
                |c: &zvp_epd::Changes| c.admissions.len() + c.letters.len(),
                epd.changed_since(&gps, since, &ctx),
            )
            .await;
        }
        None => skipped.push("the GP lists (give --agb)".to_owned()),
    }
    if let Some(bsn) = bsn {
        patient = timed(
            &mut rows,
            "patient by BSN",
            "Patient?identifier",
            |p: &Option<PatientId>| usize::from(p.is_some()),
            epd.find_by_bsn(bsn, None, &ctx),
        )
        .await
        .flatten()
        .or(patient);
    }
    let Some(id) = patient else {
        skipped.push(
            "the patient pages (give --bsn, or --agb of a GP with admitted or discharged patients)"
                .to_owned(),
        );
        return Report {
            software: strategies.software.clone(),
            rows,
            skipped,
        };
    };
    timed(
        &mut rows,
        "patient",
        strategy(&strategies, "patient with treatment restrictions"),
        |_| 1,
        epd.patient(&id, &ctx),
    )
    .await;
    let parallel = "by patient, in parallel";
    timed(
        &mut rows,
        "care moments",
        parallel,
        Vec::len,
        epd.care_moments(&id, &ctx),
    )
    .await;
    timed(
        &mut rows,
        "allergies",
        "AllergyIntolerance?patient",
        Vec::len,
        epd.allergies(&id, &ctx),
    )
    .await;
    timed(
        &mut rows,
        "conclusions",
        "ClinicalImpression?patient",
        Vec::len,
        epd.conclusions(&id, &ctx),
    )
    .await;
    timed(
        &mut rows,
        "diagnoses",
        "Condition?patient",
        Vec::len,
        epd.diagnoses(&id, &ctx),
    )
    .await;
    timed(
        &mut rows,
        "medication",
        "MedicationStatement?patient",
        Vec::len,
        epd.medication(&id, &ctx),
    )
    .await;
    let letters = timed(
        &mut rows,
        "letters",
        "DocumentReference?patient",
        Vec::len,
        epd.letters(&id, &ctx),
    )
    .await;
    if let Some(letter) = letters.as_ref().and_then(|l| l.first()) {
        timed(
            &mut rows,
            "letter text",
            "DocumentReference/<id>",
            |_| 1,
            epd.document(&id, &letter.id, &ctx),
        )
        .await;
    }
    let results = strategy(&strategies, "report results");
    let mut lab_code = None;
    for category in ResultCategory::ALL {
        let query = format!("results: {}", category.code());
        if let Some(reports) = timed(
            &mut rows,
            &query,
            results,
            Vec::len,
            epd.results(&id, category, &ctx),
        )
        .await
            && lab_code.is_none()
            && category == ResultCategory::ClinicalChemistry
        {
            lab_code = reports.iter().find_map(|r| match &r.content {
                zvp_core::ReportContent::Observations(values) => {
                    values.first().map(|o| o.code.code.clone())
                }
                _ => None,
            });
        }
    }
    let code = lab_code.unwrap_or_else(|| "2160-0".to_owned());
    timed(
        &mut rows,
        &format!("lab history: {code}"),
        "Observation?patient&code",
        Vec::len,
        epd.lab_history(&id, &code, &ctx),
    )
    .await;
    Report {
        software: strategies.software.clone(),
        rows,
        skipped,
    }
}
