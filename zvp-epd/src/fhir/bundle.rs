//! Bundle (searchset) and OperationOutcome. Entries hold their resources as raw JSON text, so
//! a resource is parsed once, by the mapping that knows its type, and decimals keep their
//! precision.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::FhirError;

/// A FHIR Bundle as the adapter reads and the mock server writes it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// Always `Bundle`.
    pub resource_type: String,
    /// The bundle's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `searchset` for search results.
    #[serde(rename = "type")]
    pub kind: String,
    /// The number of matches over all pages, when the server says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Links: `self`, and `next` when there is another page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link: Vec<BundleLink>,
    /// The resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry: Vec<BundleEntry>,
}

/// A link of a bundle.
#[derive(Debug, Serialize, Deserialize)]
pub struct BundleLink {
    /// `self`, `next`, `previous`, ...
    pub relation: String,
    /// The URL.
    pub url: String,
}

/// One resource in a bundle.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleEntry {
    /// The resource's absolute URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_url: Option<String>,
    /// The resource, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Box<RawValue>>,
    /// Why the resource is in a search result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<EntrySearch>,
}

/// The search part of an entry.
#[derive(Debug, Serialize, Deserialize)]
pub struct EntrySearch {
    /// `match`, `include` or `outcome`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// Why a resource is in a search result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryMode {
    /// It matched the search.
    Match,
    /// It was included (`_include`, `_revinclude`).
    Include,
}

/// The type and id of a resource, read without parsing the rest.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    resource_type: String,
    #[serde(default)]
    id: Option<String>,
}

impl Bundle {
    /// A bundle from JSON text.
    ///
    /// # Errors
    ///
    /// [`FhirError::NotResource`] if the text is not a Bundle.
    pub fn parse(text: &str) -> Result<Self, FhirError> {
        let bundle: Self = serde_json::from_str(text).map_err(|e| FhirError::NotResource {
            resource: "Bundle",
            detail: e.to_string(),
        })?;
        if bundle.resource_type != "Bundle" {
            return Err(FhirError::NotResource {
                resource: "Bundle",
                detail: format!("resourceType is {:?}", bundle.resource_type),
            });
        }
        Ok(bundle)
    }

    /// The URL of the next page, if any.
    pub fn next(&self) -> Option<&str> {
        self.link
            .iter()
            .find(|l| l.relation == "next")
            .map(|l| l.url.as_str())
    }

    /// The JSON text of this bundle.
    ///
    /// # Errors
    ///
    /// [`FhirError::NotResource`] if it cannot be written (it always can).
    pub fn to_json(&self) -> Result<String, FhirError> {
        serde_json::to_string(self).map_err(|e| FhirError::NotResource {
            resource: "Bundle",
            detail: e.to_string(),
        })
    }
}

impl BundleEntry {
    /// The entry's resource type and id, if it has a resource.
    ///
    /// # Errors
    ///
    /// [`FhirError::NotResource`] if the resource has no `resourceType`.
    pub fn head(&self) -> Result<Option<(String, Option<String>)>, FhirError> {
        self.resource
            .as_deref()
            .map(|r| {
                serde_json::from_str::<Head>(r.get())
                    .map(|h| (h.resource_type, h.id))
                    .map_err(|e| FhirError::NotResource {
                        resource: "Bundle",
                        detail: format!("an entry: {e}"),
                    })
            })
            .transpose()
    }

    /// Whether the server marked the entry as an include (rather than a match).
    pub fn is_include(&self) -> bool {
        self.search
            .as_ref()
            .and_then(|s| s.mode.as_deref())
            .is_some_and(|m| m == "include")
    }
}

