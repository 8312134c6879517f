//! Random worlds and requests for property and differential tests.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use zvp_auth::directory::{AccountStatus, ReasonCategory};
use zvp_auth::policy::file::{AccountEntry, DelegationEntry, GrantEntry, PatientEntry};
use zvp_auth::policy::{Action, NotPatientRecord, Request, WorldFile};
use zvp_core::{AgbCode, PatientId, RecordSection, RoleCode, UziNumber};

/// The `now` of every generated world.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// AGB codes of the generated worlds: a small pool, so that relations happen often.
const AGBS: u32 = 6;
/// UZI numbers of the generated worlds (one more is used for "no account").
const UZIS: u32 = 5;
/// Patients of the generated worlds (one more is used for "unknown patient").
const PATIENTS: u32 = 6;

fn agb(i: u32) -> AgbCode {
    AgbCode::new(1_000_001 + i).unwrap_or_else(|| unreachable!())
}

fn uzi(i: u32) -> UziNumber {
    UziNumber::new(900_000_001 + i).unwrap_or_else(|| unreachable!())
}

fn patient(i: u32) -> PatientId {
    format!("p{i}").parse().unwrap_or_else(|_| unreachable!())
}

fn any_agb() -> impl Strategy<Value = AgbCode> {
    (0..AGBS).prop_map(agb)
}

fn maybe_agb() -> impl Strategy<Value = Option<AgbCode>> {
    prop_oneof![1 => Just(None), 4 => any_agb().prop_map(Some)]
}

fn any_role() -> impl Strategy<Value = RoleCode> {
    prop_oneof![
        4 => Just(RoleCode::GENERAL_PRACTITIONER),
        1 => Just(RoleCode::DISPENSING_GENERAL_PRACTITIONER),
        1 => Just(RoleCode::ELDERLY_CARE_PHYSICIAN),
        1 => Just(RoleCode::INTELLECTUAL_DISABILITY_PHYSICIAN),
        1 => Just(RoleCode::PHYSICIAN),
        1 => Just(RoleCode::NONE),
    ]
}

fn any_status() -> impl Strategy<Value = AccountStatus> {
    prop_oneof![
        12 => Just(AccountStatus::Active),
        1 => Just(AccountStatus::Requested),
        1 => Just(AccountStatus::Blocked),
        1 => Just(AccountStatus::Rejected),
    ]
}

/// A time near `now`, hitting the boundaries (`now` itself, a second either side) often.
fn near_now() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        1 => Just(0i64),
        1 => Just(-1i64),
        1 => Just(1i64),
        4 => -200_000i64..200_000,
    ]
    .prop_map(|seconds| now() + Duration::seconds(seconds))
}

fn account(i: u32) -> impl Strategy<Value = AccountEntry> {
    (
        maybe_agb(),
        maybe_agb(),
        any_role(),
        any_status(),
        proptest::bool::weighted(0.2),
    )
        .prop_map(
            move |(agb, practice_agb, role, status, admin)| AccountEntry {
                uzi: uzi(i),
                agb,
                practice_agb,
                role,
                status,
                admin,
                name: String::new(),
            },
        )
}

fn delegation() -> impl Strategy<Value = DelegationEntry> {
    (
        any_agb(),
        0..UZIS,
        near_now(),
        proptest::option::weighted(0.7, near_now()),
        proptest::option::weighted(0.3, near_now()),
    )
        .prop_map(
            |(grantor, grantee, from, until, revoked_at)| DelegationEntry {
                id: None,
                grantor_agb: grantor,
                grantee_uzi: uzi(grantee),
                from,
                until,
                revoked_at,
            },
        )
}

fn grant() -> impl Strategy<Value = GrantEntry> {
    (
        0..UZIS,
        0..PATIENTS,
        near_now(),
        near_now(),
        0..ReasonCategory::ALL.len(),
    )
        .prop_map(
            |(practitioner, p, granted_at, expires_at, category)| GrantEntry {
                id: None,
                uzi: uzi(practitioner),
                patient: patient(p),
                reason_category: ReasonCategory::ALL
                    .get(category)
                    .copied()
                    .unwrap_or(ReasonCategory::Other),
                reason: "reden voor de noodprocedure".to_owned(),
                granted_at,
                expires_at,
            },
        )
}

