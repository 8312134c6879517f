//! What the FHIR server declares it can do (its CapabilityStatement), and the search
//! strategies the adapter chooses from that: a server that does not declare an `_include` or
//! `_revinclude` is asked for the included resources in a search of their own.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::EpdError;

/// The searches a server declares, per resource type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    software: String,
    resources: HashMap<String, Declared>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Declared {
    params: HashSet<String>,
    include: HashSet<String>,
    revinclude: HashSet<String>,
}

fn strings(value: &Value, key: &str) -> HashSet<String> {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl Capabilities {
    /// Reads a CapabilityStatement: `rest[mode=server].resource[]` with `type`,
    /// `searchParam[].name`, `searchInclude` and `searchRevInclude`.
    ///
    /// # Errors
    ///
    /// [`EpdError::Malformed`] when it is no CapabilityStatement.
    pub fn parse(statement: &Value) -> Result<Self, EpdError> {
        if statement.get("resourceType").and_then(Value::as_str) != Some("CapabilityStatement") {
            return Err(EpdError::Malformed(
                "metadata is not a CapabilityStatement".to_owned(),
            ));
        }
        let software = statement
            .pointer("/software/name")
            .and_then(Value::as_str)
            .unwrap_or("unnamed")
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
        let mut resources = HashMap::new();
        let rests = statement.get("rest").and_then(Value::as_array);
        for rest in rests.into_iter().flatten() {
            if rest.get("mode").and_then(Value::as_str) != Some("server") {
                continue;
            }
            let declared = rest.get("resource").and_then(Value::as_array);
            for resource in declared.into_iter().flatten() {
                let Some(kind) = resource.get("type").and_then(Value::as_str) else {
                    continue;
                };
                let params = resource
                    .get("searchParam")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|p| p.get("name").and_then(Value::as_str))
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                resources.insert(
                    kind.to_owned(),
                    Declared {
                        params,
                        include: strings(resource, "searchInclude"),
                        revinclude: strings(resource, "searchRevInclude"),
                    },
                );
            }
        }
        Ok(Self {
            software,
            resources,
        })
    }

    /// The server's software name, as it gives it.
    pub fn software(&self) -> &str {
        &self.software
    }

    /// Whether searches of `kind` declare `_include=<include>` (e.g. `DiagnosticReport:result`).
    pub fn includes(&self, kind: &str, include: &str) -> bool {
        self.resources
            .get(kind)
            .is_some_and(|r| r.include.contains(include) || r.include.contains("*"))
    }

    /// Whether searches of `kind` declare `_revinclude=<revinclude>` (e.g. `Consent:patient`).
    pub fn revincludes(&self, kind: &str, revinclude: &str) -> bool {
        self.resources
            .get(kind)
            .is_some_and(|r| r.revinclude.contains(revinclude) || r.revinclude.contains("*"))
    }

    /// Whether `kind` declares the search parameter `param`.
    pub fn searches(&self, kind: &str, param: &str) -> bool {
        self.resources
            .get(kind)
            .is_some_and(|r| r.params.contains(param))
    }
}

/// How one of the adapter's searches is made against this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// In the search itself (`_include`, `_revinclude`).
    Included,
    /// In a search of its own, in parallel where it can be.
    Separate,
}

/// The strategies chosen for a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strategies {
    /// The server's software name.
    pub software: String,
    /// A patient's treatment restrictions (Consents) with the patient.
    pub patient_consents: Strategy,
    /// The patients of listed admissions.
    pub list_patients: Strategy,
    /// The treatment restrictions of listed patients.
    pub list_consents: Strategy,
    /// A result report's Observations.
    pub report_results: Strategy,
    /// Whether the GP lists can be searched through the Practitioners (by AGB identifier,
    /// then the patients naming them), where the chained search finds nothing.
    pub practitioner_lookup: bool,
}

impl Strategies {
    /// The strategies for what `capabilities` declares.
    pub fn choose(capabilities: &Capabilities) -> Self {
        let pick = |declared: bool| {
            if declared {
                Strategy::Included
            } else {
                Strategy::Separate
            }
        };
        Self {
            software: capabilities.software().to_owned(),
            patient_consents: pick(capabilities.revincludes("Patient", "Consent:patient")),
            list_patients: pick(capabilities.includes("Encounter", "Encounter:patient")),
            list_consents: pick(
                capabilities.includes("Encounter", "Encounter:patient")
                    && capabilities.revincludes("Encounter", "Consent:patient"),
            ),
            report_results: pick(
                capabilities.includes("DiagnosticReport", "DiagnosticReport:result"),
            ),
            practitioner_lookup: capabilities.searches("Practitioner", "identifier")
                && capabilities.searches("Patient", "general-practitioner")
                && capabilities.searches("Encounter", "patient"),
        }
    }

    /// One line per search: what it needs and how it is made, for the log at start and for
    /// `zvp-portal epd check`.
    pub fn describe(&self) -> Vec<(&'static str, &'static str)> {
        let how = |s: Strategy, included: &'static str, separate: &'static str| match s {
            Strategy::Included => included,
            Strategy::Separate => separate,
        };
        vec![
            (
                "GP lists",
                if self.practitioner_lookup {
                    "Encounter?patient.general-practitioner:identifier=…; where that finds \
                     nothing, Practitioner?identifier, Patient?general-practitioner, \
                     Encounter?patient"
                } else {
                    "Encounter?patient.general-practitioner:identifier=…"
                },
            ),
            (
                "patient with treatment restrictions",
                how(
                    self.patient_consents,
                    "Patient?_id&_revinclude=Consent:patient",
                    "Patient?_id and Consent?patient in parallel",
                ),
            ),
            (
                "listed patients",
                how(
                    self.list_patients,
                    "Encounter?…&_include=Encounter:patient",
                    "Encounter?…, then Patient?_id=…",
                ),
            ),
            (
                "listed treatment restrictions",
                how(
                    self.list_consents,
                    "_revinclude:iterate=Consent:patient",
                    "Consent?patient=… after the list",
                ),
            ),
            (
                "report results",
                how(
                    self.report_results,
                    "DiagnosticReport?…&_include=DiagnosticReport:result",
                    "DiagnosticReport?…, then Observation?_id=…",
                ),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn undeclared_includes_are_searched_separately() {
        let bare = Capabilities::parse(&json!({
            "resourceType": "CapabilityStatement",
            "rest": [{"mode": "server", "resource": [{"type": "Patient"}]}],
        }))
        .unwrap();
        let s = Strategies::choose(&bare);
        assert_eq!(s.patient_consents, Strategy::Separate);
        assert_eq!(s.report_results, Strategy::Separate);
        let full = Capabilities::parse(&crate::fhir::capability_statement("m", "1", "2026-01-01"))
            .unwrap();
        let s = Strategies::choose(&full);
        assert_eq!(
            (
                s.patient_consents,
                s.list_patients,
                s.list_consents,
                s.report_results
            ),
            (
                Strategy::Included,
                Strategy::Included,
                Strategy::Included,
                Strategy::Included
            )
        );
    }

    #[test]
    fn something_else_is_refused() {
        assert_eq!(
            Capabilities::parse(&json!({"resourceType": "Patient"})),
            Err(EpdError::Malformed(
                "metadata is not a CapabilityStatement".to_owned()
            ))
        );
    }
}