/// A searchset bundle of `entries` (JSON text of each resource, and why it is there), with
/// `self` and optional `next` links. `base` is the server's FHIR base URL, for `fullUrl`.
pub fn searchset(
    base: &str,
    entries: Vec<(Box<RawValue>, EntryMode)>,
    total: u64,
    self_link: &str,
    next: Option<String>,
) -> Bundle {
    let mut link = vec![BundleLink {
        relation: "self".to_owned(),
        url: self_link.to_owned(),
    }];
    if let Some(next) = next {
        link.push(BundleLink {
            relation: "next".to_owned(),
            url: next,
        });
    }
    let entry = entries
        .into_iter()
        .map(|(resource, mode)| {
            let full_url = serde_json::from_str::<Head>(resource.get())
                .ok()
                .and_then(|h| Some(format!("{base}/{}/{}", h.resource_type, h.id?)));
            BundleEntry {
                full_url,
                resource: Some(resource),
                search: Some(EntrySearch {
                    mode: Some(
                        match mode {
                            EntryMode::Match => "match",
                            EntryMode::Include => "include",
                        }
                        .to_owned(),
                    ),
                }),
            }
        })
        .collect();
    // A stable id per page: FNV-1a of the self link.
    let id = self_link.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    Bundle {
        resource_type: "Bundle".to_owned(),
        id: Some(format!("searchset-{id:016x}")),
        kind: "searchset".to_owned(),
        total: Some(total),
        link,
        entry,
    }
}

/// An OperationOutcome with one issue.
pub fn operation_outcome(severity: &str, code: &str, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{ "severity": severity, "code": code, "diagnostics": diagnostics }],
    })
}

/// What an OperationOutcome says, as far as the portal uses it: the first issue's code (an
/// IssueType such as `not-found`, `throttled`, `forbidden`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationOutcome {
    /// The first issue's code.
    pub code: String,
}

impl OperationOutcome {
    /// The outcome in JSON text, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        let value: Value = serde_json::from_str(text).ok()?;
        (value.get("resourceType")?.as_str()? == "OperationOutcome").then_some(())?;
        let code = value.pointer("/issue/0/code")?.as_str()?;
        // An IssueType code is a short token; anything else is not shown.
        (code.len() <= 40 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')).then(
            || Self {
                code: code.to_owned(),
            },
        )
    }
}

/// The CapabilityStatement a server over this mapping offers: the resources and search
/// parameters the adapter uses. `software` names the server, `date` is its build or start date.
pub fn capability_statement(software: &str, version: &str, date: &str) -> Value {
    let resource = |kind: &str, params: &[(&str, &str)], read: bool| {
        let mut interaction = vec![json!({ "code": "search-type" })];
        if read {
            interaction.push(json!({ "code": "read" }));
        }
        let search_param: Vec<Value> = params
            .iter()
            .map(|(name, kind)| json!({ "name": name, "type": kind }))
            .collect();
        json!({ "type": kind, "interaction": interaction, "searchParam": search_param })
    };
    let resource =
        |kind: &str, params: &[(&str, &str)], read: bool, include: &[&str], revinclude: &[&str]| {
            let mut r = resource(kind, params, read);
            if !include.is_empty() {
                super::put(&mut r, "searchInclude", json!(include));
            }
            if !revinclude.is_empty() {
                super::put(&mut r, "searchRevInclude", json!(revinclude));
            }
            r
        };
    let patient = [("patient", "reference")];
    json!({
        "resourceType": "CapabilityStatement",
        "id": software,
        "status": "active",
        "date": date,
        "kind": "instance",
        "software": { "name": software, "version": version },
        "implementation": { "description": "zvp synthetic hospital over FHIR R4" },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "resource": [
                resource("Patient", &[("_id", "token"), ("identifier", "token"), ("birthdate", "date"),
                    ("general-practitioner", "reference")], true, &[], &["Consent:patient"]),
                resource("Encounter", &[("patient", "reference"), ("class", "token"), ("status", "token"),
                    ("date", "date"), ("_lastUpdated", "date")], true, &["Encounter:patient"],
                    &["Consent:patient"]),
                resource("Consent", &patient, true, &[], &[]),
                resource("Appointment", &patient, true, &[], &[]),
                resource("Procedure", &patient, true, &[], &[]),
                resource("ServiceRequest", &patient, true, &[], &[]),
                resource("AllergyIntolerance", &patient, true, &[], &[]),
                resource("ClinicalImpression", &patient, true, &[], &[]),
                resource("Condition", &patient, true, &[], &[]),
                resource("MedicationStatement", &patient, true, &[], &[]),
                resource("DocumentReference", &[("patient", "reference"), ("_lastUpdated", "date")],
                    true, &[], &[]),
                resource("DiagnosticReport", &[("patient", "reference"), ("category", "token")], true,
                    &["DiagnosticReport:result"], &[]),
                resource("Observation", &[("patient", "reference"), ("code", "token"), ("date", "date")],
                    true, &[], &[]),
            ],
        }],
    })
}
