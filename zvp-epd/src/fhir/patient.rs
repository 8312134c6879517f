//! Patient (nl-core-Patient).

use chrono::NaiveDate;
use serde_json::{Value, json};
use zvp_core::{Address, AgbCode, Bsn, Gender, Patient, PatientId, PersonName, RegisteredGp};

use super::{
    AGB_SYSTEM, BSN_SYSTEM, FhirError, expect_type, extension, invalid, missing, reference_id,
    str_at,
};

const OWN_PREFIX: &str = "http://hl7.org/fhir/StructureDefinition/humanname-own-prefix";
const OWN_NAME: &str = "http://hl7.org/fhir/StructureDefinition/humanname-own-name";
const EN_QUALIFIER: &str = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-qualifier";
const STREET_NAME: &str = "http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-streetName";
const HOUSE_NUMBER: &str = "http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-houseNumber";

/// The Patient resource of a patient (treatment restrictions are Consent resources of their own).
pub fn patient_to_fhir(patient: &Patient) -> Value {
    let name = &patient.name;
    let mut given = Vec::new();
    let mut given_extensions = Vec::new();
    for part in name.given_names().unwrap_or("").split_whitespace() {
        given.push(json!(part));
        given_extensions.push(json!({ "extension": [{ "url": EN_QUALIFIER, "valueCode": "BR" }] }));
    }
    if let Some(initials) = name.given_initials() {
        given.push(json!(initials));
        given_extensions.push(json!({ "extension": [{ "url": EN_QUALIFIER, "valueCode": "IN" }] }));
    }
    let family = match name.prefix() {
        Some(prefix) => format!("{prefix} {}", name.family_name()),
        None => name.family_name().to_owned(),
    };
    let mut family_parts = Vec::new();
    if let Some(prefix) = name.prefix() {
        family_parts.push(json!({ "url": OWN_PREFIX, "valueString": prefix }));
    }
    family_parts.push(json!({ "url": OWN_NAME, "valueString": name.family_name() }));
    let mut resource = json!({
        "resourceType": "Patient",
        "id": patient.id.as_str(),
        "name": [{
            "use": "official",
            "family": family,
            "_family": { "extension": family_parts },
            "given": given,
            "_given": given_extensions,
        }],
        "gender": match patient.gender {
            Gender::Female => "female",
            Gender::Male => "male",
            Gender::Other => "other",
            Gender::Unknown => "unknown",
        },
        "birthDate": patient.birth_date.to_string(),
    });
    let Some(object) = resource.as_object_mut() else {
        return resource;
    };
    if let Some(bsn) = patient.bsn {
        object.insert(
            "identifier".to_owned(),
            json!([{ "system": BSN_SYSTEM, "value": bsn.to_string() }]),
        );
    }
    if let Some(address) = &patient.address {
        object.insert(
            "address".to_owned(),
            json!([{
                "use": "home",
                "line": [format!("{} {}", address.street, address.house_number)],
                "_line": [{ "extension": [
                    { "url": STREET_NAME, "valueString": address.street },
                    { "url": HOUSE_NUMBER, "valueString": address.house_number },
                ]}],
                "postalCode": address.postal_code,
                "city": address.city,
            }]),
        );
    }
    if let Some(gp) = &patient.registered_gp {
        let mut reference =
            json!({ "identifier": { "system": AGB_SYSTEM, "value": gp.agb.to_string() } });
        if let (Some(name), Some(r)) = (&gp.name, reference.as_object_mut()) {
            r.insert("display".to_owned(), json!(name));
        }
        object.insert("generalPractitioner".to_owned(), json!([reference]));
    }
    resource
}

/// A patient from a Patient resource (without its treatment restrictions), its GP named by
/// a logical reference (the AGB identifier).
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse.
pub fn patient_from_fhir(resource: &Value) -> Result<Patient, FhirError> {
    patient_from_fhir_with(resource, |_| None)
}

/// The ids of the Practitioners a Patient's `generalPractitioner` names only by a literal
/// reference (`Practitioner/<id>` without an AGB identifier): those to read to know the GP.
pub fn unresolved_practitioners(resource: &Value) -> Vec<String> {
    resource
        .get("generalPractitioner")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| str_at(r, "/identifier/system") != Some(AGB_SYSTEM))
        .filter_map(|r| str_at(r, "/reference").and_then(|r| reference_id(r, "Practitioner")))
        .map(str::to_owned)
        .collect()
}

/// A Practitioner's id and AGB code, if it has one.
///
/// # Errors
///
/// [`FhirError`] for another resource type, or an AGB identifier that does not parse.
pub fn practitioner_agb(resource: &Value) -> Result<Option<(String, AgbCode)>, FhirError> {
    const R: &str = "Practitioner";
    expect_type(R, resource)?;
    let id = str_at(resource, "/id").ok_or_else(|| missing(R, "id", "string"))?;
    resource
        .get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|i| str_at(i, "/system") == Some(AGB_SYSTEM))
        .map(|i| {
            let agb = str_at(i, "/value")
                .ok_or_else(|| missing(R, "identifier.value", "string"))?
                .parse()
                .map_err(|e| invalid(R, "identifier.value", e))?;
            Ok((id.to_owned(), agb))
        })
        .transpose()
}

