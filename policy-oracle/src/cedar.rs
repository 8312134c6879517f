//! The zvp policy written in Cedar, as an independent second encoding of the same rules.
//!
//! Cedar has no quantifiers ("there is a delegation such that ..."), so a world's delegations
//! and emergency grants are offered to Cedar one at a time in the request context, and the
//! answers are combined: a forbid in any answer denies (the reason is the first in the
//! zvp order of rules), otherwise the strongest permit over all answers is the basis, and a
//! patient request that no policy permits needs the emergency procedure. Everything else —
//! status, AGB, roles, the registered GP, periods and their half-open ends — is Cedar's to
//! judge. Times are seconds since the epoch.
//!
//! The section a view reads is not in the model: zvp decides every section of one patient's
//! record alike, so the rules have nothing to say about it, and a view of a list or the search
//! cannot be asked ([`Action::view_patient`] refuses it). The differential compares views of
//! every section, so a rule in zvp that told sections apart would show up as a disagreement.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId, EntityTypeName,
    EntityUid, Policy as CedarPolicy, PolicyId, PolicySet, Request as CedarRequest,
    RestrictedExpression,
};
use zvp_auth::directory::AccountStatus;
use zvp_auth::policy::{Action, Decision, Policy, Request, WorldFile};

/// A decision reduced to what both engines state: the outcome and its basis or reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Permitted, with the basis code.
    Permit(&'static str),
    /// The emergency procedure.
    RequiresEmergency,
    /// Denied, with the reason code.
    Deny(&'static str),
}

impl Outcome {
    /// The outcome of a zvp decision.
    pub fn of(decision: &Decision) -> Self {
        match decision {
            Decision::Permit(permit) => Self::Permit(permit.basis().code()),
            Decision::RequiresEmergencyProcedure => Self::RequiresEmergency,
            Decision::Deny(reason) => Self::Deny(reason.code()),
        }
    }
}

/// Deny reasons in the order zvp applies its rules: when several forbids hold, the first wins.
const DENY_ORDER: [&str; 9] = [
    "no-account",
    "account-pending",
    "account-rejected",
    "account-blocked",
    "agb-mismatch",
    "not-administrator",
    "role-not-eligible",
    "unknown-patient",
    "patient-objection",
];

/// Permit bases from strongest to weakest.
const PERMIT_ORDER: [&str; 6] = [
    "administrator",
    "list",
    "own",
    "practice",
    "delegation",
    "emergency",
];

/// The policies; `{eligible}` is replaced by the eligible roles as a Cedar set.
const POLICIES: [(&str, &str); 15] = [
    (
        "no-account",
        r#"forbid (principal, action, resource) when { principal.status == "none" };"#,
    ),
    (
        "account-pending",
        r#"forbid (principal, action, resource) when { principal.status == "requested" };"#,
    ),
    (
        "account-rejected",
        r#"forbid (principal, action, resource) when { principal.status == "rejected" };"#,
    ),
    (
        "account-blocked",
        r#"forbid (principal, action, resource) when { principal.status == "blocked" };"#,
    ),
    (
        "agb-mismatch",
        r#"forbid (principal, action, resource)
           when { context.card_agb != "" && context.card_agb != principal.agb };"#,
    ),
    (
        "not-administrator",
        r#"forbid (principal, action in Action::"administrative", resource) unless { principal.admin };"#,
    ),
    (
        "role-not-eligible",
        r#"forbid (principal, action in Action::"clinical", resource)
           unless { {eligible}.contains(context.card_role) };"#,
    ),
    (
        "unknown-patient",
        r#"forbid (principal, action in Action::"patient", resource) unless { resource.known };"#,
    ),
    (
        "patient-objection",
        r#"forbid (principal, action in Action::"patient", resource) when { resource.objection };"#,
    ),
    (
        "administrator",
        r#"permit (principal, action in Action::"administrative", resource);"#,
    ),
    (
        "list",
        r#"permit (principal, action in Action::"list", resource);"#,
    ),
    (
        "own",
        r#"permit (principal, action in Action::"patient", resource)
           when { resource.gp != "" && resource.gp == principal.agb };"#,
    ),
    (
        "practice",
        r#"permit (principal, action in Action::"patient", resource)
           when { resource.gp != "" && resource.gp == principal.practice_agb };"#,
    ),
    (
        "delegation",
        r#"permit (principal, action in Action::"patient", resource) when {
             context.has_delegation
             && resource.gp != ""
             && context.delegation.grantor == resource.gp
             && context.delegation.grantee == principal
             && context.delegation.from <= context.now
             && (context.delegation.open_ended || context.now < context.delegation.until)
             && (!context.delegation.revoked || context.now < context.delegation.revoked_at)
           };"#,
    ),
    (
        "emergency",
        r#"permit (principal, action in Action::"patient", resource) when {
             context.has_grant
             && context.grant.practitioner == principal
             && context.grant.patient == resource
             && context.grant.granted_at <= context.now
             && context.now < context.grant.expires_at
           };"#,
    ),
];

