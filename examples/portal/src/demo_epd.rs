//! The demo's EPD (feature `demo`): the synthetic hospital served over FHIR by zvp-mock-epd
//! on a loopback port, read by the portal as any EPD.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use zvp_epd::synthetic::SyntheticEpd;

use crate::assemble::AssembleError;
use crate::config::{Config, EpdKind};

/// The demo's EPD, started: the synthetic hospital served over FHIR by zvp-mock-epd.
pub struct DemoEpd {
    /// The configuration, its `[epd]` now pointing at the started server (`kind = "fhir"`).
    pub config: Config,
    /// The FHIR base URL it serves.
    pub base_url: String,
    /// The hospital it serves (for printing demo patients).
    pub hospital: Arc<SyntheticEpd>,
}

/// Starts zvp-mock-epd on a free loopback port over the synthetic hospital of `config`'s
/// `[epd] seed` and `patients`, current for `now`, until `stopped` turns true; the returned
/// configuration reads it over FHIR, as any EPD.
///
/// # Errors
///
/// [`AssembleError::Config`] for a hospital that cannot be made, [`AssembleError::Store`]
/// when no loopback port can be bound.
pub async fn demo_epd(
    config: &Config,
    now: DateTime<Utc>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> Result<DemoEpd, AssembleError> {
    let hospital = Arc::new(
        SyntheticEpd::generate(config.epd.seed, now, config.epd.patients)
            .map_err(|e| AssembleError::Config(format!("epd: {e}")))?,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| {
            AssembleError::Store(format!("the demo EPD: cannot listen on loopback: {e}"))
        })?;
    let address = listener
        .local_addr()
        .map_err(|e| AssembleError::Store(format!("the demo EPD: {e}")))?;
    let base_url = format!("http://{address}/fhir");
    let mock = Arc::new(zvp_mock_epd::MockEpd::new(
        Arc::clone(&hospital),
        base_url.clone(),
        zvp_mock_epd::Faults::default(),
    ));
    tokio::spawn(zvp_mock_epd::serve(listener, mock, async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    }));
    let mut config = config.clone();
    config.epd.kind = EpdKind::Fhir;
    config.epd.base_url.clone_from(&base_url);
    Ok(DemoEpd {
        config,
        base_url,
        hospital,
    })
}
