//! The start page's lists: the admissions of the asked GPs' patients, with the patients and
//! their treatment restrictions, by whichever search the server supports.
//!
//! - **chained**: `Encounter?patient.general-practitioner:identifier=<AGB>,…` in one search.
//! - **practitioner**: `Practitioner?identifier=<AGB>,…`, then
//!   `Patient?general-practitioner=Practitioner/<id>,…`, then `Encounter?patient=…` (three
//!   round trips), for servers without the chained `:identifier` modifier whose patients name
//!   their GP by a literal reference.
//!
//! The chained search goes first. A server that refuses it, or answers it with nothing while
//! it declares the Practitioner and Patient searches, is asked the other way; when that finds
//! admissions, it is asked that way from then on.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use zvp_core::{AgbCode, Patient, PatientId};

use super::{
    AGB_SYSTEM, FhirEpd, Found, Strategy, encode, malformed, parse_value, patient_reference, token,
};
use crate::fhir::ConsentMeaning;
use crate::{EpdError, ListedPatient, RequestContext, fhir};

/// `FhirEpd::gp_search`: the chained search has not been found lacking.
pub(super) const CHAINED: u8 = 0;
/// `FhirEpd::gp_search`: the server is asked through its Practitioners.
pub(super) const THROUGH_PRACTITIONERS: u8 = 1;

fn admissions(found: &[Found]) -> impl Iterator<Item = &Found> {
    found.iter().filter(|f| f.kind == "Encounter" && !f.include)
}

impl FhirEpd {
    /// Encounters with their patients and treatment restrictions, kept to `gps` and `keep`.
    pub(super) async fn listed(
        &self,
        gps: &[AgbCode],
        params: Vec<(&str, String)>,
        keep: impl Fn(&serde_json::Value, &zvp_core::Admission) -> bool,
        ctx: &RequestContext,
    ) -> Result<Vec<ListedPatient>, EpdError> {
        if gps.is_empty() {
            return Ok(Vec::new());
        }
        let strategies = self.strategies(ctx).await?.clone();
        let mut params = params;
        params.push(("class", "IMP".to_owned()));
        let (mut found, through) =
            if self.gp_search.load(Ordering::Relaxed) == THROUGH_PRACTITIONERS {
                (
                    self.through_practitioners("Encounter", gps, &params, ctx)
                        .await?,
                    true,
                )
            } else {
                match self
                    .chained("Encounter", gps, &params, &strategies, ctx)
                    .await
                {
                    Ok(found) if admissions(&found).next().is_some() => (found, false),
                    Ok(found) if !strategies.practitioner_lookup => (found, false),
                    Err(EpdError::Refused(why)) if !strategies.practitioner_lookup => {
                        return Err(EpdError::Refused(why));
                    }
                    Ok(_) | Err(EpdError::Refused(_)) => {
                        let found = self
                            .through_practitioners("Encounter", gps, &params, ctx)
                            .await?;
                        if admissions(&found).next().is_some() {
                            self.gp_search
                                .store(THROUGH_PRACTITIONERS, Ordering::Relaxed);
                        }
                        (found, true)
                    }
                    Err(e) => return Err(e),
                }
            };
        // Patients a server left out (or was not asked to include) are read by id; their
        // Consents likewise.
        let missing: Vec<String> = {
            let have: HashSet<&str> = found
                .iter()
                .filter(|f| f.kind == "Patient")
                .filter_map(|f| f.id.as_deref())
                .collect();
            let mut missing = Vec::new();
            for f in admissions(&found) {
                let admission =
                    fhir::admission_from_fhir(&parse_value(&f.text)?).map_err(malformed)?;
                let id = admission.patient.as_str();
                if !have.contains(id) && !missing.iter().any(|m| m == id) {
                    missing.push(id.to_owned());
                }
            }
            missing
        };
        if !missing.is_empty() {
            let ids: Vec<&str> = missing.iter().map(String::as_str).collect();
            found.extend(self.by_ids("Patient", &ids, ctx).await?);
        }
        if strategies.list_consents == Strategy::Separate || through {
            let mut ids: Vec<PatientId> = Vec::new();
            for f in admissions(&found) {
                let admission =
                    fhir::admission_from_fhir(&parse_value(&f.text)?).map_err(malformed)?;
                if !ids.contains(&admission.patient) {
                    ids.push(admission.patient);
                }
            }
            let refs: Vec<&PatientId> = ids.iter().collect();
            found.extend(self.consents_of(&refs, ctx).await?);
        }
        let mut patients = self.patients_with_restrictions(&found, ctx).await?;
        let mut listed = Vec::new();
        for f in admissions(&found) {
            let resource = parse_value(&f.text)?;
            let admission = fhir::admission_from_fhir(&resource).map_err(malformed)?;
            if !keep(&resource, &admission) {
                continue;
            }
            let patient = patients.get_mut(&admission.patient).ok_or_else(|| {
                EpdError::Malformed("an Encounter whose Patient is not included".to_owned())
            })?;
            // Whatever the server did with the search: only the asked GPs' patients.
            if !patient
                .registered_gp
                .as_ref()
                .is_some_and(|gp| gps.contains(&gp.agb))
            {
                continue;
            }
            listed.push(ListedPatient {
                patient: patient.clone(),
                admission,
            });
        }
        Ok(listed)
    }

