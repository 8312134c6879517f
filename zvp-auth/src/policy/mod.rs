//! The authorization policy: who may see which patient, and why.
//!
//! [`Policy::decide`] is a pure function of the facts ([`World`]), the request and the time.
//! It is default deny, and every [`Decision`] says why, in the words the audit log records:
//!
//! - [`Decision::Permit`] with a [`Basis`]: the patient's registered GP (AGB code, as the EPD
//!   says now) is the practitioner ([`Basis::Own`]) or their practice ([`Basis::Practice`]),
//!   or that GP delegated to them for a period covering now ([`Basis::Delegation`]), or they
//!   hold an unexpired emergency grant for this patient ([`Basis::Emergency`]); the
//!   administrator actions have [`Basis::Administrator`], which never opens patient data;
//! - [`Decision::RequiresEmergencyProcedure`]: an eligible practitioner asked for a known
//!   patient with none of the above — the portal offers the emergency procedure;
//! - [`Decision::Deny`] with a [`DenyReason`].
//!
//! # The rules, in the order they are applied
//!
//! 1. The account exists (`no-account`) and is active (`account-pending`, `account-rejected`,
//!    `account-blocked`).
//! 2. An AGB code on the card (anything but `00000000`) equals the account's personal AGB
//!    (`agb-mismatch`).
//! 3. Administrator actions need the administrator flag (`not-administrator`); the clinical
//!    role does not matter for them.
//! 4. Clinical actions need an eligible role on the card (`role-not-eligible`): by default
//!    huisarts 01.015, apotheekhoudend huisarts 01.004, specialist ouderengeneeskunde 01.047,
//!    arts verstandelijk gehandicapten 01.056.
//! 5. Lists (admitted, discharged) are permitted; what they contain is [`Policy::list_scope`],
//!    without the patients who object to sharing ([`ListScope::basis_for`]).
//! 6. Search, view and request-emergency for a patient: unknown patient (`unknown-patient`);
//!    a patient who objects to their record being shared (`patient-objection`: nobody, on no
//!    basis, the emergency procedure included); otherwise the strongest basis that applies —
//!    own, practice, delegation, emergency — or the emergency procedure. A view names the
//!    section of the record it reads, a [`RecordSection`] of one patient's record (never a
//!    list or the search: [`Action::view_patient`]); the decision is the same for every
//!    section, and the permit names the one it opens ([`Permit::section`]).
//!
//! Periods are half-open: a delegation holds while `from <= now < until` (no `until`: open
//! ended) and it is not revoked at or before now; an emergency grant holds while
//! `granted_at <= now < expires_at`.
//!
//! # The JSON world and request
//!
//! [`WorldFile`] and [`RequestFile`] are the formats `zvp-portal policy decide` and the
//! scenario files read:
//!
//! ```json
//! {"now": "2026-11-25T10:00:00Z",
//!  "accounts": [{"uzi": "900000001", "agb": "01000001", "practice_agb": "01009001",
//!                "role": "01.015", "status": "active", "admin": false}],
//!  "delegations": [{"grantor_agb": "01000002", "grantee_uzi": "900000001",
//!                   "from": "2026-11-01T00:00:00Z", "until": "2026-12-01T00:00:00Z",
//!                   "revoked_at": null}],
//!  "emergency_grants": [{"uzi": "900000001", "patient": "p1", "reason_category": "acute-care",
//!                        "reason": "...", "granted_at": "...", "expires_at": "..."}],
//!  "patients": [{"id": "p1", "registered_gp_agb": "01000002", "objection": false}]}
//! ```
//!
//! and `{"uzi": "900000001", "card_agb": "01000001", "card_role": "01.015",
//! "action": "view-patient", "section": "results/clinical-chemistry", "patient": "p1"}`.
//! Optional fields: an account's `agb`, `practice_agb` (absent or `null`), `name`, `admin` (default `false`); a
//! delegation's `until` and `revoked_at` (default `null`) and `id` (default: its position); a
//! grant's `id` (default: its position); a patient's `registered_gp_agb` (`null`: none) and
//! `objection` (default `false`); the request's `card_agb` (absent, `null` or `00000000`:
//! none), `section` and `patient` where the action has none. Unknown fields are ignored. Actions: `list-admitted`, `list-discharged`,
//! `search-patient`, `view-patient` (with a `section`: the code of a section of one patient's
//! record, [`zvp_core::RecordSection::PATIENT_RECORD`], the same code the audit log records:
//! `patient-details`, `care-moments`, `dossier/allergies`, `dossier/conclusion-and-plan`,
//! `dossier/letters`, `dossier/diagnoses`, `dossier/medication`,
//! `results/clinical-chemistry`, `results/microbiology`, `results/nuclear-lab`,
//! `results/pathology`, `results/radiology`, `results/other`, `document`),
//! `request-emergency`, `approve-account`, `reject-account`, `block-account`,
//! `manage-delegations`, `read-audit`, `review-emergency`.