/// Why the Cedar side could not be set up (a bug in this encoding, not in zvp).
#[derive(Debug)]
pub struct OracleError(pub String);

impl std::fmt::Display for OracleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OracleError {}

fn err(e: impl std::fmt::Display) -> OracleError {
    OracleError(e.to_string())
}

/// The Cedar policy set for a zvp [`Policy`].
#[derive(Debug)]
pub struct CedarOracle {
    policies: PolicySet,
    authorizer: Authorizer,
}

/// Which delegation or grant of a world a Cedar request offers in its context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidate {
    /// Neither.
    None,
    /// The world's delegation at this index.
    Delegation(usize),
    /// The world's emergency grant at this index.
    Grant(usize),
}

/// A world as Cedar entities, with its delegations and grants as context records.
#[derive(Debug)]
pub struct CedarWorld {
    entities: Entities,
    accounts: HashSet<String>,
    patients: HashSet<String>,
    now: i64,
    delegations: Vec<RestrictedExpression>,
    grants: Vec<RestrictedExpression>,
}

fn uid(kind: &str, id: &str) -> Result<EntityUid, OracleError> {
    Ok(EntityUid::from_type_name_and_id(
        EntityTypeName::from_str(kind).map_err(err)?,
        EntityId::new(id),
    ))
}

fn string(s: impl Into<String>) -> RestrictedExpression {
    RestrictedExpression::new_string(s.into())
}