    /// A search of `kind` for the patients of `gps` by the chained GP parameter, with the
    /// patients and their Consents included where the server declares it for Encounters.
    pub(super) async fn chained(
        &self,
        kind: &str,
        gps: &[AgbCode],
        params: &[(&str, String)],
        strategies: &super::Strategies,
        ctx: &RequestContext,
    ) -> Result<Vec<Found>, EpdError> {
        let identifiers: Vec<String> = gps
            .iter()
            .map(|agb| token(AGB_SYSTEM, &agb.to_string()))
            .collect();
        let mut params = params.to_vec();
        params.push((
            "patient.general-practitioner:identifier",
            identifiers.join(","),
        ));
        if kind == "Encounter" && strategies.list_patients == Strategy::Included {
            params.push(("_include", encode("Encounter:patient")));
        }
        if kind == "Encounter" && strategies.list_consents == Strategy::Included {
            params.push(("_revinclude:iterate", encode("Consent:patient")));
        }
        self.search(kind, &params, ctx).await
    }

    /// A search of `kind` for the patients of `gps` through their Practitioners: the
    /// Practitioners and Patients found come along.
    pub(super) async fn through_practitioners(
        &self,
        kind: &str,
        gps: &[AgbCode],
        params: &[(&str, String)],
        ctx: &RequestContext,
    ) -> Result<Vec<Found>, EpdError> {
        let identifiers = gps
            .iter()
            .map(|agb| token(AGB_SYSTEM, &agb.to_string()))
            .collect();
        let mut found = self
            .any_of("Practitioner", "identifier", identifiers, &[], ctx)
            .await?;
        let mut references = Vec::new();
        for f in found.iter().filter(|f| f.kind == "Practitioner") {
            if let Some((id, agb)) =
                fhir::practitioner_agb(&parse_value(&f.text)?).map_err(malformed)?
                && gps.contains(&agb)
            {
                references.push(format!("Practitioner/{}", encode(&id)));
            }
        }
        if references.is_empty() {
            return Ok(found);
        }
        let patients = self
            .any_of("Patient", "general-practitioner", references, &[], ctx)
            .await?;
        let ids: Vec<String> = patients
            .iter()
            .filter(|f| f.kind == "Patient")
            .filter_map(|f| Some(patient_reference(&f.id.as_deref()?.parse().ok()?)))
            .collect();
        found.extend(patients);
        if !ids.is_empty() {
            found.extend(self.any_of(kind, "patient", ids, params, ctx).await?);
        }
        Ok(found)
    }

    /// The Patients among `found`, each with what its Consents among `found` mean (treatment
    /// restrictions, an objection to sharing); a GP named by a literal reference is found
    /// among the Practitioners in `found`, or read.
    pub(super) async fn patients_with_restrictions(
        &self,
        found: &[Found],
        ctx: &RequestContext,
    ) -> Result<HashMap<PatientId, Patient>, EpdError> {
        let mut practitioners: HashMap<String, AgbCode> = HashMap::new();
        let mut unresolved: Vec<String> = Vec::new();
        for f in found {
            match f.kind.as_str() {
                "Practitioner" => {
                    if let Some((id, agb)) =
                        fhir::practitioner_agb(&parse_value(&f.text)?).map_err(malformed)?
                    {
                        practitioners.insert(id, agb);
                    }
                }
                "Patient" => {
                    unresolved.extend(fhir::unresolved_practitioners(&parse_value(&f.text)?));
                }
                _ => {}
            }
        }
        unresolved.retain(|id| !practitioners.contains_key(id));
        unresolved.sort();
        unresolved.dedup();
        if !unresolved.is_empty() {
            let ids: Vec<&str> = unresolved.iter().map(String::as_str).collect();
            for f in self.by_ids("Practitioner", &ids, ctx).await? {
                if let Some((id, agb)) =
                    fhir::practitioner_agb(&parse_value(&f.text)?).map_err(malformed)?
                {
                    practitioners.insert(id, agb);
                }
            }
        }
        let mut patients = HashMap::new();
        let mut consents: Vec<(PatientId, ConsentMeaning)> = Vec::new();
        for f in found {
            match f.kind.as_str() {
                "Patient" => {
                    let p = fhir::patient_from_fhir_with(&parse_value(&f.text)?, |id| {
                        practitioners.get(id).copied()
                    })
                    .map_err(malformed)?;
                    patients.insert(p.id.clone(), p);
                }
                "Consent" => {
                    if let Some(c) =
                        fhir::consent_from_fhir(&parse_value(&f.text)?).map_err(malformed)?
                    {
                        consents.push(c);
                    }
                }
                _ => {}
            }
        }
        for (patient, consent) in consents {
            if let Some(p) = patients.get_mut(&patient) {
                match consent {
                    ConsentMeaning::Restriction(r) => p.treatment_restrictions.push(r),
                    ConsentMeaning::Objection(o) => p.sharing_objection = Some(o),
                }
            }
        }
        Ok(patients)
    }
}
