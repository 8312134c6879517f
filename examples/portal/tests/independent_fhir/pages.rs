//! Every page a GP reaches, over Medplum and over the mock, and Medplum's validator on what
//! the mock serves.

use super::*;

/// Stores `resources` through Medplum's REST API, as batch Bundles of updates that create.
fn load(peers: &Peers, resources: &[Value]) {
    for chunk in resources.chunks(500) {
        let entries: Vec<Value> = chunk
            .iter()
            .map(|r| {
                json!({
                    "resource": r,
                    "request": {
                        "method": "PUT",
                        "url": format!("{}/{}", r["resourceType"].as_str().unwrap(), r["id"].as_str().unwrap()),
                    },
                })
            })
            .collect();
        let bundle = json!({"resourceType": "Bundle", "type": "batch", "entry": entries});
        let (status, answer) = peers.admin("POST", "/fhir", Some(&bundle));
        assert_eq!(status, 200, "{answer}");
        for entry in answer["entry"].as_array().unwrap() {
            let status = entry["response"]["status"].as_str().unwrap_or("");
            assert!(status.starts_with("20"), "{entry}");
        }
    }
}

/// What a GP reads on a page: the text of `<main>`, tags dropped, white space collapsed.
fn visible(html: &str) -> String {
    let main = html
        .split_once("<main")
        .and_then(|(_, rest)| rest.split_once("</main>"))
        .map_or(html, |(main, _)| main);
    let mut text = String::new();
    let mut in_tag = false;
    for c in main.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace()
        .map(without_trailing_zeros)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A decimal without its trailing zeros (`8.0` → `8`, `0,40` → `0,4`, with the point or the
/// Dutch comma the pages write): Medplum keeps decimals as JavaScript numbers, which do not
/// keep them (docs/fhir.md names this).
fn without_trailing_zeros(word: &str) -> String {
    let is_decimal = word.split_once(['.', ',']).is_some_and(|(int, frac)| {
        !int.is_empty()
            && !frac.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
    });
    if is_decimal {
        word.trim_end_matches('0')
            .trim_end_matches(['.', ','])
            .to_owned()
    } else {
        word.to_owned()
    }
}

/// The patient pages a page links to.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| {
            rest.split_once('"')
                .map(|(href, _)| href.replace("&amp;", "&"))
        })
        .filter(|href| href.starts_with("/patient/") && !href.ends_with("/noodprocedure"))
        .collect()
}

/// The patients of the start page's links.
fn listed_patients(html: &str) -> Vec<String> {
    links(html)
        .into_iter()
        .filter_map(|l| l.strip_prefix("/patient/").map(str::to_owned))
        .filter(|id| !id.contains('/'))
        .collect()
}

