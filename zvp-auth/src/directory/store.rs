//! The storage of accounts, delegations and emergency grants.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use zvp_core::{AgbCode, PatientId, UziNumber};

use crate::dezi::DeziNumber;

use super::{
    Account, AccountStatus, Delegation, DelegationId, EmergencyGrant, GrantId, ReviewVerdict,
};
use crate::policy::{NewGrant, World};

/// Why a directory operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An account for this UZI number exists already.
    #[error("an account for uzi number {0} exists already")]
    AccountExists(UziNumber),
    /// No account for this UZI number.
    #[error("no account for uzi number {0}")]
    NoSuchAccount(UziNumber),
    /// The account has a Dezi number linked already, or the Dezi number is linked to another
    /// account: a link is made once (docs/dezi.md, "Linking").
    #[error("uzi number {uzi} or dezi number {dezi} is linked already")]
    DeziLinked {
        /// The account.
        uzi: UziNumber,
        /// The Dezi number.
        dezi: DeziNumber,
    },
    /// No delegation with this id.
    #[error("no delegation {0:?}")]
    NoSuchDelegation(DelegationId),
    /// No emergency grant with this id.
    #[error("no emergency grant {0:?}")]
    NoSuchGrant(GrantId),
    /// A stored value does not parse: the store was changed outside zvp, or is damaged.
    /// Nothing is guessed; the value is refused.
    #[error("stored {table} {key}: {detail}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's key.
        key: String,
        /// What does not parse.
        detail: String,
    },
    /// The store could not be opened, read or written.
    #[error("directory store: {0}")]
    Backend(String),
}

/// Why a delegation could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DelegationError {
    /// Its end is not after its start.
    #[error("a delegation must end after it starts")]
    EndsBeforeStart,
    /// A date outside the years 1–9999, which no store can keep as a date.
    #[error("a delegation's dates must lie in the years 1 to 9999")]
    OutOfRange,
}

/// A delegation to be stored; the store assigns its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelegation {
    grantor: AgbCode,
    grantee: UziNumber,
    from: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    created_by: Option<UziNumber>,
}

impl NewDelegation {
    /// A delegation from `grantor` to `grantee` for `from <= t < until` (`None`: open ended).
    ///
    /// # Errors
    ///
    /// [`DelegationError::EndsBeforeStart`] when `until` is not after `from`.
    pub fn new(
        grantor: AgbCode,
        grantee: UziNumber,
        from: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        created_by: Option<UziNumber>,
    ) -> Result<Self, DelegationError> {
        if until.is_some_and(|until| until <= from) {
            return Err(DelegationError::EndsBeforeStart);
        }
        let in_range = |t: DateTime<Utc>| (1..=9999).contains(&chrono::Datelike::year(&t));
        if !in_range(from) || until.is_some_and(|u| !in_range(u)) {
            return Err(DelegationError::OutOfRange);
        }
        Ok(Self {
            grantor,
            grantee,
            from,
            until,
            created_by,
        })
    }

    /// The delegation with its id.
    pub(crate) fn with_id(self, id: DelegationId) -> Delegation {
        Delegation {
            id,
            grantor: self.grantor,
            grantee: self.grantee,
            from: self.from,
            until: self.until,
            created_by: self.created_by,
            revoked_at: None,
        }
    }
}

