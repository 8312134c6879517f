//! What changed since a time, for the notifier's poll: the inpatient Encounters and the
//! DocumentReferences of the asked GPs' patients with `_lastUpdated=gt<since>`, by the same
//! GP search as the lists (chained, or through the Practitioners), every page.
//!
//! As for the lists, the adapter does not trust the server to have applied the search: a
//! resource that says it was last updated at or before `since` is left out, and so is one of
//! a patient whose registered GP is not asked.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use serde_json::Value;
use zvp_core::{AgbCode, PatientId};

use super::lists::THROUGH_PRACTITIONERS;
use super::{FhirEpd, Found, encode, instant, malformed, parse_value};
use crate::{Changes, EpdError, ListedLetter, RequestContext, fhir};

/// Whether a resource changed after `since`, as far as it says: one without (or with an
/// unreadable) `meta.lastUpdated` is taken as the server found it, so nothing is lost to it.
fn changed_after(resource: &Value, since: DateTime<Utc>) -> bool {
    fhir::last_updated(resource)
        .ok()
        .flatten()
        .is_none_or(|at| at > since)
}

impl FhirEpd {
    pub(super) async fn changes(
        &self,
        gps: &[AgbCode],
        since: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<Changes, EpdError> {
        if gps.is_empty() {
            return Ok(Changes::default());
        }
        let params = vec![("_lastUpdated", encode(&format!("gt{}", instant(since))))];
        // The admissions first: their search finds out how this server is searched by GP.
        let admissions = self
            .listed(gps, params.clone(), |r, _| changed_after(r, since), ctx)
            .await?;
        let letters = self.changed_letters(gps, &params, since, ctx).await?;
        Ok(Changes {
            admissions,
            letters,
        })
    }

    async fn changed_letters(
        &self,
        gps: &[AgbCode],
        params: &[(&str, String)],
        since: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<Vec<ListedLetter>, EpdError> {
        const KIND: &str = "DocumentReference";
        let strategies = self.strategies(ctx).await?.clone();
        let mut found = if self.gp_search.load(Ordering::Relaxed) == THROUGH_PRACTITIONERS {
            self.through_practitioners(KIND, gps, params, ctx).await?
        } else {
            // As for the lists: a server that refuses the chained search, or answers it with
            // nothing (some ignore it), is asked through the Practitioners where it can be.
            match self.chained(KIND, gps, params, &strategies, ctx).await {
                Ok(found) if found.iter().any(|f| f.kind == KIND) => found,
                Ok(_) | Err(EpdError::Refused(_)) if strategies.practitioner_lookup => {
                    self.through_practitioners(KIND, gps, params, ctx).await?
                }
                other => other?,
            }
        };
        let mut letters = Vec::new();
        for f in found.iter().filter(|f| f.kind == KIND && !f.include) {
            let resource = parse_value(&f.text)?;
            if fhir::recorded_in_error(&resource) || !changed_after(&resource, since) {
                continue;
            }
            letters.push(fhir::letter_from_fhir(&resource).map_err(malformed)?);
        }
        if letters.is_empty() {
            return Ok(Vec::new());
        }
        // The letters' patients, with their Consents (an objection to sharing), read by id
        // where the search did not bring them.
        let mut ids: Vec<PatientId> = Vec::new();
        for (patient, _) in &letters {
            if !ids.contains(patient) {
                ids.push(patient.clone());
            }
        }
        let missing: Vec<&str> = {
            let have: HashSet<&str> = found
                .iter()
                .filter(|f| f.kind == "Patient")
                .filter_map(|f| f.id.as_deref())
                .collect();
            ids.iter()
                .map(PatientId::as_str)
                .filter(|id| !have.contains(id))
                .collect()
        };
        let mut more: Vec<Found> = Vec::new();
        if !missing.is_empty() {
            more.extend(self.by_ids("Patient", &missing, ctx).await?);
        }
        let refs: Vec<&PatientId> = ids.iter().collect();
        more.extend(self.consents_of(&refs, ctx).await?);
        found.extend(more);
        let patients = self.patients_with_restrictions(&found, ctx).await?;
        Ok(letters
            .into_iter()
            .filter_map(|(id, letter)| {
                let patient = patients.get(&id)?;
                // Whatever the server did with the search: only the asked GPs' patients.
                patient
                    .registered_gp
                    .as_ref()
                    .is_some_and(|gp| gps.contains(&gp.agb))
                    .then(|| ListedLetter {
                        patient: patient.clone(),
                        letter,
                    })
            })
            .collect())
    }
}
