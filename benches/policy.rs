//! Policy decisions on a large world — 10,000 practitioners, 200,000 patients, 20,000
//! delegations — by zvp's engine, side by side with Cedar deciding the same requests with the
//! same rules (`zvp_policy_oracle::cedar`).
//!
//! Cedar is given its best case: each request is built before timing, with the one relevant
//! delegation (from the patient's GP to the practitioner, if any) already in its context, so
//! only `Authorizer::is_authorized` is timed; zvp's `Policy::decide` finds the delegation
//! itself. Run: `cargo bench -p zvp-benches --bench policy`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark code"
)]

use std::hint::black_box;

use chrono::Duration;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use zvp_auth::directory::AccountStatus;
use zvp_auth::policy::file::{AccountEntry, DelegationEntry, PatientEntry};
use zvp_auth::policy::{Action, Decision, Policy, Request, WorldFile};
use zvp_core::{AgbCode, PatientId, RecordSection, ResultCategory, RoleCode, UziNumber};
use zvp_policy_oracle::cedar::{Candidate, CedarOracle, Outcome};
use zvp_policy_oracle::worlds::now;

const PRACTITIONERS: u32 = 10_000;
const PATIENTS: u32 = 200_000;
const DELEGATIONS: u32 = 20_000;
const REQUESTS: usize = 4_096;

/// A small deterministic generator (xorshift), so that every run decides the same requests.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % u64::from(n)) as u32
    }
}

fn uzi(i: u32) -> UziNumber {
    UziNumber::new(900_000_000 + i).unwrap()
}

fn agb(i: u32) -> AgbCode {
    AgbCode::new(1_000_000 + i).unwrap()
}

fn practice(i: u32) -> AgbCode {
    AgbCode::new(1_900_000 + i / 5).unwrap()
}

fn patient(i: u32) -> PatientId {
    format!("pat-{i}").parse().unwrap()
}

/// The world, and for each patient the index of their GP.
fn world(rng: &mut Rng) -> (WorldFile, Vec<u32>) {
    let accounts = (0..PRACTITIONERS)
        .map(|i| AccountEntry {
            uzi: uzi(i),
            agb: Some(agb(i)),
            practice_agb: Some(practice(i)),
            role: RoleCode::GENERAL_PRACTITIONER,
            status: if i % 50 == 0 {
                AccountStatus::Blocked
            } else {
                AccountStatus::Active
            },
            admin: false,
            name: String::new(),
        })
        .collect();
    let gps: Vec<u32> = (0..PATIENTS).map(|_| rng.below(PRACTITIONERS)).collect();
    let patients = (0..PATIENTS)
        .map(|i| PatientEntry {
            id: patient(i),
            registered_gp_agb: Some(agb(gps[i as usize])),
            objection: false,
        })
        .collect();
    let delegations = (0..DELEGATIONS)
        .map(|i| DelegationEntry {
            id: Some(u64::from(i)),
            grantor_agb: agb(rng.below(PRACTITIONERS)),
            grantee_uzi: uzi(rng.below(PRACTITIONERS)),
            from: now() - Duration::days(30),
            // One in four has ended.
            until: Some(now() + Duration::days(if i % 4 == 0 { -1 } else { 30 })),
            revoked_at: None,
        })
        .collect();
    let file = WorldFile {
        now: now(),
        accounts,
        delegations,
        emergency_grants: Vec::new(),
        patients,
    };
    (file, gps)
}

/// Requests: a third for own patients, a third for delegated ones, a third for strangers.
fn requests(rng: &mut Rng, file: &WorldFile, gps: &[u32]) -> Vec<Request> {
    let mut by_gp: Vec<Vec<u32>> = vec![Vec::new(); PRACTITIONERS as usize];
    for (p, gp) in gps.iter().enumerate() {
        by_gp[*gp as usize].push(p as u32);
    }
    (0..REQUESTS)
        .map(|i| {
            let (who, whom) = match i % 3 {
                0 => {
                    let who = rng.below(PRACTITIONERS);
                    let own = &by_gp[who as usize];
                    (who, own.first().copied().unwrap_or(0))
                }
                1 => {
                    let d = &file.delegations[rng.below(DELEGATIONS) as usize];
                    let grantor = d.grantor_agb.value() - 1_000_000;
                    let patients = &by_gp[grantor as usize];
                    (
                        d.grantee_uzi.value() - 900_000_000,
                        patients.first().copied().unwrap_or(0),
                    )
                }
                _ => (rng.below(PRACTITIONERS), rng.below(PATIENTS)),
            };
            Request {
                uzi: uzi(who),
                card_agb: Some(agb(who)),
                card_role: RoleCode::GENERAL_PRACTITIONER,
                action: Action::view_patient(
                    patient(whom),
                    RecordSection::Results(ResultCategory::ClinicalChemistry),
                )
                .unwrap(),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut rng = Rng(0x5eed_2026_1125);
    let (file, gps) = world(&mut rng);
    let requests = requests(&mut rng, &file, &gps);
    let policy = Policy::default();
    let world = file.to_world().unwrap();
    let oracle = CedarOracle::new(&policy).unwrap();
    let cedar_world = oracle.load(&file).unwrap();

    // Cedar's requests, each with the relevant delegation (if any) in context.
    let cedar_requests: Vec<_> = requests
        .iter()
        .map(|r| {
            let gp = r
                .action
                .patient()
                .and_then(|p| world.registered_gp(p))
                .flatten();
            let candidate = file
                .delegations
                .iter()
                .position(|d| {
                    Some(d.grantor_agb) == gp
                        && d.grantee_uzi == r.uzi
                        && d.until.is_none_or(|u| now() < u)
                })
                .map_or(Candidate::None, Candidate::Delegation);
            oracle.request(&cedar_world, r, candidate).unwrap()
        })
        .collect();

    // Both engines agree on these requests, and the mix is what it claims to be.
    let mut mix = std::collections::BTreeMap::<&str, usize>::new();
    for (request, cedar_request) in requests.iter().zip(&cedar_requests) {
        let ours = policy.decide(&world, request, now());
        let (allowed, _) = oracle.authorize(&cedar_world, cedar_request).unwrap();
        assert_eq!(matches!(ours, Decision::Permit(_)), allowed, "{request:?}");
        *mix.entry(match Outcome::of(&ours) {
            Outcome::Permit(basis) => basis,
            Outcome::RequiresEmergency => "requires-emergency",
            Outcome::Deny(reason) => reason,
        })
        .or_default() += 1;
    }
    eprintln!("decision mix over {} requests: {mix:?}", requests.len());

    let mut group = c.benchmark_group("policy_decision");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("zvp_decide", |b| {
        b.iter_batched(
            || {
                i = (i + 1) % requests.len();
                &requests[i]
            },
            |request| black_box(policy.decide(&world, request, now())),
            BatchSize::SmallInput,
        )
    });
    let mut j = 0;
    group.bench_function("cedar_is_authorized", |b| {
        b.iter_batched(
            || {
                j = (j + 1) % cedar_requests.len();
                &cedar_requests[j]
            },
            |request| black_box(oracle.authorize(&cedar_world, request).unwrap()),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