/// Where accounts, delegations and emergency grants are kept.
///
/// Implementations: [`MemoryDirectory`](super::MemoryDirectory) (tests, demos) and, with the
/// `sqlite` feature, `SqliteDirectory` (embedded and durable).
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// The account of a UZI number.
    async fn account(&self, uzi: UziNumber) -> Result<Option<Account>, StoreError>;

    /// Every account, ordered by UZI number.
    async fn accounts(&self) -> Result<Vec<Account>, StoreError>;

    /// Stores a new account (an account request, or one an administrator makes).
    async fn create_account(&self, account: &Account) -> Result<(), StoreError>;

    /// Replaces an existing account (approval, blocking, a changed practice).
    async fn update_account(&self, account: &Account) -> Result<(), StoreError>;

    /// Sets an account's status.
    async fn set_status(&self, uzi: UziNumber, status: AccountStatus) -> Result<(), StoreError>;

    /// Records a successful login at `at`: the last login becomes the previous one, as
    /// [`Account::logged_in`] does.
    async fn record_login(&self, uzi: UziNumber, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// The account a Dezi number is linked to, if any.
    async fn dezi_account(&self, dezi: &DeziNumber) -> Result<Option<UziNumber>, StoreError>;

    /// The Dezi number linked to an account, if any.
    async fn dezi_of(&self, uzi: UziNumber) -> Result<Option<DeziNumber>, StoreError>;

    /// Links `dezi` to the account `uzi` at `at`: once, for an account without a link and a
    /// Dezi number not linked elsewhere; [`StoreError::DeziLinked`] otherwise, and
    /// [`StoreError::NoSuchAccount`] for an account that does not exist.
    async fn link_dezi(
        &self,
        uzi: UziNumber,
        dezi: &DeziNumber,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Stores a delegation and returns it with its id.
    async fn add_delegation(&self, delegation: NewDelegation) -> Result<Delegation, StoreError>;

    /// Revokes a delegation from `at` on. Revoking again keeps the earliest time.
    async fn revoke_delegation(
        &self,
        id: DelegationId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Every delegation to a practitioner, in force or not, ordered by id.
    async fn delegations_to(&self, grantee: UziNumber) -> Result<Vec<Delegation>, StoreError>;

    /// Every delegation from a GP, in force or not, ordered by id.
    async fn delegations_from(&self, grantor: AgbCode) -> Result<Vec<Delegation>, StoreError>;

    /// Stores an emergency grant the policy approved and returns it with its id.
    async fn add_grant(&self, grant: NewGrant) -> Result<EmergencyGrant, StoreError>;

    /// A practitioner's grants for a patient, expired or not, ordered by id.
    async fn grants(
        &self,
        practitioner: UziNumber,
        patient: &PatientId,
    ) -> Result<Vec<EmergencyGrant>, StoreError>;

    /// Grants made at or after `since`, oldest first (for the notices to the patients' GPs).
    async fn grants_since(&self, since: DateTime<Utc>) -> Result<Vec<EmergencyGrant>, StoreError>;

    /// Grants without a review verdict, oldest first: the review queue.
    async fn unreviewed_grants(&self) -> Result<Vec<EmergencyGrant>, StoreError>;

    /// Records a review verdict.
    async fn review_grant(&self, id: GrantId, verdict: ReviewVerdict) -> Result<(), StoreError>;
}

/// The facts for one practitioner's request: their account, their delegations, and — for a
/// patient request — the patient's registered GP (as the EPD says now) and their grants for
/// that patient.
///
/// # Errors
///
/// [`StoreError`] from the store.
pub async fn world_for(
    store: &dyn DirectoryStore,
    uzi: UziNumber,
    patient: Option<(&PatientId, Option<AgbCode>)>,
) -> Result<World, StoreError> {
    let account = store.account(uzi).await?;
    world_with(store, uzi, account, patient).await
}

/// [`world_for`] with the account already read (the portal reads it once per request, at
/// login, and decides on that same account).
///
/// # Errors
///
/// [`StoreError`] from the store.
pub async fn world_with(
    store: &dyn DirectoryStore,
    uzi: UziNumber,
    account: Option<Account>,
    patient: Option<(&PatientId, Option<AgbCode>)>,
) -> Result<World, StoreError> {
    let delegations = store.delegations_to(uzi).await?;
    world_with_delegations(store, uzi, account, delegations, patient).await
}

/// [`world_with`] with the delegations to `uzi` already read too (the portal reads them once
/// per request, for the policy and the count of notifications in the header).
///
/// # Errors
///
/// [`StoreError`] from the store.
pub async fn world_with_delegations(
    store: &dyn DirectoryStore,
    uzi: UziNumber,
    account: Option<Account>,
    delegations: Vec<Delegation>,
    patient: Option<(&PatientId, Option<AgbCode>)>,
) -> Result<World, StoreError> {
    let mut world = World::new();
    if let Some(account) = account {
        world.add_account(account);
    }
    for delegation in delegations {
        world.add_delegation(delegation);
    }
    if let Some((patient, registered_gp)) = patient {
        world.add_patient(patient.clone(), registered_gp);
        for grant in store.grants(uzi, patient).await? {
            world.add_grant(grant);
        }
    }
    Ok(world)
}