pub mod file;
mod world;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use zvp_core::{AgbCode, PatientId, RecordSection, RoleCode, UziNumber};

pub use file::{ACTION_NAMES, FileError, RequestFile, SECTION_NAMES, WorldFile};
pub use world::World;

use crate::directory::{AccountStatus, DelegationId, GrantId, ReasonCategory};

/// A view of a patient was asked for a section that is no part of one patient's record (a
/// list or the search, see [`RecordSection::is_patient_record`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{0} is no section of one patient's record")]
pub struct NotPatientRecord(pub RecordSection);

/// What the practitioner asks to do.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum Action {
    /// List the currently admitted patients.
    ListAdmitted,
    /// List the recently discharged patients.
    ListDischarged,
    /// Search a patient by BSN (and date of birth).
    SearchPatient {
        /// The patient found.
        patient: PatientId,
    },
    /// Read a section of a patient's record.
    ///
    /// Outside this crate it is made only by [`Action::view_patient`], which refuses the
    /// sections that are no part of one patient's record: the admitted and discharged lists
    /// and the search concern many patients (or none yet) and have their own actions, whose
    /// rules differ (a list is permitted and filtered by [`Policy::list_scope`]). A view of a
    /// "list section" has no meaning, so it cannot be asked rather than being given a rule of
    /// its own: the policy, and its Cedar model, decide only views of a record, and treat all
    /// sections of one patient's record alike.
    #[non_exhaustive]
    ViewPatient {
        /// The patient.
        patient: PatientId,
        /// The section: one of [`RecordSection::PATIENT_RECORD`].
        section: RecordSection,
    },
    /// Start the emergency procedure for a patient.
    RequestEmergency {
        /// The patient.
        patient: PatientId,
    },
    /// Approve an account request (administrator).
    ApproveAccount,
    /// Reject an account request (administrator).
    RejectAccount,
    /// Block or unblock an account (administrator).
    BlockAccount,
    /// Create or revoke delegations (administrator).
    ManageDelegations,
    /// Read audit reports (administrator).
    ReadAudit,
    /// Review emergency grants (administrator).
    ReviewEmergency,
}

impl Action {
    /// A view of `section` of `patient`'s record.
    ///
    /// # Errors
    ///
    /// [`NotPatientRecord`] for a list or the search (see [`Action::ViewPatient`]).
    pub fn view_patient(
        patient: PatientId,
        section: RecordSection,
    ) -> Result<Self, NotPatientRecord> {
        if section.is_patient_record() {
            Ok(Self::ViewPatient { patient, section })
        } else {
            Err(NotPatientRecord(section))
        }
    }

    /// Whether this is an administrator action.
    pub const fn is_administrative(&self) -> bool {
        matches!(
            self,
            Self::ApproveAccount
                | Self::RejectAccount
                | Self::BlockAccount
                | Self::ManageDelegations
                | Self::ReadAudit
                | Self::ReviewEmergency
        )
    }

    /// The patient the action concerns, if any.
    pub const fn patient(&self) -> Option<&PatientId> {
        match self {
            Self::SearchPatient { patient }
            | Self::ViewPatient { patient, .. }
            | Self::RequestEmergency { patient } => Some(patient),
            _ => None,
        }
    }
}

/// A request: who (as the card says) wants to do what.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Request {
    /// The UZI number from the verified certificate.
    pub uzi: UziNumber,
    /// The AGB code on the card, if it carries one.
    pub card_agb: Option<AgbCode>,
    /// The role code on the card.
    pub card_role: RoleCode,
    /// The action.
    pub action: Action,
}

