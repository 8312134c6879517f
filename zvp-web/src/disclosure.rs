//! Disclosure: what a page shows of a patient goes out only with a policy [`Permit`] and the
//! [`Receipt`] of its durable audit record (docs/audit.md, "Fail closed").

use zvp_audit::event::{
    ActionCode, AuditEvent, Basis as AuditBasis, Checks, EventType, Outcome, Part, PatientRef,
    PurposeOfUse, Responsible, Source, Subtype, User,
};
use zvp_audit::log::Receipt;
use zvp_auth::policy::{Action, Basis, Permit};
use zvp_core::{Bsn, PatientId, RecordSection, UziNumber};

use crate::Portal;
use crate::caller::Caller;
use crate::refusal::{Refusal, audit_unavailable, reference};

/// What a page shows of a patient, and on what basis: the audit record that must be durable
/// before the page is sent. The section recorded is the one the permit names: a disclosure
/// has no section of its own to get wrong.
pub(crate) struct Disclosure<'a> {
    /// The decision that allows it (a list's permit covers the patients in it).
    pub(crate) permit: &'a Permit,
    /// The basis for this patient: the permit's, or on a list the scope the patient is in.
    pub(crate) basis: Basis,
    /// The patient shown.
    pub(crate) patient: &'a PatientId,
    /// The patient's BSN, for the record (reports are searched by it).
    pub(crate) bsn: Option<Bsn>,
    /// The item within the section (a letter's id, a lab code).
    pub(crate) item: Option<String>,
    /// The reason the practitioner gave (the emergency procedure).
    pub(crate) reason: Option<String>,
}

/// The section a permit lets a page show of `patient`: the one its action names, for that
/// patient and the caller; `None` for any other permit (an administrator's, another
/// patient's), so that a page cannot disclose under it.
fn permitted_section(
    permit: &Permit,
    uzi: UziNumber,
    patient: &PatientId,
) -> Option<RecordSection> {
    if permit.uzi() != uzi {
        return None;
    }
    match permit.action() {
        Action::ListAdmitted => Some(RecordSection::AdmittedList),
        Action::ListDischarged => Some(RecordSection::DischargedList),
        Action::ViewPatient {
            patient: permitted,
            section,
            ..
        } if permitted == patient => Some(*section),
        _ => None,
    }
}

/// The disclosure's section, or the refusal: a disclosure without a permit for it is a bug,
/// and fails closed like a log that cannot be written.
fn section_of(caller: &Caller, disclosure: &Disclosure<'_>) -> Result<RecordSection, Refusal> {
    permitted_section(disclosure.permit, caller.account.uzi, disclosure.patient).ok_or_else(|| {
        let reference = reference(&caller.request_id);
        tracing::error!(event = "disclosure-without-permit", %reference);
        Refusal::NotHere
    })
}

impl Portal {
    /// Writes the audit records of several disclosures at once (they share the log's group
    /// commit); fails closed if any cannot be written.
    pub(crate) async fn disclose_all(
        &self,
        caller: &Caller,
        disclosures: Vec<Disclosure<'_>>,
    ) -> Result<Vec<Receipt>, Refusal> {
        let events = disclosures
            .iter()
            .map(|d| {
                let section = section_of(caller, d)?;
                Ok(self.event(caller, EventType::PatientRecord, Some((d, section))))
            })
            .collect::<Result<Vec<AuditEvent>, Refusal>>()?;
        self.0
            .audit
            .append_all(&events)
            .await
            .map_err(|e| audit_unavailable(caller, &e))
    }

