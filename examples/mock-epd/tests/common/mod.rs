//! A mock EPD on a loopback port for the tests, and the adapter pointed at it.

#![allow(dead_code, reason = "each test file uses a part")]

use std::sync::Arc;
use std::time::Duration;

use zvp_epd::RequestContext;
use zvp_epd::client::{FhirEpd, FhirEpdConfig};
use zvp_epd::synthetic::{SyntheticEpd, test_now};
use zvp_mock_epd::{Faults, MockEpd};

/// A running mock server; stops when dropped.
pub(crate) struct Server {
    pub(crate) state: Arc<MockEpd>,
    pub(crate) epd: Arc<SyntheticEpd>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Server {
    pub(crate) async fn start(patients: usize, faults: Faults) -> Self {
        let epd = Arc::new(SyntheticEpd::generate(2026, test_now(), patients).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/fhir", listener.local_addr().unwrap());
        let state = Arc::new(MockEpd::new(epd.clone(), base, faults));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(zvp_mock_epd::serve(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        Self {
            state,
            epd,
            stop: Some(stop),
        }
    }

    pub(crate) fn config(&self) -> FhirEpdConfig {
        FhirEpdConfig::new(self.state.base_url())
    }

    pub(crate) fn adapter(&self) -> FhirEpd {
        let mut config = self.config();
        // Small pages, so that every search pages.
        config.page_size = 3;
        config.max_pages = 1000;
        config.timeout = Duration::from_secs(30);
        FhirEpd::new(config).unwrap()
    }
}

pub(crate) fn ctx() -> RequestContext {
    RequestContext {
        request_id: "test-0001".to_owned(),
    }
}