/// Why a request is permitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case", tag = "basis")]
pub enum Basis {
    /// The patient's registered GP is the practitioner (or, for lists: their own patients and
    /// those they may list, see [`Policy::list_scope`]).
    Own,
    /// The patient's registered GP is the practitioner's practice.
    Practice,
    /// The patient's registered GP delegated to the practitioner.
    Delegation {
        /// The delegating GP's AGB code.
        grantor: AgbCode,
        /// The delegation.
        delegation: DelegationId,
    },
    /// The practitioner holds an emergency grant for this patient.
    Emergency {
        /// The grant.
        grant: GrantId,
        /// Its coded reason.
        reason_category: ReasonCategory,
    },
    /// An administrator action by an administrator.
    Administrator,
}

impl Basis {
    /// The stable code: `own`, `practice`, `delegation`, `emergency`, `administrator`.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Own => "own",
            Self::Practice => "practice",
            Self::Delegation { .. } => "delegation",
            Self::Emergency { .. } => "emergency",
            Self::Administrator => "administrator",
        }
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, thiserror::Error)]
#[serde(rename_all = "kebab-case")]
pub enum DenyReason {
    /// No account for this UZI number.
    #[error("no account for this uzi number")]
    NoAccount,
    /// The account request is not yet approved.
    #[error("the account request is pending")]
    AccountPending,
    /// The account request was rejected.
    #[error("the account request was rejected")]
    AccountRejected,
    /// The account is blocked.
    #[error("the account is blocked")]
    AccountBlocked,
    /// The AGB code on the card is not the account's personal AGB code.
    #[error("the agb code on the card differs from the account's")]
    AgbMismatch,
    /// An administrator action by an account without the administrator flag.
    #[error("the account is not an administrator")]
    NotAdministrator,
    /// The role on the card is not eligible for the portal.
    #[error("the role on the card is not eligible")]
    RoleNotEligible,
    /// The EPD knows no such patient.
    #[error("unknown patient")]
    UnknownPatient,
    /// The patient objected to their record being shared.
    #[error("the patient objects to sharing their record")]
    PatientObjection,
}

impl DenyReason {
    /// The stable code (`account-blocked`).
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NoAccount => "no-account",
            Self::AccountPending => "account-pending",
            Self::AccountRejected => "account-rejected",
            Self::AccountBlocked => "account-blocked",
            Self::AgbMismatch => "agb-mismatch",
            Self::NotAdministrator => "not-administrator",
            Self::RoleNotEligible => "role-not-eligible",
            Self::UnknownPatient => "unknown-patient",
            Self::PatientObjection => "patient-objection",
        }
    }
}

/// A permit. Only [`Policy::decide`] makes one, so a handler that takes a `Permit` cannot be
/// reached without a decision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Permit {
    basis: Basis,
    uzi: UziNumber,
    action: Action,
    decided_at: DateTime<Utc>,
}

impl Permit {
    /// Why it is permitted.
    pub const fn basis(&self) -> Basis {
        self.basis
    }

    /// Who is permitted.
    pub const fn uzi(&self) -> UziNumber {
        self.uzi
    }

    /// What is permitted.
    pub const fn action(&self) -> &Action {
        &self.action
    }

    /// The section of the patient's record a page may disclose under this permit, and no
    /// other: for a view of a patient, the section that was asked for and decided (always one
    /// of [`RecordSection::PATIENT_RECORD`]). `None` for every other action: their permits
    /// open no section of a record (what the lists may show is [`Policy::list_scope`]'s, a
    /// search finds a patient to view, the administration opens no patient data).
    pub const fn section(&self) -> Option<RecordSection> {
        match &self.action {
            Action::ViewPatient { section, .. } => Some(*section),
            _ => None,
        }
    }

    /// The time the decision was made for.
    pub const fn decided_at(&self) -> DateTime<Utc> {
        self.decided_at
    }
}

/// The outcome of [`Policy::decide`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Permitted, with its basis.
    Permit(Permit),
    /// Not without the emergency procedure.
    RequiresEmergencyProcedure,
    /// Refused.
    Deny(DenyReason),
}

