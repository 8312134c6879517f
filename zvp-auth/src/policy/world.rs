//! The facts a decision is made on, indexed for constant-time lookups.

use std::collections::{HashMap, HashSet};

use zvp_core::{AgbCode, PatientId, UziNumber};

use crate::directory::{Account, Delegation, EmergencyGrant};

/// Accounts, patients (with their registered GP and any objection to sharing), delegations
/// and emergency grants.
///
/// The portal fills one per request with what the directory and the EPD say now; tests,
/// scenario files and benchmarks fill large ones. Lookups are hash-map reads, so a decision
/// costs the same in a world of ten accounts as in one of ten thousand.
#[derive(Debug, Clone, Default)]
pub struct World {
    accounts: HashMap<UziNumber, Account>,
    patients: HashMap<PatientId, Option<AgbCode>>,
    objections: HashSet<PatientId>,
    delegations: HashMap<(AgbCode, UziNumber), Vec<Delegation>>,
    delegations_to: HashMap<UziNumber, Vec<Delegation>>,
    grants: HashMap<UziNumber, HashMap<PatientId, Vec<EmergencyGrant>>>,
}

impl World {
    /// An empty world.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) an account.
    pub fn add_account(&mut self, account: Account) {
        self.accounts.insert(account.uzi, account);
    }

    /// Adds (or replaces) a patient with their registered GP, as the EPD says now.
    pub fn add_patient(&mut self, patient: PatientId, registered_gp: Option<AgbCode>) {
        self.patients.insert(patient, registered_gp);
    }

    /// Records that a patient objects to their record being shared (as the EPD says now).
    pub fn add_objection(&mut self, patient: PatientId) {
        self.objections.insert(patient);
    }

    /// Whether the patient objects to their record being shared.
    pub fn objects(&self, patient: &PatientId) -> bool {
        self.objections.contains(patient)
    }

    /// Adds a delegation.
    pub fn add_delegation(&mut self, delegation: Delegation) {
        self.delegations_to
            .entry(delegation.grantee)
            .or_default()
            .push(delegation.clone());
        self.delegations
            .entry((delegation.grantor, delegation.grantee))
            .or_default()
            .push(delegation);
    }

    /// Adds an emergency grant.
    pub fn add_grant(&mut self, grant: EmergencyGrant) {
        self.grants
            .entry(grant.practitioner)
            .or_default()
            .entry(grant.patient.clone())
            .or_default()
            .push(grant);
    }

    /// The account of a UZI number.
    pub fn account(&self, uzi: UziNumber) -> Option<&Account> {
        self.accounts.get(&uzi)
    }

    /// `None` for an unknown patient; `Some(None)` for a patient without registered GP.
    pub fn registered_gp(&self, patient: &PatientId) -> Option<Option<AgbCode>> {
        self.patients.get(patient).copied()
    }

    /// The delegations from `grantor` to `grantee`, in force or not.
    pub fn delegations(&self, grantor: AgbCode, grantee: UziNumber) -> &[Delegation] {
        self.delegations
            .get(&(grantor, grantee))
            .map_or(&[], Vec::as_slice)
    }

    /// Every delegation to `grantee`, in force or not.
    pub fn delegations_to(&self, grantee: UziNumber) -> &[Delegation] {
        self.delegations_to.get(&grantee).map_or(&[], Vec::as_slice)
    }

    /// The emergency grants of `practitioner` for `patient`, expired or not.
    pub fn grants(&self, practitioner: UziNumber, patient: &PatientId) -> &[EmergencyGrant] {
        self.grants
            .get(&practitioner)
            .and_then(|by_patient| by_patient.get(patient))
            .map_or(&[], Vec::as_slice)
    }

    /// Every account.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    /// Every patient with their registered GP.
    pub fn patients(&self) -> impl Iterator<Item = (&PatientId, Option<AgbCode>)> {
        self.patients.iter().map(|(id, gp)| (id, *gp))
    }
}