/// A patient from a Patient resource, as [`patient_from_fhir`], with a GP named by a literal
/// reference `Practitioner/<id>` found through `practitioner` (its AGB code).
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse.
pub fn patient_from_fhir_with(
    resource: &Value,
    practitioner: impl Fn(&str) -> Option<AgbCode>,
) -> Result<Patient, FhirError> {
    const R: &str = "Patient";
    expect_type(R, resource)?;
    let id: PatientId = str_at(resource, "/id")
        .ok_or_else(|| missing(R, "id", "string"))?
        .parse()
        .map_err(|e| invalid(R, "id", e))?;
    let bsn = resource
        .get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|i| i.get("system").and_then(Value::as_str) == Some(BSN_SYSTEM))
        .map(|i| {
            i.get("value")
                .and_then(Value::as_str)
                .ok_or_else(|| missing(R, "identifier.value", "string"))?
                .parse::<Bsn>()
                .map_err(|e| invalid(R, "identifier.value", e))
        })
        .transpose()?;
    let name_element = resource
        .get("name")
        .and_then(Value::as_array)
        .and_then(|names| {
            names
                .iter()
                .find(|n| n.get("use").and_then(Value::as_str) == Some("official"))
                .or(names.first())
        })
        .ok_or_else(|| missing(R, "name", "HumanName"))?;
    let family_parts = name_element.get("_family");
    let own_name = family_parts
        .and_then(|f| extension(f, OWN_NAME))
        .and_then(|e| e.get("valueString"))
        .and_then(Value::as_str);
    let prefix = family_parts
        .and_then(|f| extension(f, OWN_PREFIX))
        .and_then(|e| e.get("valueString"))
        .and_then(Value::as_str);
    let family = own_name
        .or_else(|| name_element.get("family").and_then(Value::as_str))
        .ok_or_else(|| missing(R, "name.family", "string"))?;
    let mut given_names = Vec::new();
    let mut initials = None;
    let given = name_element
        .get("given")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let qualifiers = name_element
        .get("_given")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, part) in given.iter().enumerate() {
        let Some(part) = part.as_str() else { continue };
        let qualifier = qualifiers
            .get(i)
            .and_then(|q| extension(q, EN_QUALIFIER))
            .and_then(|e| e.get("valueCode"))
            .and_then(Value::as_str);
        if qualifier == Some("IN") {
            initials = Some(part);
        } else {
            given_names.push(part);
        }
    }
    let mut name = PersonName::new(family)
        .map_err(|e| invalid(R, "name.family", e))?
        .with_given_names(&given_names.join(" "))
        .with_prefix(prefix.unwrap_or(""));
    if let Some(initials) = initials {
        name = name.with_initials(initials);
    }
    let gender = match str_at(resource, "/gender") {
        Some("female") => Gender::Female,
        Some("male") => Gender::Male,
        Some("other") => Gender::Other,
        Some("unknown") | None => Gender::Unknown,
        Some(other) => return Err(invalid(R, "gender", format!("unknown gender {other:?}"))),
    };
    let birth_date: NaiveDate = str_at(resource, "/birthDate")
        .ok_or_else(|| missing(R, "birthDate", "date"))?
        .parse()
        .map_err(|e| invalid(R, "birthDate", e))?;
    let address = resource
        .get("address")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .map(|a| {
            let parts = a.pointer("/_line/0");
            let street = parts
                .and_then(|p| extension(p, STREET_NAME))
                .and_then(|e| e.get("valueString"))
                .and_then(Value::as_str);
            let number = parts
                .and_then(|p| extension(p, HOUSE_NUMBER))
                .and_then(|e| e.get("valueString"))
                .and_then(Value::as_str);
            let line = str_at(a, "/line/0").unwrap_or("");
            Address {
                street: street.unwrap_or(line).to_owned(),
                house_number: number.unwrap_or("").to_owned(),
                postal_code: str_at(a, "/postalCode").unwrap_or("").to_owned(),
                city: str_at(a, "/city").unwrap_or("").to_owned(),
            }
        });
    let references = resource
        .get("generalPractitioner")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let logical = references
        .iter()
        .find(|r| str_at(r, "/identifier/system") == Some(AGB_SYSTEM))
        .map(|r| {
            let agb: AgbCode = str_at(r, "/identifier/value")
                .ok_or_else(|| missing(R, "generalPractitioner.identifier.value", "string"))?
                .parse()
                .map_err(|e| invalid(R, "generalPractitioner.identifier.value", e))?;
            Ok((agb, r))
        })
        .transpose()?;
    let registered_gp = logical
        .or_else(|| {
            references.iter().find_map(|r| {
                let id = str_at(r, "/reference").and_then(|r| reference_id(r, "Practitioner"))?;
                Some((practitioner(id)?, r))
            })
        })
        .map(|(agb, r)| RegisteredGp {
            agb,
            name: str_at(r, "/display").map(str::to_owned),
        });
    Ok(Patient {
        id,
        bsn,
        name,
        gender,
        birth_date,
        address,
        registered_gp,
        treatment_restrictions: Vec::new(),
        sharing_objection: None,
    })
}
