//! The header's count of unread notifications adds no directory read to a page: the
//! delegations to the caller are read once per request, for the count and for the policy's
//! decisions alike, and again at the next request (nothing is kept between them).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use common::{TestPortal, Who, now, validator};
use zvp_auth::directory::{
    Account, AccountStatus, Delegation, DelegationId, DirectoryStore, EmergencyGrant, GrantId,
    MemoryDirectory, NewDelegation, ReviewVerdict, StoreError,
};
use zvp_auth::policy::NewGrant;
use zvp_core::{AgbCode, PatientId, UziNumber};
use zvp_notify::{MemoryNotifyStore, NotifyStore};
use zvp_portal::Portal;

/// The test directory, counting how often the delegations to someone are read.
struct Counting {
    inner: Arc<MemoryDirectory>,
    delegations_to: AtomicUsize,
}

#[async_trait]
impl DirectoryStore for Counting {
    async fn account(&self, uzi: UziNumber) -> Result<Option<Account>, StoreError> {
        self.inner.account(uzi).await
    }
    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.inner.accounts().await
    }
    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        self.inner.create_account(account).await
    }
    async fn update_account(&self, account: &Account) -> Result<(), StoreError> {
        self.inner.update_account(account).await
    }
    async fn set_status(&self, uzi: UziNumber, status: AccountStatus) -> Result<(), StoreError> {
        self.inner.set_status(uzi, status).await
    }
    async fn record_login(&self, uzi: UziNumber, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.inner.record_login(uzi, at).await
    }
    async fn dezi_account(
        &self,
        dezi: &zvp_auth::dezi::DeziNumber,
    ) -> Result<Option<UziNumber>, StoreError> {
        self.inner.dezi_account(dezi).await
    }
    async fn dezi_of(
        &self,
        uzi: UziNumber,
    ) -> Result<Option<zvp_auth::dezi::DeziNumber>, StoreError> {
        self.inner.dezi_of(uzi).await
    }
    async fn link_dezi(
        &self,
        uzi: UziNumber,
        dezi: &zvp_auth::dezi::DeziNumber,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.link_dezi(uzi, dezi, at).await
    }
    async fn add_delegation(&self, delegation: NewDelegation) -> Result<Delegation, StoreError> {
        self.inner.add_delegation(delegation).await
    }
    async fn revoke_delegation(
        &self,
        id: DelegationId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.revoke_delegation(id, at).await
    }
    async fn delegations_to(&self, grantee: UziNumber) -> Result<Vec<Delegation>, StoreError> {
        self.delegations_to.fetch_add(1, Ordering::SeqCst);
        self.inner.delegations_to(grantee).await
    }
    async fn delegations_from(&self, grantor: AgbCode) -> Result<Vec<Delegation>, StoreError> {
        self.inner.delegations_from(grantor).await
    }
    async fn add_grant(&self, grant: NewGrant) -> Result<EmergencyGrant, StoreError> {
        self.inner.add_grant(grant).await
    }
    async fn grants(
        &self,
        practitioner: UziNumber,
        patient: &PatientId,
    ) -> Result<Vec<EmergencyGrant>, StoreError> {
        self.inner.grants(practitioner, patient).await
    }
    async fn grants_since(&self, since: DateTime<Utc>) -> Result<Vec<EmergencyGrant>, StoreError> {
        self.inner.grants_since(since).await
    }
    async fn unreviewed_grants(&self) -> Result<Vec<EmergencyGrant>, StoreError> {
        self.inner.unreviewed_grants().await
    }
    async fn review_grant(&self, id: GrantId, verdict: ReviewVerdict) -> Result<(), StoreError> {
        self.inner.review_grant(id, verdict).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_page_reads_the_delegations_once_for_its_count_and_its_decisions() {
    let base = TestPortal::new().await;
    let counting = Arc::new(Counting {
        inner: base.directory.clone(),
        delegations_to: AtomicUsize::new(0),
    });
    let fixed = now();
    let portal = Portal::builder()
        .epd(base.epd.clone())
        .directory(counting.clone())
        .audit(base.audit.clone())
        .validator(Arc::new(validator()))
        .clock(Arc::new(move || fixed))
        .notifications(Arc::new(MemoryNotifyStore::new()) as Arc<dyn NotifyStore>)
        .build()
        .unwrap();
    let t = TestPortal { portal, ..base };
    let patient = t.epd.patient_ids().next().unwrap().clone();
    for (who, path) in [
        (Who::Own, "/".to_owned()),
        (Who::Delegated, "/".to_owned()),
        (Who::Own, "/meldingen".to_owned()),
        (Who::Delegated, "/meldingen".to_owned()),
        (Who::Own, "/machtigingen".to_owned()),
        (Who::Own, "/account".to_owned()),
        (Who::Own, format!("/patient/{patient}")),
    ] {
        let before = counting.delegations_to.load(Ordering::SeqCst);
        let page = t.get(Some(who), &path).await;
        assert!(
            page.body.contains("aria-label=\"ongelezen\">0<"),
            "{path}: {}",
            page.body
        );
        assert_eq!(
            counting.delegations_to.load(Ordering::SeqCst) - before,
            1,
            "{path} as {who:?}"
        );
    }
}
