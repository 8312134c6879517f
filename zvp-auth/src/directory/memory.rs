//! The directory in memory: for tests and demos; nothing survives the process.

use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use zvp_core::{AgbCode, PatientId, UziNumber};

use super::store::{DirectoryStore, NewDelegation, StoreError};
use super::{
    Account, AccountStatus, Delegation, DelegationId, EmergencyGrant, GrantId, ReviewVerdict,
};
use crate::dezi::DeziNumber;
use crate::policy::NewGrant;

/// A [`DirectoryStore`] in memory.
#[derive(Debug, Default)]
pub struct MemoryDirectory {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    accounts: Vec<Account>,
    delegations: Vec<Delegation>,
    grants: Vec<EmergencyGrant>,
    dezi_links: Vec<(UziNumber, DeziNumber)>,
}

impl MemoryDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state.lock().map_err(|_| {
            StoreError::Backend("a thread panicked while holding the directory".to_owned())
        })
    }
}

impl State {
    fn account_mut(&mut self, uzi: UziNumber) -> Result<&mut Account, StoreError> {
        self.accounts
            .iter_mut()
            .find(|a| a.uzi == uzi)
            .ok_or(StoreError::NoSuchAccount(uzi))
    }
}

#[async_trait]
impl DirectoryStore for MemoryDirectory {
    async fn account(&self, uzi: UziNumber) -> Result<Option<Account>, StoreError> {
        Ok(self
            .state()?
            .accounts
            .iter()
            .find(|a| a.uzi == uzi)
            .cloned())
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let mut accounts = self.state()?.accounts.clone();
        accounts.sort_by_key(|a| a.uzi);
        Ok(accounts)
    }

    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if state.accounts.iter().any(|a| a.uzi == account.uzi) {
            return Err(StoreError::AccountExists(account.uzi));
        }
        state.accounts.push(account.clone());
        Ok(())
    }

    async fn update_account(&self, account: &Account) -> Result<(), StoreError> {
        *self.state()?.account_mut(account.uzi)? = account.clone();
        Ok(())
    }

    async fn set_status(&self, uzi: UziNumber, status: AccountStatus) -> Result<(), StoreError> {
        self.state()?.account_mut(uzi)?.status = status;
        Ok(())
    }

    async fn record_login(&self, uzi: UziNumber, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.state()?.account_mut(uzi)?.logged_in(at);
        Ok(())
    }

    async fn dezi_account(&self, dezi: &DeziNumber) -> Result<Option<UziNumber>, StoreError> {
        Ok(self
            .state()?
            .dezi_links
            .iter()
            .find(|(_, d)| d == dezi)
            .map(|(u, _)| *u))
    }

    async fn dezi_of(&self, uzi: UziNumber) -> Result<Option<DeziNumber>, StoreError> {
        Ok(self
            .state()?
            .dezi_links
            .iter()
            .find(|(u, _)| *u == uzi)
            .map(|(_, d)| d.clone()))
    }

    async fn link_dezi(
        &self,
        uzi: UziNumber,
        dezi: &DeziNumber,
        _at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        state.account_mut(uzi)?;
        if state.dezi_links.iter().any(|(u, d)| *u == uzi || d == dezi) {
            return Err(StoreError::DeziLinked {
                uzi,
                dezi: dezi.clone(),
            });
        }
        state.dezi_links.push((uzi, dezi.clone()));
        Ok(())
    }

    async fn add_delegation(&self, delegation: NewDelegation) -> Result<Delegation, StoreError> {
        let mut state = self.state()?;
        let id = DelegationId(state.delegations.len() as u64 + 1);
        let delegation = delegation.with_id(id);
        state.delegations.push(delegation.clone());
        Ok(delegation)
    }

    async fn revoke_delegation(
        &self,
        id: DelegationId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let delegation = state
            .delegations
            .iter_mut()
            .find(|d| d.id == id)
            .ok_or(StoreError::NoSuchDelegation(id))?;
        // The earliest revocation holds: revoking "now" after "next week" takes effect now.
        delegation.revoked_at = Some(delegation.revoked_at.map_or(at, |earlier| earlier.min(at)));
        Ok(())
    }

    async fn delegations_to(&self, grantee: UziNumber) -> Result<Vec<Delegation>, StoreError> {
        Ok(self
            .state()?
            .delegations
            .iter()
            .filter(|d| d.grantee == grantee)
            .cloned()
            .collect())
    }

    async fn delegations_from(&self, grantor: AgbCode) -> Result<Vec<Delegation>, StoreError> {
        Ok(self
            .state()?
            .delegations
            .iter()
            .filter(|d| d.grantor == grantor)
            .cloned()
            .collect())
    }

    async fn add_grant(&self, grant: NewGrant) -> Result<EmergencyGrant, StoreError> {
        let mut state = self.state()?;
        let grant = EmergencyGrant {
            id: GrantId(state.grants.len() as u64 + 1),
            practitioner: grant.practitioner,
            patient: grant.patient,
            reason_category: grant.reason_category,
            reason: grant.reason,
            granted_at: grant.granted_at,
            expires_at: grant.expires_at,
            verdict: None,
        };
        state.grants.push(grant.clone());
        Ok(grant)
    }

    async fn grants(
        &self,
        practitioner: UziNumber,
        patient: &PatientId,
    ) -> Result<Vec<EmergencyGrant>, StoreError> {
        Ok(self
            .state()?
            .grants
            .iter()
            .filter(|g| g.practitioner == practitioner && &g.patient == patient)
            .cloned()
            .collect())
    }

    async fn grants_since(&self, since: DateTime<Utc>) -> Result<Vec<EmergencyGrant>, StoreError> {
        Ok(self
            .state()?
            .grants
            .iter()
            .filter(|g| g.granted_at >= since)
            .cloned()
            .collect())
    }

    async fn unreviewed_grants(&self) -> Result<Vec<EmergencyGrant>, StoreError> {
        Ok(self
            .state()?
            .grants
            .iter()
            .filter(|g| g.verdict.is_none())
            .cloned()
            .collect())
    }

    async fn review_grant(&self, id: GrantId, verdict: ReviewVerdict) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let grant = state
            .grants
            .iter_mut()
            .find(|g| g.id == id)
            .ok_or(StoreError::NoSuchGrant(id))?;
        grant.verdict = Some(verdict);
        Ok(())
    }
}