/// The Cedar name of a zvp action, and the groups it belongs to.
fn action_name(action: &Action) -> (&'static str, &'static [&'static str]) {
    const PATIENT: &[&str] = &["clinical", "patient"];
    const LIST: &[&str] = &["clinical", "list"];
    const ADMIN: &[&str] = &["administrative"];
    match action {
        Action::ListAdmitted => ("list-admitted", LIST),
        Action::ListDischarged => ("list-discharged", LIST),
        Action::SearchPatient { .. } => ("search-patient", PATIENT),
        Action::ViewPatient { .. } => ("view-patient", PATIENT),
        Action::RequestEmergency { .. } => ("request-emergency", PATIENT),
        Action::ApproveAccount => ("approve-account", ADMIN),
        Action::RejectAccount => ("reject-account", ADMIN),
        Action::BlockAccount => ("block-account", ADMIN),
        Action::ManageDelegations => ("manage-delegations", ADMIN),
        Action::ReadAudit => ("read-audit", ADMIN),
        Action::ReviewEmergency => ("review-emergency", ADMIN),
    }
}

/// Every action, for building the action hierarchy.
const ACTIONS: [(&str, &[&str]); 11] = [
    ("list-admitted", &["clinical", "list"]),
    ("list-discharged", &["clinical", "list"]),
    ("search-patient", &["clinical", "patient"]),
    ("view-patient", &["clinical", "patient"]),
    ("request-emergency", &["clinical", "patient"]),
    ("approve-account", &["administrative"]),
    ("reject-account", &["administrative"]),
    ("block-account", &["administrative"]),
    ("manage-delegations", &["administrative"]),
    ("read-audit", &["administrative"]),
    ("review-emergency", &["administrative"]),
];

impl CedarOracle {
    /// The Cedar policy set for `policy`'s eligible roles.
    ///
    /// # Errors
    ///
    /// [`OracleError`] if a policy does not parse (a bug in this file).
    pub fn new(policy: &Policy) -> Result<Self, OracleError> {
        let eligible = format!(
            "[{}]",
            policy
                .eligible_roles()
                .iter()
                .map(|r| format!("\"{r}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut policies = PolicySet::new();
        for (id, text) in POLICIES {
            let text = text.replace("{eligible}", &eligible);
            let parsed = CedarPolicy::parse(Some(PolicyId::new(id)), text).map_err(err)?;
            policies.add(parsed).map_err(err)?;
        }
        Ok(Self {
            policies,
            authorizer: Authorizer::new(),
        })
    }

    /// Loads a world into Cedar entities.
    ///
    /// # Errors
    ///
    /// [`OracleError`] if an entity cannot be built (a bug in this file).
    pub fn load(&self, world: &WorldFile) -> Result<CedarWorld, OracleError> {
        let agb =
            |a: Option<zvp_core::AgbCode>| string(a.map(|a| a.to_string()).unwrap_or_default());
        let mut entities = Vec::new();
        for (name, groups) in ACTIONS {
            let parents = groups
                .iter()
                .map(|g| uid("Action", g))
                .collect::<Result<HashSet<_>, _>>()?;
            entities.push(Entity::new_no_attrs(uid("Action", name)?, parents));
        }
        for group in ["clinical", "patient", "list", "administrative"] {
            entities.push(Entity::new_no_attrs(uid("Action", group)?, HashSet::new()));
        }
        let status = |s: AccountStatus| match s {
            AccountStatus::Requested => "requested",
            AccountStatus::Active => "active",
            AccountStatus::Blocked => "blocked",
            AccountStatus::Rejected => "rejected",
        };
        let practitioner = |id: &str,
                            status: &str,
                            agb_: RestrictedExpression,
                            practice: RestrictedExpression,
                            admin: bool| {
            Entity::new(
                uid("Practitioner", id)?,
                HashMap::from([
                    ("status".to_owned(), string(status)),
                    ("agb".to_owned(), agb_),
                    ("practice_agb".to_owned(), practice),
                    ("admin".to_owned(), RestrictedExpression::new_bool(admin)),
                ]),
                HashSet::new(),
            )
            .map_err(err)
        };
        let mut accounts = HashSet::new();
        for a in &world.accounts {
            accounts.insert(a.uzi.to_string());
            entities.push(practitioner(
                &a.uzi.to_string(),
                status(a.status),
                agb(a.agb),
                agb(a.practice_agb),
                a.admin,
            )?);
        }
        entities.push(practitioner(
            "no-account",
            "none",
            string(""),
            string(""),
            false,
        )?);
        let patient = |id: &str, known: bool, gp: RestrictedExpression, objection: bool| {
            Entity::new(
                uid("Patient", id)?,
                HashMap::from([
                    ("known".to_owned(), RestrictedExpression::new_bool(known)),
                    ("gp".to_owned(), gp),
                    (
                        "objection".to_owned(),
                        RestrictedExpression::new_bool(objection),
                    ),
                ]),
                HashSet::new(),
            )
            .map_err(err)
        };
        let mut patients = HashSet::new();
        for p in &world.patients {
            patients.insert(p.id.to_string());
            entities.push(patient(
                p.id.as_str(),
                true,
                agb(p.registered_gp_agb),
                p.objection,
            )?);
        }
        entities.push(patient("unknown", false, string(""), false)?);
        entities.push(Entity::new_no_attrs(
            uid("Portal", "portal")?,
            HashSet::new(),
        ));

        let seconds =
            |t: chrono::DateTime<chrono::Utc>| RestrictedExpression::new_long(t.timestamp());
        let delegations = world
            .delegations
            .iter()
            .map(|d| {
                RestrictedExpression::new_record([
                    ("grantor".to_owned(), string(d.grantor_agb.to_string())),
                    (
                        "grantee".to_owned(),
                        RestrictedExpression::new_entity_uid(uid(
                            "Practitioner",
                            &d.grantee_uzi.to_string(),
                        )?),
                    ),
                    ("from".to_owned(), seconds(d.from)),
                    ("until".to_owned(), seconds(d.until.unwrap_or(d.from))),
                    (
                        "open_ended".to_owned(),
                        RestrictedExpression::new_bool(d.until.is_none()),
                    ),
                    (
                        "revoked".to_owned(),
                        RestrictedExpression::new_bool(d.revoked_at.is_some()),
                    ),
                    (
                        "revoked_at".to_owned(),
                        seconds(d.revoked_at.unwrap_or(d.from)),
                    ),
                ])
                .map_err(err)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let grants = world
            .emergency_grants
            .iter()
            .map(|g| {
                RestrictedExpression::new_record([
                    (
                        "practitioner".to_owned(),
                        RestrictedExpression::new_entity_uid(uid(
                            "Practitioner",
                            &g.uzi.to_string(),
                        )?),
                    ),
                    (
                        "patient".to_owned(),
                        RestrictedExpression::new_entity_uid(uid("Patient", g.patient.as_str())?),
                    ),
                    ("granted_at".to_owned(), seconds(g.granted_at)),
                    ("expires_at".to_owned(), seconds(g.expires_at)),
                ])
                .map_err(err)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CedarWorld {
            entities: Entities::from_entities(entities, None).map_err(err)?,
            accounts,
            patients,
            now: world.now.timestamp(),
            delegations,
            grants,
        })
    }

    /// Cedar's decision for `request` on `world`.
    ///
    /// # Errors
    ///
    /// [`OracleError`] if a request cannot be built, or Cedar reports an evaluation error
    /// (both bugs in this encoding).
    pub fn decide(&self, world: &CedarWorld, request: &Request) -> Result<Outcome, OracleError> {
        // One question without a delegation or grant, then one per delegation and per grant.
        let mut questions: Vec<Candidate> = vec![Candidate::None];
        if request.action.patient().is_some() {
            questions.extend((0..world.delegations.len()).map(Candidate::Delegation));
            questions.extend((0..world.grants.len()).map(Candidate::Grant));
        }
        let mut forbids: HashSet<String> = HashSet::new();
        let mut permits: HashSet<String> = HashSet::new();
        for candidate in questions {
            let cedar_request = self.request(world, request, candidate)?;
            let (allowed, reasons) = self.authorize(world, &cedar_request)?;
            if allowed {
                permits.extend(reasons);
            } else {
                forbids.extend(reasons);
            }
        }
        if let Some(reason) = DENY_ORDER.iter().find(|r| forbids.contains(**r)) {
            return Ok(Outcome::Deny(reason));
        }
        if let Some(basis) = PERMIT_ORDER.iter().find(|b| permits.contains(**b)) {
            // Lists are permitted on the account itself, which zvp calls `own`.
            return Ok(Outcome::Permit(if *basis == "list" {
                "own"
            } else {
                basis
            }));
        }
        if request.action.patient().is_some() {
            return Ok(Outcome::RequiresEmergency);
        }
        Err(OracleError(format!("no policy applies to {request:?}")))
    }

    /// The Cedar request for `request`, offering `candidate` in the context.
    ///
    /// # Errors
    ///
    /// [`OracleError`] if the request cannot be built (a bug in this file).
    pub fn request(
        &self,
        world: &CedarWorld,
        request: &Request,
        candidate: Candidate,
    ) -> Result<CedarRequest, OracleError> {
        let uzi = request.uzi.to_string();
        let principal = uid(
            "Practitioner",
            if world.accounts.contains(&uzi) {
                &uzi
            } else {
                "no-account"
            },
        )?;
        let (name, _) = action_name(&request.action);
        let action = uid("Action", name)?;
        let resource = match request.action.patient() {
            Some(p) if world.patients.contains(p.as_str()) => uid("Patient", p.as_str())?,
            Some(_) => uid("Patient", "unknown")?,
            None => uid("Portal", "portal")?,
        };
        let (delegation, grant) = match candidate {
            Candidate::None => (None, None),
            Candidate::Delegation(i) => (world.delegations.get(i).cloned(), None),
            Candidate::Grant(i) => (None, world.grants.get(i).cloned()),
        };
        let empty = || RestrictedExpression::new_record([]).map_err(err);
        let context = Context::from_pairs([
            ("now".to_owned(), RestrictedExpression::new_long(world.now)),
            (
                "card_agb".to_owned(),
                string(request.card_agb.map(|a| a.to_string()).unwrap_or_default()),
            ),
            (
                "card_role".to_owned(),
                string(request.card_role.to_string()),
            ),
            (
                "has_delegation".to_owned(),
                RestrictedExpression::new_bool(delegation.is_some()),
            ),
            (
                "delegation".to_owned(),
                match delegation.or_else(|| world.delegations.first().cloned()) {
                    Some(d) => d,
                    None => empty()?,
                },
            ),
            (
                "has_grant".to_owned(),
                RestrictedExpression::new_bool(grant.is_some()),
            ),
            (
                "grant".to_owned(),
                match grant.or_else(|| world.grants.first().cloned()) {
                    Some(g) => g,
                    None => empty()?,
                },
            ),
        ])
        .map_err(err)?;
        CedarRequest::new(principal, action, resource, context, None).map_err(err)
    }

    /// Cedar's answer to one request: allowed or not, and the policies that decided it.
    ///
    /// # Errors
    ///
    /// [`OracleError`] when Cedar reports an evaluation error (a bug in this encoding).
    pub fn authorize(
        &self,
        world: &CedarWorld,
        request: &CedarRequest,
    ) -> Result<(bool, Vec<String>), OracleError> {
        let response = self
            .authorizer
            .is_authorized(request, &self.policies, &world.entities);
        if let Some(error) = response.diagnostics().errors().next() {
            return Err(OracleError(format!("cedar evaluation error: {error}")));
        }
        let reasons = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        Ok((response.decision() == CedarDecision::Allow, reasons))
    }
}