impl Decision {
    /// The stable code: `permit`, `requires-emergency` or `deny`.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Permit(_) => "permit",
            Self::RequiresEmergencyProcedure => "requires-emergency",
            Self::Deny(_) => "deny",
        }
    }

    /// The decision as the JSON `zvp-portal policy decide` prints:
    /// `{"decision":"permit","basis":"own"}`, `{"decision":"requires-emergency"}`,
    /// `{"decision":"deny","reason":"account-blocked"}`; a delegation adds `grantor` and
    /// `delegation`, an emergency grant `grant` and `reason_category`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::json!({ "decision": self.code() });
        match self {
            Self::Permit(permit) => {
                if let (Ok(serde_json::Value::Object(basis)), Some(object)) =
                    (serde_json::to_value(permit.basis), value.as_object_mut())
                {
                    object.extend(basis);
                }
            }
            Self::RequiresEmergencyProcedure => {}
            Self::Deny(reason) => {
                if let Some(object) = value.as_object_mut() {
                    object.insert("reason".to_owned(), reason.code().into());
                }
            }
        }
        value
    }
}

/// What a list may contain: the patients whose registered GP has this AGB code, on this basis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ListScope {
    /// The registered GP's AGB code.
    pub agb: AgbCode,
    /// Why the practitioner may list these patients.
    pub basis: Basis,
}

impl ListScope {
    /// The basis on which a listed patient is shown, with their registered GP and whether
    /// they object to sharing: the basis of the GP's scope, and none for a patient who
    /// objects (rule 6 holds for the lists too) or whose GP is in no scope.
    pub fn basis_for(
        scope: &[Self],
        registered_gp: Option<AgbCode>,
        objects: bool,
    ) -> Option<Basis> {
        if objects {
            return None;
        }
        let gp = registered_gp?;
        scope.iter().find(|s| s.agb == gp).map(|s| s.basis)
    }
}

/// Why an emergency grant could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrantError {
    /// The request is not one for which the emergency procedure is the way in.
    #[error("the emergency procedure does not apply: {0}")]
    NotApplicable(&'static str),
    /// The free-text reason is shorter than required.
    #[error("the reason has {found} characters, at least {required} are required")]
    ReasonTooShort {
        /// Characters given (trimmed).
        found: usize,
        /// Characters required.
        required: usize,
    },
    /// The free-text reason is longer than [`Policy::MAX_REASON_CHARS`]: a reason is a few
    /// sentences for the reviewer, not a place to store text.
    #[error("the reason has {found} characters, at most {max} are allowed")]
    ReasonTooLong {
        /// Characters given (trimmed).
        found: usize,
        /// Characters allowed.
        max: usize,
    },
}

/// A grant to be stored, as [`Policy::grant_emergency`] approved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    /// Who may use it.
    pub practitioner: UziNumber,
    /// For which patient.
    pub patient: PatientId,
    /// The coded reason.
    pub reason_category: ReasonCategory,
    /// The reason, trimmed.
    pub reason: String,
    /// When it starts.
    pub granted_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// The policy's configuration. [`Policy::default`] is the portal's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    eligible_roles: Vec<RoleCode>,
    min_reason_chars: usize,
    emergency_duration: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            eligible_roles: RoleCode::PRIMARY_CARE_PHYSICIANS.to_vec(),
            min_reason_chars: Self::DEFAULT_MIN_REASON_CHARS,
            emergency_duration: Duration::hours(24),
        }
    }
}

impl Policy {
    /// The default minimum length of an emergency reason, in characters: long enough that a
    /// reason says something ("patiënt op de huisartsenpost"), short enough for a hurry.
    pub const DEFAULT_MIN_REASON_CHARS: usize = 20;

    /// The longest emergency reason, in characters (trimmed): what the form allows, enforced
    /// here so that no client stores more.
    pub const MAX_REASON_CHARS: usize = 1000;

    /// The same policy with these eligible roles.
    #[must_use]
    pub fn with_eligible_roles(mut self, roles: &[RoleCode]) -> Self {
        self.eligible_roles = roles.to_vec();
        self
    }