/// Crawls the start page and every page the GP reaches from it for the patients `within`,
/// over both portals, and returns the pages seen and the differences.
async fn crawl(expected: &TestPortal, got: &TestPortal, within: &[String]) -> (usize, Vec<String>) {
    let mut queue = vec!["/".to_owned()];
    let mut seen = std::collections::HashSet::new();
    let mut differences = Vec::new();
    while let Some(path) = queue.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let want = expected.get(Some(Who::Own), &path).await;
        let have = got.get(Some(Who::Own), &path).await;
        assert_eq!(want.status, 200, "{path} over the mock: {}", want.body);
        if have.status != want.status || visible(&have.body) != visible(&want.body) {
            differences.push(format!(
                "{path}: {} vs {}\n  mock:    {}\n  medplum: {}",
                want.status,
                have.status,
                visible(&want.body),
                visible(&have.body)
            ));
        }
        queue.extend(links(&want.body).into_iter().filter(|l| {
            within.iter().any(|id| {
                l.strip_prefix("/patient/")
                    .is_some_and(|r| r.split('/').next() == Some(id))
            })
        }));
    }
    (seen.len(), differences)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_a_gp_reaches_reads_the_same_as_over_the_mock() {
    let files = Files::make("independent-pages");
    let peers = Peers::start(&files, 3600);
    let hospital = TestPortal::new().await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let mock = Arc::new(zvp_mock_epd::MockEpd::new(
        hospital.epd.clone(),
        base.clone(),
        zvp_mock_epd::Faults::default(),
    ));
    tokio::spawn(zvp_mock_epd::serve(listener, mock, std::future::pending()));
    let over_mock = TestPortal::with(
        None,
        Some(Arc::new(
            FhirEpd::new(zvp_epd::client::FhirEpdConfig::new(base)).unwrap(),
        )),
    )
    .await;

    // Medplum's in-memory search reads every stored resource, so the store holds what the
    // pages need: the GPs, for every patient of the hospital the Patient, Consents and
    // admission (the start page's search runs over all of them, other GPs' patients
    // included), the listed patients' letters, and for five
    // listed patients (admitted and discharged) their whole record.
    let start = over_mock.get(Some(Who::Own), "/").await;
    let listed = listed_patients(&start.body);
    assert!(listed.len() >= 5, "{}", start.body);
    let crawled: Vec<String> = listed
        .iter()
        .take(3)
        .chain(listed.iter().rev().take(2))
        .cloned()
        .collect();
    // The GPs as literal references to Practitioner resources, as most EPDs write them.
    let resources: Vec<Value> = zvp_mock_epd::export::resources_with(
        &hospital.epd,
        zvp_mock_epd::export::GpReference::Literal,
    )
    .await
    .unwrap()
    .into_iter()
    .filter(|r| {
        let kind = r["resourceType"].as_str().unwrap();
        let id = r["id"].as_str().unwrap();
        let of = |p: &String| r.to_string().contains(&format!("Patient/{p}\""));
        matches!(kind, "Patient" | "Practitioner" | "Consent" | "Encounter")
            // The start page asks every listed patient's letters, for the discharge letter.
            || (kind == "DocumentReference" && listed.iter().any(of))
            || crawled.iter().any(|p| id.starts_with(p.as_str()) || of(p))
    })
    .collect();
    load(&peers, &resources);

    let fhir = zvp_portal::epd_connection::fhir_config(&smart_config(&files, &peers)).unwrap();
    let over_medplum = TestPortal::with(None, Some(Arc::new(FhirEpd::new(fhir).unwrap()))).await;
    // This server ignores the chained `patient.general-practitioner:identifier` (it answers
    // with nothing), so the start page is searched through the Practitioners.
    // The same visits before the crawl on both: the start page names the previous visit.
    let _ = over_medplum.get(Some(Who::Own), "/").await;
    let (pages, differences) = crawl(&over_mock, &over_medplum, &crawled).await;
    assert!(pages > 20, "the GP reaches {pages} pages");
    assert!(differences.is_empty(), "{}", differences.join("\n"));

    // `epd check` against the same server: every query answers, the lists through the
    // Practitioners.
    let fhir = zvp_portal::epd_connection::fhir_config(&smart_config(&files, &peers)).unwrap();
    let epd = FhirEpd::new(fhir).unwrap();
    let report =
        zvp_portal::epd_check::run(&epd, Some(common::demo_agb(0)), None, common::now()).await;
    let table = report.table(&peers.fhir);
    assert!(report.ok(), "{table}");
    assert!(
        table.starts_with("EPD Medplum FHIR router (in-memory), for zvp tests at https://"),
        "{table}"
    );
    let admitted = report
        .rows
        .iter()
        .find(|r| r.query == "admitted patients of the GP")
        .unwrap();
    assert_eq!(
        admitted.outcome,
        Ok(listed_admitted(&start.body)),
        "{table}"
    );
    assert!(
        admitted.strategy.contains("Practitioner?identifier"),
        "{table}"
    );
    // The notifier's `_lastUpdated` searches: this server wrote its own `meta.lastUpdated` when
    // the record was loaded (after the check's fortnight began), so every admission of the GP
    // is among what changed.
    let changed = report
        .rows
        .iter()
        .find(|r| r.query == "what changed for the GP")
        .unwrap();
    let everything = listed_patients(&start.body).len();
    assert!(
        matches!(changed.outcome, Ok(n) if n >= everything),
        "{everything}: {table}"
    );
    // And it applies them: one admission stored again (the record was loaded before the crawl,
    // long before) is the only thing changed in the second before its new `meta.lastUpdated`,
    // and nothing after it. (Medplum compares to the second: a `gt` a millisecond before finds
    // nothing; the notifier's overlap of minutes covers that.)
    let touched = listed[0].clone();
    let path = format!("/fhir/Encounter/{touched}-enc");
    let (status, mut encounter) = peers.admin("GET", &path, None);
    assert_eq!(status, 200, "{encounter}");
    encounter["meta"] = json!({});
    peers.put(&encounter);
    let (_, stored) = peers.admin("GET", &path, None);
    let at = chrono::DateTime::parse_from_rfc3339(stored["meta"]["lastUpdated"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let gps = [common::demo_agb(0)];
    let ctx = zvp_epd::RequestContext {
        request_id: "changed".to_owned(),
    };
    let changed = |since| zvp_epd::Epd::changed_since(&epd, &gps, since, &ctx);
    let just_before = changed(at - chrono::Duration::seconds(1)).await.unwrap();
    let ids: Vec<&str> = just_before
        .admissions
        .iter()
        .map(|l| l.patient.id.as_str())
        .collect();
    assert_eq!(
        (ids, just_before.letters.len()),
        (vec![touched.as_str()], 0)
    );
    assert_eq!(changed(at).await.unwrap(), zvp_epd::Changes::default());
    // A letter stored again, asked by an adapter that has not yet found that this server
    // ignores the chained search (no admission changed): found through the Practitioners.
    let (status, letters) = peers.admin(
        "GET",
        &format!("/fhir/DocumentReference?patient=Patient/{touched}"),
        None,
    );
    assert_eq!(status, 200, "{letters}");
    let mut letter = letters["entry"][0]["resource"].clone();
    let letter_id = letter["id"].as_str().unwrap().to_owned();
    letter["meta"] = json!({});
    peers.put(&letter);
    let (_, stored) = peers.admin("GET", &format!("/fhir/DocumentReference/{letter_id}"), None);
    let at = chrono::DateTime::parse_from_rfc3339(stored["meta"]["lastUpdated"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let fhir = zvp_portal::epd_connection::fhir_config(&smart_config(&files, &peers)).unwrap();
    let fresh = FhirEpd::new(fhir).unwrap();
    let just_before =
        zvp_epd::Epd::changed_since(&fresh, &gps, at - chrono::Duration::seconds(1), &ctx)
            .await
            .unwrap();
    let letters: Vec<&str> = just_before
        .letters
        .iter()
        .map(|l| l.letter.id.as_str())
        .collect();
    assert_eq!(letters, vec![letter_id.as_str()]);
    // The admission stored again above may fall in the same second (this server compares to
    // the second): it may be found again, nothing else.
    assert!(
        just_before
            .admissions
            .iter()
            .all(|a| a.patient.id.as_str() == touched),
        "{:?}",
        just_before.admissions
    );
    assert!(report.rows.len() >= 15, "{table}");
}

/// How many patients the start page lists as admitted (before the discharged).
fn listed_admitted(html: &str) -> usize {
    let admitted = html
        .split("Ontslagen in de afgelopen")
        .next()
        .unwrap_or(html);
    listed_patients(admitted).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_mock_serves_passes_medplums_validator_invariants_included() {
    let files = Files::make("independent-valid");
    let peers = Peers::start(&files, 3600);
    let hospital = zvp_epd::synthetic::SyntheticEpd::generate(2026, common::now(), 60).unwrap();
    let mut resources = zvp_mock_epd::export::resources(&hospital).await.unwrap();
    resources.extend(
        zvp_mock_epd::export::resources_with(&hospital, zvp_mock_epd::export::GpReference::Literal)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| matches!(r["resourceType"].as_str(), Some("Patient" | "Practitioner"))),
    );
    // And the other forms it writes: report categories by LOINC and narrow v2-0074 codes,
    // letters as HTML and as PDF by URL with their Binaries, privacy Consents.
    use zvp_mock_epd::shapes::{CategoryCodes, LetterContent, Letters};
    let objecting: Vec<_> = hospital.patient_ids().take(5).cloned().collect();
    for (categories, content, by_url) in [
        (CategoryCodes::Loinc, LetterContent::Pdf, true),
        (CategoryCodes::Narrow, LetterContent::Html, false),
    ] {
        let shapes = zvp_mock_epd::Shapes {
            categories,
            letters: Letters { content, by_url },
            ..zvp_mock_epd::Shapes::default()
        };
        resources.extend(
            zvp_mock_epd::export::resources_shaped(
                &hospital,
                zvp_mock_epd::export::GpReference::Logical,
                shapes,
                &objecting,
            )
            .await
            .unwrap()
            .into_iter()
            .filter(|r| {
                matches!(
                    r["resourceType"].as_str(),
                    Some("Consent" | "DocumentReference" | "Binary" | "DiagnosticReport")
                )
            }),
        );
    }
    let kinds: std::collections::BTreeSet<&str> = resources
        .iter()
        .filter_map(|r| r["resourceType"].as_str())
        .collect();
    assert!(kinds.len() >= 14, "{kinds:?}");
    let mut invalid = Vec::new();
    for chunk in resources.chunks(500) {
        let (status, answer) = peers.admin("POST", "/validate", Some(&Value::from(chunk.to_vec())));
        assert_eq!(status, 200, "{answer}");
        invalid.extend(answer["invalid"].as_array().unwrap().iter().cloned());
    }
    let what: std::collections::BTreeSet<String> = invalid
        .iter()
        .flat_map(|i| i["issues"].as_array().cloned().unwrap_or_default())
        .map(|issue| format!("{} {}", issue["details"]["text"], issue["expression"]))
        .collect();
    assert!(invalid.is_empty(), "{} invalid: {what:#?}", invalid.len());
}