/// A random world: most of the accounts, every patient with a random registered GP (or none)
/// and now and then an objection to sharing,
/// up to 9 delegations and 7 emergency grants, all around [`now`].
pub fn world() -> impl Strategy<Value = WorldFile> {
    let accounts = (0..UZIS)
        .map(|i| proptest::option::weighted(0.95, account(i)))
        .collect::<Vec<_>>();
    let patients = (0..PATIENTS)
        .map(|i| {
            (maybe_agb(), proptest::bool::weighted(0.1)).prop_map(move |(gp, objection)| {
                PatientEntry {
                    id: patient(i),
                    registered_gp_agb: gp,
                    objection,
                }
            })
        })
        .collect::<Vec<_>>();
    (
        accounts,
        patients,
        proptest::collection::vec(delegation(), 0..10),
        proptest::collection::vec(grant(), 0..8),
    )
        .prop_map(
            |(accounts, patients, delegations, emergency_grants)| WorldFile {
                now: now(),
                accounts: accounts.into_iter().flatten().collect(),
                delegations,
                emergency_grants,
                patients,
            },
        )
}

/// A view of `patient`: `section` is one of [`RecordSection::PATIENT_RECORD`], which a view
/// may always read.
fn view(patient: PatientId, section: RecordSection) -> Action {
    Action::view_patient(patient, section)
        .unwrap_or_else(|NotPatientRecord(_)| unreachable!("a section of one patient's record"))
}

/// A random action; patient actions name one of the world's patients or an unknown one, a
/// view any section of a patient's record (each dossier section and result category too).
pub fn action() -> impl Strategy<Value = Action> {
    let any_patient = (0..=PATIENTS).prop_map(patient);
    let section = proptest::sample::select(RecordSection::PATIENT_RECORD.to_vec());
    prop_oneof![
        1 => Just(Action::ListAdmitted),
        1 => Just(Action::ListDischarged),
        2 => any_patient.clone().prop_map(|patient| Action::SearchPatient { patient }),
        6 => (any_patient.clone(), section).prop_map(|(patient, section)| view(patient, section)),
        2 => any_patient.prop_map(|patient| Action::RequestEmergency { patient }),
        1 => Just(Action::ApproveAccount),
        1 => Just(Action::BlockAccount),
        1 => Just(Action::ReadAudit),
        1 => Just(Action::ReviewEmergency),
    ]
}

/// A random request: one of the world's practitioners (or one without account), a card AGB
/// (often the account's own, sometimes another, sometimes none) and role.
pub fn request() -> impl Strategy<Value = Request> {
    (
        0..=UZIS,
        proptest::option::weighted(0.6, any_agb()),
        any_role(),
        action(),
    )
        .prop_map(|(u, card_agb, card_role, action)| Request {
            uzi: uzi(u),
            card_agb,
            card_role,
            action,
        })
}

/// A request whose card carries the account's own AGB code (or none), so that decisions get
/// past the identity checks often enough to test the treatment relation.
pub fn matching_request(world: &WorldFile) -> impl Strategy<Value = Request> + use<> {
    let agbs: Vec<(UziNumber, Option<AgbCode>)> =
        world.accounts.iter().map(|a| (a.uzi, a.agb)).collect();
    (request(), proptest::bool::ANY).prop_map(move |(mut request, with_agb)| {
        let own = agbs
            .iter()
            .find(|(u, _)| *u == request.uzi)
            .and_then(|(_, a)| *a);
        request.card_agb = if with_agb { own } else { None };
        if request.card_role == RoleCode::NONE || request.card_role == RoleCode::PHYSICIAN {
            // Keep some ineligible roles, but mostly eligible ones.
            request.card_role = RoleCode::GENERAL_PRACTITIONER;
        }
        request
    })
}

/// A world with a batch of requests on it.
pub fn world_and_requests(requests: usize) -> impl Strategy<Value = (WorldFile, Vec<Request>)> {
    world().prop_flat_map(move |world| {
        let requests =
            proptest::collection::vec(prop_oneof![request(), matching_request(&world)], requests);
        (Just(world), requests)
    })
}