    /// The same policy with this minimum reason length.
    #[must_use]
    pub const fn with_min_reason_chars(mut self, chars: usize) -> Self {
        self.min_reason_chars = chars;
        self
    }

    /// The same policy with emergency grants of this duration.
    #[must_use]
    pub const fn with_emergency_duration(mut self, duration: Duration) -> Self {
        self.emergency_duration = duration;
        self
    }

    /// The eligible roles.
    pub fn eligible_roles(&self) -> &[RoleCode] {
        &self.eligible_roles
    }

    /// The shortest emergency reason it accepts, in characters.
    pub const fn min_reason_chars(&self) -> usize {
        self.min_reason_chars
    }

    /// How long an emergency grant lasts.
    pub const fn emergency_duration(&self) -> Duration {
        self.emergency_duration
    }

    /// Decides `request` on the facts of `world` at `now`. See the [module docs](self) for
    /// the rules.
    pub fn decide(&self, world: &World, request: &Request, now: DateTime<Utc>) -> Decision {
        match self.decide_basis(world, request, now) {
            Ok(Some(basis)) => Decision::Permit(Permit {
                basis,
                uzi: request.uzi,
                action: request.action.clone(),
                decided_at: now,
            }),
            Ok(None) => Decision::RequiresEmergencyProcedure,
            Err(reason) => Decision::Deny(reason),
        }
    }

