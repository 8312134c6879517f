//! Dezi login in the running portal: the client, connected when the platform first answers
//! (a portal does not fail to start, nor lose its UZI-pas logins, because Dezi is down), and
//! the rounds that fetch the signed revocation list for the sessions.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use zvp_auth::dezi::{DeziError, DeziSettings, LoginRequest, VerifiedDeziIdentity};
use zvp_core::RoleCode;
use zvp_web::{DeziLogin, DeziPlatform, Portal};

use super::DeziClient;
use crate::config::{DeziConfig, DeziConfigError};

/// The portal's Dezi login: `[dezi]`, and the client once connected.
#[derive(Debug)]
pub struct DeziService {
    config: DeziConfig,
    settings: DeziSettings,
    client: RwLock<Option<Arc<DeziClient>>>,
}

impl DeziService {
    /// The service of `[dezi]`, not yet connected.
    ///
    /// # Errors
    ///
    /// [`DeziConfigError`] for settings that cannot work, or a key that cannot be read: these
    /// stop the start, unlike a platform that does not answer yet.
    pub fn new(config: &DeziConfig) -> Result<Self, DeziConfigError> {
        config.connection()?;
        Ok(Self {
            settings: config.settings()?,
            config: config.clone(),
            client: RwLock::new(None),
        })
    }

    /// What the portal's builder takes: this service as the platform, and the grace of a
    /// revocation list past its refresh time, two check intervals (one failed fetch is
    /// bridged, a second is not).
    pub fn login(self: &Arc<Self>) -> DeziLogin {
        let every = self.config.status_check();
        DeziLogin {
            platform: Arc::clone(self) as Arc<dyn DeziPlatform>,
            revocation_grace: chrono::Duration::from_std(every.saturating_mul(2))
                .unwrap_or(chrono::Duration::MAX),
        }
    }

    fn client(&self) -> Option<Arc<DeziClient>> {
        self.client
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The client, connecting first if it is not yet.
    async fn connected(&self) -> Result<Arc<DeziClient>, DeziError> {
        if let Some(client) = self.client() {
            return Ok(client);
        }
        let connection = self
            .config
            .connection()
            .map_err(|e| DeziError::PlatformUnreachable {
                detail: e.to_string(),
            })?;
        let client = Arc::new(DeziClient::connect(self.settings.clone(), connection).await?);
        *self.client.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&client));
        Ok(client)
    }

    /// One round: connect if need be, fetch the signed revocation list and hand it to the
    /// portal. A failure is logged; the portal keeps the list it has, and refuses Dezi
    /// sessions once that is past its refresh time and the grace.
    pub async fn refresh_round(&self, portal: &Portal) {
        let list = match self.connected().await {
            Ok(client) => client.revocation_list().await,
            Err(e) => Err(e),
        };
        match list {
            Ok(list) => {
                tracing::info!(
                    event = "dezi-revocations-fetched",
                    revoked = list.len(),
                    refresh_at = %list.refresh_at().to_rfc3339()
                );
                portal.dezi_revocations(list);
            }
            Err(e) => tracing::error!(event = "dezi-revocations-failed", error = %e),
        }
    }
}

#[async_trait::async_trait]
impl DeziPlatform for DeziService {
    fn start(&self) -> Result<(LoginRequest, String), DeziError> {
        self.client()
            .ok_or_else(|| DeziError::PlatformUnreachable {
                detail: "the platform has not answered since the portal started".to_owned(),
            })?
            .start()
    }

    async fn complete(
        &self,
        pending: &LoginRequest,
        state: &str,
        code: &str,
        eligible: &[RoleCode],
        now: DateTime<Utc>,
    ) -> Result<VerifiedDeziIdentity, DeziError> {
        self.connected()
            .await?
            .complete(pending, state, code, eligible, now)
            .await
    }
}

/// Runs [`DeziService::refresh_round`] now and every `status_check_minutes`, until
/// `shutdown` turns true.
pub fn spawn_refresh(
    portal: Portal,
    service: Arc<DeziService>,
    shutdown: crate::serve::Shutdown,
) -> tokio::task::JoinHandle<()> {
    let every = service.config.status_check().max(Duration::from_secs(60));
    tokio::spawn(async move {
        crate::serve::rounds(every, shutdown, || service.refresh_round(&portal)).await;
    })
}
