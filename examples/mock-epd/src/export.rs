//! The synthetic hospital as the FHIR resources the mock serves, with the same ids and the
//! same references: for loading into another FHIR server, so that the portal can be run
//! against both and the pages compared.

use serde_json::{Value, json};
use zvp_core::ResultCategory;
use zvp_epd::fhir;
use zvp_epd::synthetic::SyntheticEpd;
use zvp_epd::{Epd, EpdError, RequestContext};

use crate::Shapes;
use crate::search::{care_moment, consents, numbered};

/// How the patients name their GP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GpReference {
    /// A logical reference: the AGB identifier (and the name), no Practitioner resource.
    #[default]
    Logical,
    /// A literal reference `Practitioner/gp-<AGB>` (and the name), with a Practitioner
    /// resource per GP carrying the AGB identifier.
    Literal,
}

/// Every resource of every patient, as the mock serves them (GPs by logical reference).
///
/// # Errors
///
/// [`EpdError`] when a record cannot be rendered (not expected for a generated hospital).
pub async fn resources(epd: &SyntheticEpd) -> Result<Vec<Value>, EpdError> {
    resources_with(epd, GpReference::Logical).await
}

/// Every resource of every patient: Patient, Consent, the admission Encounter, Appointment,
/// Procedure and ServiceRequest, AllergyIntolerance, ClinicalImpression, Condition,
/// MedicationStatement, DocumentReference, DiagnosticReport and its Observations; and with
/// [`GpReference::Literal`] the GPs' Practitioners.
///
/// # Errors
///
/// [`EpdError`] when a record cannot be rendered (not expected for a generated hospital).
pub async fn resources_with(epd: &SyntheticEpd, gp: GpReference) -> Result<Vec<Value>, EpdError> {
    resources_shaped(epd, gp, Shapes::default(), &[]).await
}

/// [`resources_with`], with the report categories and letters in the forms of `shapes` (a
/// letter by URL brings its Binary) and a privacy Consent for each patient in `objecting`.
/// References and decimals are as zvp writes them.
///
/// # Errors
///
/// [`EpdError`] when a record cannot be rendered (not expected for a generated hospital).
pub async fn resources_shaped(
    epd: &SyntheticEpd,
    gp: GpReference,
    shapes: Shapes,
    objecting: &[zvp_core::PatientId],
) -> Result<Vec<Value>, EpdError> {
    let ctx = RequestContext {
        request_id: "export".to_owned(),
    };
    let malformed = |e: fhir::FhirError| EpdError::Malformed(e.to_string());
    let parse = |raw: &serde_json::value::RawValue| {
        serde_json::from_str::<Value>(raw.get()).map_err(|e| EpdError::Malformed(e.to_string()))
    };
    let mut out = Vec::new();
    let mut practitioners = std::collections::BTreeMap::new();
    for id in epd.patient_ids() {
        let mut patient = epd.patient(id, &ctx).await?;
        if objecting.contains(id) {
            patient.sharing_objection = Some(zvp_core::SharingObjection {
                recorded_on: Some(epd.now().date_naive()),
            });
        }
        let mut resource = fhir::patient_to_fhir(&patient);
        if let (GpReference::Literal, Some(registered)) = (gp, &patient.registered_gp) {
            let practitioner = format!("gp-{}", registered.agb);
            let mut reference = json!({ "reference": format!("Practitioner/{practitioner}") });
            if let Some(name) = &registered.name {
                set(&mut reference, "display", json!(name));
            }
            set(&mut resource, "generalPractitioner", json!([reference]));
            practitioners.entry(practitioner).or_insert_with(|| {
                let mut practitioner = json!({
                    "resourceType": "Practitioner",
                    "identifier": [{ "system": fhir::AGB_SYSTEM, "value": registered.agb.to_string() }],
                });
                if let Some(name) = &registered.name {
                    set(&mut practitioner, "name", json!([{ "text": name }]));
                }
                practitioner
            });
        }
        out.push(resource);
        for consent in consents(&patient)? {
            out.push(parse(&consent)?);
        }
        if let Some(admission) = epd.admission(id)? {
            out.push(fhir::admission_to_fhir(&format!("{id}-enc"), admission));
        }
        for (n, moment) in epd.care_moments(id, &ctx).await?.iter().enumerate() {
            // The admission is the Encounter above; the others are numbered as the mock
            // numbers them.
            if fhir::care_moment_resource_type(moment.kind) != "Encounter"
                && let Some(r) = care_moment(&format!("{id}-moment-{n}"), id, moment)
            {
                out.push(r);
            }
        }
        out.extend(numbered(
            id,
            "allergy",
            &epd.allergies(id, &ctx).await?,
            fhir::allergy_to_fhir,
        ));
        out.extend(numbered(
            id,
            "impression",
            &epd.conclusions(id, &ctx).await?,
            fhir::conclusion_to_fhir,
        ));
        out.extend(numbered(
            id,
            "condition",
            &epd.diagnoses(id, &ctx).await?,
            fhir::diagnosis_to_fhir,
        ));
        out.extend(numbered(
            id,
            "medication",
            &epd.medication(id, &ctx).await?,
            fhir::medication_to_fhir,
        ));
        for letter in epd.letters(id, &ctx).await? {
            let text = crate::letter_text(epd, id, &letter.id, &ctx).await?;
            let document = letter.id.as_str();
            out.push(shapes.letter(fhir::letter_to_fhir(id, &letter, &text), document, &text));
            if shapes.letters.by_url {
                out.push(shapes.binary(document, &text));
            }
        }
        for category in ResultCategory::ALL {
            for report in epd.results(id, category, &ctx).await? {
                let (mut resource, observations) =
                    fhir::report_to_fhir(id, &report).map_err(malformed)?;
                shapes.categories.file(&mut resource, category);
                out.push(resource);
                for o in observations {
                    out.push(parse(&o)?);
                }
            }
        }
    }
    for (id, mut practitioner) in practitioners {
        set(&mut practitioner, "id", json!(id));
        out.push(practitioner);
    }
    Ok(out)
}

/// Sets `key` of a JSON object (every value here is one).
fn set(object: &mut Value, key: &str, value: Value) {
    if let Some(object) = object.as_object_mut() {
        object.insert(key.to_owned(), value);
    }
}