    /// A caller's event of `event_type`: a disclosure's when one is given, otherwise one that
    /// names no patient, for the caller to fill in.
    pub(crate) fn event(
        &self,
        caller: &Caller,
        event_type: EventType,
        disclosure: Option<(&Disclosure<'_>, RecordSection)>,
    ) -> AuditEvent {
        let settings = self.settings();
        let basis = disclosure.map(|(d, _)| d.basis);
        let emergency = matches!(basis, Some(Basis::Emergency { .. }));
        AuditEvent {
            event_type,
            action: ActionCode::R,
            recorded: self.now(),
            outcome: Outcome::Success,
            subtype: if emergency {
                Subtype::Emergency
            } else {
                Subtype::Regular
            },
            checks: Checks {
                authorisation: true,
                treatment_relation: matches!(
                    basis,
                    Some(Basis::Own | Basis::Practice | Basis::Delegation { .. })
                ),
                consent: false,
                emergency,
            },
            basis: basis.map(audit_basis),
            purpose: if emergency {
                PurposeOfUse::BreakTheGlass
            } else {
                PurposeOfUse::Treat
            },
            user: Some(User {
                uzi: caller.account.uzi,
                agb: caller.account.agb,
                name: caller.account.name.clone(),
                role: caller.identity.role(),
            }),
            on_behalf_of: match basis {
                Some(Basis::Delegation { grantor, .. }) => Some(Responsible {
                    agb: grantor,
                    name: None,
                }),
                _ => None,
            },
            access_point: crate::trail::identity_access_point(&caller.identity, caller.ip),
            patient: disclosure.map(|(d, _)| PatientRef {
                id: d.patient.clone(),
                bsn: d.bsn,
            }),
            part: disclosure.map(|(d, section)| Part {
                section,
                item: d.item.clone(),
            }),
            source: Source {
                instance: settings.instance.clone(),
                hospital: settings.hospital.clone(),
            },
            request_id: caller.request_id.clone(),
            reason: disclosure.and_then(|(d, _)| d.reason.clone()),
            query: None,
            card: None,
            change: None,
        }
    }
}

/// The audit log's words for a policy basis.
pub(crate) fn audit_basis(basis: Basis) -> AuditBasis {
    match basis {
        Basis::Own => AuditBasis::Own,
        Basis::Practice => AuditBasis::Practice,
        Basis::Delegation {
            grantor,
            delegation,
        } => AuditBasis::Delegation {
            grantor,
            delegation: delegation.0,
        },
        Basis::Emergency {
            grant,
            reason_category,
        } => AuditBasis::Emergency {
            grant: grant.0,
            reason_category: reason_category.code().to_owned(),
        },
        Basis::Administrator => AuditBasis::Administrator,
    }
}

impl Portal {
    /// The start of the emergency procedure, as the audit log writes it: a disclosure of the
    /// patient's details with the grant and the reason, under its own subtype.
    pub(crate) async fn disclose_with_subtype(
        &self,
        caller: &Caller,
        disclosure: Disclosure<'_>,
        subtype: Subtype,
    ) -> Result<Receipt, Refusal> {
        let section = section_of(caller, &disclosure)?;
        let mut event = self.event(
            caller,
            EventType::PatientRecord,
            Some((&disclosure, section)),
        );
        event.subtype = subtype;
        event.action = ActionCode::R;
        self.0
            .audit
            .append(&event)
            .await
            .map_err(|e| audit_unavailable(caller, &e))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};
    use zvp_auth::directory::{Account, AccountStatus};
    use zvp_auth::policy::{Decision, Policy, Request, World};
    use zvp_core::{AgbCode, ResultCategory, RoleCode};

    use super::*;

    fn permit(world: &World, uzi: UziNumber, agb: AgbCode, action: Action) -> Permit {
        let request = Request {
            uzi,
            card_agb: Some(agb),
            card_role: RoleCode::GENERAL_PRACTITIONER,
            action,
        };
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap();
        match Policy::default().decide(world, &request, now) {
            Decision::Permit(permit) => permit,
            other => panic!("expected a permit, got {other:?}"),
        }
    }

    #[test]
    fn a_disclosure_is_of_the_section_its_permit_names_and_of_no_other() {
        let uzi: UziNumber = "900000001".parse().unwrap();
        let other: UziNumber = "900000002".parse().unwrap();
        let agb: AgbCode = "01000001".parse().unwrap();
        let (own, stranger): (PatientId, PatientId) =
            ("p1".parse().unwrap(), "p2".parse().unwrap());
        let mut world = World::new();
        world.add_account(Account {
            uzi,
            agb: Some(agb),
            name: "J. de Vries".to_owned(),
            role: RoleCode::GENERAL_PRACTITIONER,
            practice_agb: None,
            status: AccountStatus::Active,
            created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            last_login: None,
            previous_login: None,
            accepted_terms: Some(1),
            admin: false,
            contact: Default::default(),
        });
        world.add_patient(own.clone(), Some(agb));
        world.add_patient(stranger.clone(), None);
        let radiology = RecordSection::Results(ResultCategory::Radiology);
        let view = Action::view_patient(own.clone(), radiology).unwrap();
        let viewed = permit(&world, uzi, agb, view);
        assert_eq!(permitted_section(&viewed, uzi, &own), Some(radiology));
        // Not for another patient, nor for another practitioner.
        assert_eq!(permitted_section(&viewed, uzi, &stranger), None);
        assert_eq!(permitted_section(&viewed, other, &own), None);
        // A list's permit names its list.
        let admitted = permit(&world, uzi, agb, Action::ListAdmitted);
        assert_eq!(
            permitted_section(&admitted, uzi, &own),
            Some(RecordSection::AdmittedList)
        );
        let discharged = permit(&world, uzi, agb, Action::ListDischarged);
        assert_eq!(
            permitted_section(&discharged, uzi, &stranger),
            Some(RecordSection::DischargedList)
        );
    }
}
