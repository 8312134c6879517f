//! Fetching and decoding a patient's clinical chemistry results page through the FHIR adapter
//! (`FhirEpd::results` against zvp-mock-epd on loopback), side by side with the floor: the
//! same HTTP GET of the same bytes with the same client library (hyper), decoded by a plain
//! `serde_json::from_slice::<Value>`. A third line times the two decodes alone, without HTTP.
//!
//! Run: `cargo bench -p zvp-benches --bench epd_fetch`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark code"
)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use zvp_core::{PatientId, ResultCategory};
use zvp_epd::client::{FhirEpd, FhirEpdConfig};
use zvp_epd::fhir::{self, Bundle};
use zvp_epd::synthetic::{SyntheticEpd, test_now};
use zvp_epd::{Epd, RequestContext};
use zvp_mock_epd::{Faults, MockEpd};

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let epd = Arc::new(SyntheticEpd::generate(2026, test_now(), 5_000).unwrap());
    let ctx = RequestContext {
        request_id: "bench".to_owned(),
    };
    // The patient with the most lab panels among the demo GPs' patients.
    let id: PatientId = runtime.block_on(async {
        let mut best = (0, None);
        for id in epd.patient_ids().take(160) {
            let n = epd
                .results(id, ResultCategory::ClinicalChemistry, &ctx)
                .await
                .unwrap()
                .len();
            if n > best.0 {
                best = (n, Some(id.clone()));
            }
        }
        best.1.unwrap()
    });
    let base = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/fhir", listener.local_addr().unwrap());
        let state = Arc::new(MockEpd::new(epd.clone(), base.clone(), Faults::default()));
        tokio::spawn(zvp_mock_epd::serve(listener, state, std::future::pending()));
        base
    });
    let adapter = FhirEpd::new(FhirEpdConfig::new(&base)).unwrap();
    let url = format!(
        "{base}/DiagnosticReport?patient={id}&category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fv2-0074%7CLAB&_include=DiagnosticReport%3Aresult&_count=100"
    );
    let plain: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let get = |url: String| {
        let plain = plain.clone();
        async move {
            let response = plain.get(url.parse().unwrap()).await.unwrap();
            response.into_body().collect().await.unwrap().to_bytes()
        }
    };

    // Both see the same data: the adapter's reports, and the bytes the plain client gets.
    let reports = runtime
        .block_on(adapter.results(&id, ResultCategory::ClinicalChemistry, &ctx))
        .unwrap();
    let body = runtime.block_on(get(url.clone()));
    let values: usize = reports
        .iter()
        .map(|r| match &r.content {
            zvp_core::ReportContent::Observations(o) => o.len(),
            _ => 0,
        })
        .sum();
    println!(
        "patient {id}: {} reports, {values} lab values, {} bytes of FHIR JSON",
        reports.len(),
        body.len()
    );

    let mut group = c.benchmark_group("epd_fetch");
    group.bench_function("zvp FhirEpd::results (fetch + decode)", |b| {
        b.iter(|| {
            runtime
                .block_on(adapter.results(&id, ResultCategory::ClinicalChemistry, &ctx))
                .unwrap()
        });
    });
    group.bench_function("plain GET + serde_json Value (fetch + decode)", |b| {
        b.iter(|| {
            let bytes = runtime.block_on(get(url.clone()));
            black_box(serde_json::from_slice::<Value>(&bytes).unwrap())
        });
    });
    group.bench_function("decode only: zvp bundle to reports", |b| {
        b.iter(|| black_box(decode(&body, &id)));
    });
    group.bench_function("decode only: serde_json Value", |b| {
        b.iter(|| black_box(serde_json::from_slice::<Value>(&body).unwrap()));
    });
    group.finish();
}

/// What the adapter does with one page of a DiagnosticReport search, through the public
/// mapping functions: the bundle, then each report with its included observations.
fn decode(body: &[u8], id: &PatientId) -> Vec<zvp_core::ResultReport> {
    let bundle = Bundle::parse(std::str::from_utf8(body).unwrap()).unwrap();
    let mut observations = HashMap::new();
    let mut reports = Vec::new();
    for entry in &bundle.entry {
        let (kind, rid) = entry.head().unwrap().unwrap();
        let text = entry.resource.as_deref().unwrap().get();
        match kind.as_str() {
            "Observation" => {
                observations.insert(rid.unwrap(), text);
            }
            _ => reports.push(serde_json::from_str::<Value>(text).unwrap()),
        }
    }
    reports
        .iter()
        .map(|r| {
            let (of, report) =
                fhir::report_from_fhir(r, |oid| observations.get(oid).copied()).unwrap();
            assert_eq!(&of, id);
            report
        })
        .collect()
}

criterion_group!(benches, bench);
criterion_main!(benches);
