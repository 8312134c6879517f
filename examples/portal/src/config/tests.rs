use std::path::Path;

use super::*;

#[test]
fn an_empty_file_is_the_defaults() {
    let config = Config::parse("", "zvp.toml", [], Path::new("/etc/zvp")).unwrap();
    assert_eq!(
        config.server.listen,
        SocketAddr::from(([127, 0, 0, 1], 8443))
    );
    assert_eq!(config.portal.discharged_days, 14);
    assert_eq!(config.audit.dir, PathBuf::from("/etc/zvp/audit"));
    assert_eq!(config.uzi.environment, UziEnvironment::Production);
}

#[test]
fn the_environment_overrides_the_file() {
    let env = [
        ("ZVP_SERVER_LISTEN".to_owned(), "0.0.0.0:443".to_owned()),
        ("ZVP_PORTAL_DISCHARGED_DAYS".to_owned(), "30".to_owned()),
        ("ZVP_EPD_KIND".to_owned(), "fhir".to_owned()),
        ("HOME".to_owned(), "/root".to_owned()),
    ];
    let config = Config::parse(
        "[portal]\ndischarged_days = 7\n",
        "zvp.toml",
        env,
        Path::new("."),
    )
    .unwrap();
    assert_eq!(config.server.listen, SocketAddr::from(([0, 0, 0, 0], 443)));
    assert_eq!(config.portal.discharged_days, 30);
    assert_eq!(config.epd.kind, EpdKind::Fhir);
}

/// The TOML block of the module docs.
fn documented() -> String {
    let source = include_str!("mod.rs");
    let start = source.find("//! ```toml\n").unwrap() + "//! ```toml\n".len();
    let end = start + source[start..].find("//! ```\n").unwrap();
    source[start..end]
        .lines()
        .map(|l| {
            l.strip_prefix("//! ")
                .or_else(|| l.strip_prefix("//!"))
                .unwrap()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_documented_example_is_the_defaults_and_its_commented_keys_exist() {
    let text = documented();
    let parsed = Config::parse(&text, "the docs", [], Path::new("")).unwrap();
    assert_eq!(parsed, Config::default());
    // The keys shown in comments are keys (the file refuses unknown ones).
    let uncommented: Vec<&str> = text
        .lines()
        .map(|l| {
            l.strip_prefix("# ")
                .filter(|l| l.contains(" = "))
                .unwrap_or(l)
        })
        .collect();
    let with_optional =
        Config::parse(&uncommented.join("\n"), "the docs", [], Path::new("")).unwrap();
    assert_eq!(with_optional.epd.key_id.as_deref(), Some("zvp-portal-2026"));
    assert_eq!(
        with_optional.audit.origin.as_deref(),
        Some("zvp.hospital.example")
    );
}

#[test]
fn every_section_is_settable_from_the_environment() {
    let sections: Vec<String> = match toml::Value::try_from(Config::default()).unwrap() {
        toml::Value::Table(t) => t.keys().cloned().collect(),
        other => panic!("{other:?}"),
    };
    let mut known: Vec<String> = SECTIONS.iter().map(|s| (*s).to_owned()).collect();
    let mut sections = sections;
    sections.sort();
    known.sort();
    assert_eq!(sections, known);
    let env = [
        ("ZVP_STORES_KIND".to_owned(), "postgres".to_owned()),
        ("ZVP_STORES_SCHEMA".to_owned(), "zvp_acceptatie".to_owned()),
        (
            "ZVP_UZI_ELIGIBLE_ROLES".to_owned(),
            "[\"01.015\"]".to_owned(),
        ),
    ];
    let config = Config::parse("", "zvp.toml", env, Path::new(".")).unwrap();
    assert_eq!(config.stores.kind, StoresKind::Postgres);
    assert_eq!(config.stores.schema, "zvp_acceptatie");
    assert_eq!(config.uzi.eligible_roles, [RoleCode::GENERAL_PRACTITIONER]);
    // A key a section does not have is refused, from the environment too.
    let err = Config::parse(
        "",
        "zvp.toml",
        [("ZVP_STORES_HOST".to_owned(), "db".to_owned())],
        Path::new("."),
    )
    .unwrap_err();
    assert!(err.to_string().contains("host"), "{err}");
}

#[test]
fn role_codes_and_card_types_are_parsed_when_read() {
    for (text, wrong) in [
        (
            "[uzi]\neligible_roles = [\"01.0155\"]\n",
            "uzi.eligible_roles",
        ),
        ("[uzi]\ncard_types = [\"Q\"]\n", "uzi.card_types"),
    ] {
        let err = Config::parse(text, "zvp.toml", [], Path::new(".")).unwrap_err();
        assert!(err.to_string().contains(wrong), "{err}");
    }
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let err = Config::parse(
        "[portal]\ndischarge_days = 7\n",
        "zvp.toml",
        [],
        Path::new("."),
    )
    .unwrap_err();
    assert!(err.to_string().contains("discharge_days"), "{err}");
    let err = Config::parse(
        "",
        "zvp.toml",
        [("ZVP_EPD_KIND".to_owned(), "hix".to_owned())],
        Path::new("."),
    )
    .unwrap_err();
    assert!(err.to_string().contains("hix"), "{err}");
}

#[test]
fn the_answer_budgets_reach_the_fhir_client_in_bytes() {
    let mut epd = EpdConfig::default();
    let fhir = crate::epd_connection::fhir_config(&epd).unwrap();
    assert_eq!(fhir.max_answer_bytes, 32 << 20);
    assert_eq!(fhir.max_answers_in_flight_bytes, 128 << 20);
    epd.max_answer_mib = 0;
    epd.max_answers_in_flight_mib = 4;
    let fhir = crate::epd_connection::fhir_config(&epd).unwrap();
    assert_eq!(fhir.max_answer_bytes, 1 << 20);
    assert_eq!(fhir.max_answers_in_flight_bytes, 4 << 20);
}