/// Reads bytes as choices; past the end every choice is 0, so any input makes a world.
struct Choices<'a> {
    bytes: std::slice::Iter<'a, u8>,
}

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        self.bytes.next().copied().unwrap_or(0)
    }

    fn below(&mut self, n: u32) -> u32 {
        u32::from(self.byte()) % n.max(1)
    }

    fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    fn agb(&mut self) -> Option<AgbCode> {
        let i = self.below(AGBS + 1);
        (i < AGBS).then(|| agb(i))
    }

    fn time(&mut self) -> DateTime<Utc> {
        let minutes = i16::from_le_bytes([self.byte(), self.byte()]);
        let seconds = match minutes % 7 {
            0 => 0,
            1 => -1,
            2 => 1,
            _ => i64::from(minutes) * 60,
        };
        now() + Duration::seconds(seconds)
    }

    fn role(&mut self) -> RoleCode {
        const ROLES: [RoleCode; 6] = [
            RoleCode::GENERAL_PRACTITIONER,
            RoleCode::DISPENSING_GENERAL_PRACTITIONER,
            RoleCode::ELDERLY_CARE_PHYSICIAN,
            RoleCode::INTELLECTUAL_DISABILITY_PHYSICIAN,
            RoleCode::PHYSICIAN,
            RoleCode::NONE,
        ];
        let i = self.below(6) as usize;
        ROLES.get(i).copied().unwrap_or(RoleCode::NONE)
    }
}

/// A world and requests from arbitrary bytes, for fuzzing: the same pools as [`world`], every
/// field a choice read from the input.
pub fn from_bytes(data: &[u8]) -> (WorldFile, Vec<Request>) {
    let mut c = Choices { bytes: data.iter() };
    const STATUSES: [AccountStatus; 4] = [
        AccountStatus::Active,
        AccountStatus::Requested,
        AccountStatus::Blocked,
        AccountStatus::Rejected,
    ];
    let accounts = (0..c.below(UZIS + 1))
        .map(|_| AccountEntry {
            uzi: uzi(c.below(UZIS)),
            agb: c.agb(),
            practice_agb: c.agb(),
            role: c.role(),
            status: STATUSES
                .get(c.below(4) as usize)
                .copied()
                .unwrap_or(AccountStatus::Active),
            admin: c.flag(),
            name: String::new(),
        })
        .collect();
    let patients = (0..PATIENTS)
        .map(|i| PatientEntry {
            id: patient(i),
            registered_gp_agb: c.agb(),
            objection: c.below(10) == 0,
        })
        .collect();
    let delegations = (0..c.below(10))
        .map(|_| DelegationEntry {
            id: None,
            grantor_agb: agb(c.below(AGBS)),
            grantee_uzi: uzi(c.below(UZIS)),
            from: c.time(),
            until: c.flag().then(|| c.time()),
            revoked_at: c.flag().then(|| c.time()),
        })
        .collect();
    let emergency_grants = (0..c.below(8))
        .map(|_| GrantEntry {
            id: None,
            uzi: uzi(c.below(UZIS)),
            patient: patient(c.below(PATIENTS)),
            reason_category: ReasonCategory::AcuteCare,
            reason: String::new(),
            granted_at: c.time(),
            expires_at: c.time(),
        })
        .collect();
    let world = WorldFile {
        now: now(),
        accounts,
        delegations,
        emergency_grants,
        patients,
    };
    let mut requests = Vec::new();
    while c.bytes.len() > 0 && requests.len() < 16 {
        let who = uzi(c.below(UZIS + 1));
        let card_agb = c.agb();
        let card_role = c.role();
        let p = patient(c.below(PATIENTS + 1));
        let action = match c.below(8) {
            0 => Action::ListAdmitted,
            1 => Action::SearchPatient { patient: p },
            2..=4 => {
                let sections = RecordSection::PATIENT_RECORD;
                let i = c.below(sections.len() as u32) as usize;
                view(
                    p,
                    sections
                        .get(i)
                        .copied()
                        .unwrap_or(RecordSection::PatientDetails),
                )
            }
            5 => Action::RequestEmergency { patient: p },
            6 => Action::ReadAudit,
            _ => Action::ApproveAccount,
        };
        requests.push(Request {
            uzi: who,
            card_agb,
            card_role,
            action,
        });
    }
    (world, requests)
}