    /// Whether this card enters the portal at all: rules 1 and 2, and rule 4 for an account
    /// that is no administrator (an administrator enters the administration with any role;
    /// what they may do there, rule 3, each action decides). The part of every decision that
    /// does not depend on the action, from the same rules [`decide`](Self::decide) applies:
    /// the portal's login asks this, and nothing else.
    ///
    /// # Errors
    ///
    /// The [`DenyReason`] of the first rule that refuses.
    pub fn admit<'w>(
        &self,
        world: &'w World,
        uzi: UziNumber,
        card_agb: Option<AgbCode>,
        card_role: RoleCode,
    ) -> Result<&'w crate::directory::Account, DenyReason> {
        let request = Request {
            uzi,
            card_agb,
            card_role,
            action: Action::ListAdmitted,
        };
        let account = active_account(world, &request)?;
        if account.admin {
            Ok(account)
        } else {
            self.clinical_account(world, &request)
        }
    }

    /// What the practitioner's lists may contain at `now`: their own AGB code, their
    /// practice's, and every GP that delegated to them — each once, with its strongest basis.
    ///
    /// # Errors
    ///
    /// The [`DenyReason`] when the practitioner may not list at all.
    pub fn list_scope(
        &self,
        world: &World,
        uzi: UziNumber,
        card_agb: Option<AgbCode>,
        card_role: RoleCode,
        now: DateTime<Utc>,
    ) -> Result<Vec<ListScope>, DenyReason> {
        let request = Request {
            uzi,
            card_agb,
            card_role,
            action: Action::ListAdmitted,
        };
        let account = self.clinical_account(world, &request)?;
        let mut scope: Vec<ListScope> = Vec::new();
        let mut add = |agb: AgbCode, basis: Basis| {
            if !scope.iter().any(|s| s.agb == agb) {
                scope.push(ListScope { agb, basis });
            }
        };
        if let Some(agb) = account.agb {
            add(agb, Basis::Own);
        }
        if let Some(agb) = account.practice_agb {
            add(agb, Basis::Practice);
        }
        for delegation in world.delegations_to(uzi) {
            if delegation.in_force(now) {
                add(
                    delegation.grantor,
                    Basis::Delegation {
                        grantor: delegation.grantor,
                        delegation: delegation.id,
                    },
                );
            }
        }
        Ok(scope)
    }

    /// Approves an emergency grant for `request` (a `request-emergency`) with the given
    /// reason, lasting the configured duration from `now`.
    ///
    /// # Errors
    ///
    /// [`GrantError::NotApplicable`] unless the decision for the request is
    /// [`Decision::RequiresEmergencyProcedure`] (a denied request, or a patient the
    /// practitioner may already see); [`GrantError::ReasonTooShort`],
    /// [`GrantError::ReasonTooLong`].
    pub fn grant_emergency(
        &self,
        world: &World,
        request: &Request,
        reason_category: ReasonCategory,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<NewGrant, GrantError> {
        let Action::RequestEmergency { patient } = &request.action else {
            return Err(GrantError::NotApplicable("not a request-emergency action"));
        };
        match self.decide(world, request, now) {
            Decision::RequiresEmergencyProcedure => {}
            Decision::Permit(_) => {
                return Err(GrantError::NotApplicable(
                    "the patient is already accessible",
                ));
            }
            Decision::Deny(reason) => return Err(GrantError::NotApplicable(reason.code())),
        }
        let reason = reason.trim();
        let found = reason.chars().count();
        if found > Self::MAX_REASON_CHARS {
            return Err(GrantError::ReasonTooLong {
                found,
                max: Self::MAX_REASON_CHARS,
            });
        }
        if found < self.min_reason_chars {
            return Err(GrantError::ReasonTooShort {
                found,
                required: self.min_reason_chars,
            });
        }
        let expires_at = now
            .checked_add_signed(self.emergency_duration)
            .filter(|end| *end > now)
            .ok_or(GrantError::NotApplicable(
                "the emergency duration is not a positive, representable time",
            ))?;
        Ok(NewGrant {
            practitioner: request.uzi,
            patient: patient.clone(),
            reason_category,
            reason: reason.to_owned(),
            granted_at: now,
            expires_at,
        })
    }

    /// The decision as a basis: `Ok(Some(basis))` permit, `Ok(None)` emergency procedure.
    fn decide_basis(
        &self,
        world: &World,
        request: &Request,
        now: DateTime<Utc>,
    ) -> Result<Option<Basis>, DenyReason> {
        let account = active_account(world, request)?;
        if request.action.is_administrative() {
            return if account.admin {
                Ok(Some(Basis::Administrator))
            } else {
                Err(DenyReason::NotAdministrator)
            };
        }
        let account = self.clinical_account(world, request)?;
        let Some(patient) = request.action.patient() else {
            // The lists: their content is `list_scope`.
            return Ok(Some(Basis::Own));
        };
        let Some(gp) = world.registered_gp(patient) else {
            return Err(DenyReason::UnknownPatient);
        };
        if world.objects(patient) {
            return Err(DenyReason::PatientObjection);
        }
        if let Some(gp) = gp {
            if account.agb == Some(gp) {
                return Ok(Some(Basis::Own));
            }
            if account.practice_agb == Some(gp) {
                return Ok(Some(Basis::Practice));
            }
            if let Some(delegation) = world
                .delegations(gp, request.uzi)
                .iter()
                .find(|d| d.in_force(now))
            {
                return Ok(Some(Basis::Delegation {
                    grantor: gp,
                    delegation: delegation.id,
                }));
            }
        }
        Ok(world
            .grants(request.uzi, patient)
            .iter()
            .find(|g| g.in_force(now))
            .map(|grant| Basis::Emergency {
                grant: grant.id,
                reason_category: grant.reason_category,
            }))
    }

    /// The account, if it may take clinical actions.
    fn clinical_account<'w>(
        &self,
        world: &'w World,
        request: &Request,
    ) -> Result<&'w crate::directory::Account, DenyReason> {
        let account = active_account(world, request)?;
        if !self.eligible_roles.contains(&request.card_role) {
            return Err(DenyReason::RoleNotEligible);
        }
        Ok(account)
    }
}

/// Rules 1 and 2: an active account whose AGB matches the card's.
fn active_account<'w>(
    world: &'w World,
    request: &Request,
) -> Result<&'w crate::directory::Account, DenyReason> {
    let Some(account) = world.account(request.uzi) else {
        return Err(DenyReason::NoAccount);
    };
    match account.status {
        AccountStatus::Active => {}
        AccountStatus::Requested => return Err(DenyReason::AccountPending),
        AccountStatus::Rejected => return Err(DenyReason::AccountRejected),
        AccountStatus::Blocked => return Err(DenyReason::AccountBlocked),
    }
    if let Some(card_agb) = request.card_agb
        && account.agb != Some(card_agb)
    {
        return Err(DenyReason::AgbMismatch);
    }
    Ok(account)
}
