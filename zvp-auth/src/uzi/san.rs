//! The UZI "Subject ID": the SAN otherName 2.5.5.5 that carries who the holder is.

use std::fmt;
use std::str::FromStr;

use const_oid::ObjectIdentifier;
use serde::Serialize;
use zvp_core::{
    AgbCode, AgbCodeError, CardType, CardTypeError, RoleCode, RoleCodeError, Ura, UraError,
    UziNumber, UziNumberError,
};

/// The longest Subject ID accepted, in bytes. Real values are about 60 characters (a 25-byte
/// CA OID and six short fields); the bound keeps hostile input from costing work.
pub const MAX_SUBJECT_ID_LEN: usize = 128;

/// The only version of the Subject ID layout the UZI-register has defined.
const VERSION: &str = "1";

/// The seven fields of a UZI Subject ID:
/// `<OID CA>-<version>-<UZI number>-<card type>-<subscriber>-<role>-<AGB>`.
///
/// Parsing checks each field on its own and the rule that ties role to card type (a Z card
/// names a profession; N, M and S cards carry `00.000`). Whether the fields agree with the rest
/// of the certificate (serialNumber, issuer, UPN) is checked by the validator.
///
/// ```
/// use zvp_auth::uzi::SubjectId;
/// use zvp_core::{CardType, RoleCode};
/// let id: SubjectId = "2.16.528.1.1003.1.3.5.5.2-1-123456789-Z-90000382-01.015-01012345".parse()?;
/// assert_eq!(id.card_type, CardType::CareProvider);
/// assert_eq!(id.role, RoleCode::GENERAL_PRACTITIONER);
/// assert_eq!(id.agb.map(|a| a.to_string()).as_deref(), Some("01012345"));
/// # Ok::<(), zvp_auth::uzi::SubjectIdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectId {
    /// Field 0: the OID of the issuing CA (`2.16.528.1.1003.1.3.5.5.2` for the Zorgverlener CA).
    #[serde(serialize_with = "serialize_oid")]
    pub ca_oid: ObjectIdentifier,
    /// Field 2: the holder's UZI number.
    pub uzi_number: UziNumber,
    /// Field 3: the card type.
    pub card_type: CardType,
    /// Field 4: the subscriber (URA) the card was issued under.
    pub subscriber: Ura,
    /// Field 5: the role code.
    pub role: RoleCode,
    /// Field 6: the AGB code, `None` where the card says `00000000`.
    pub agb: Option<AgbCode>,
}

/// Why a string is not a UZI Subject ID. Every variant is the portal's `san-malformed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubjectIdError {
    /// Longer than [`MAX_SUBJECT_ID_LEN`] bytes.
    #[error("subject id: {found} bytes, at most {MAX_SUBJECT_ID_LEN} are allowed")]
    TooLong {
        /// The length found.
        found: usize,
    },
    /// Not seven `-`-separated fields.
    #[error("subject id: expected 7 fields separated by '-', found {found}")]
    FieldCount {
        /// How many fields there were.
        found: usize,
    },
    /// Field 0 is not a dotted object identifier.
    #[error("subject id: the ca oid {found:?} is not an object identifier")]
    CaOid {
        /// The field as found.
        found: String,
    },
    /// Field 1 is not `1`.
    #[error("subject id: version {found:?}, only version 1 exists")]
    Version {
        /// The field as found.
        found: String,
    },
    /// Field 2 is not a UZI number (an 8-digit value is probably the pass number).
    #[error("subject id: {0}")]
    UziNumber(#[from] UziNumberError),
    /// Field 3 is not a card type.
    #[error("subject id: {0}")]
    CardType(#[from] CardTypeError),
    /// Field 4 is not a subscriber number.
    #[error("subject id: subscriber {0}")]
    Subscriber(#[from] UraError),
    /// Field 5 is not a role code.
    #[error("subject id: {0}")]
    Role(#[from] RoleCodeError),
    /// Field 6 is not an AGB code (nor `00000000`).
    #[error("subject id: {0}")]
    Agb(#[from] AgbCodeError),
    /// The role does not fit the card type: a Z card without profession, or an N, M or S card
    /// with a role other than `00.000`.
    #[error("subject id: role {role} does not fit card type {card_type}")]
    RoleForCardType {
        /// The card type.
        card_type: CardType,
        /// The role found.
        role: RoleCode,
    },
}

impl FromStr for SubjectId {
    type Err = SubjectIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_SUBJECT_ID_LEN {
            return Err(SubjectIdError::TooLong { found: s.len() });
        }
        // The OID has only digits and dots and the role has a dot, so '-' separates exactly.
        let fields: Vec<&str> = s.split('-').collect();
        let [ca_oid, version, uzi, card, subscriber, role, agb] = fields.as_slice() else {
            return Err(SubjectIdError::FieldCount {
                found: fields.len(),
            });
        };
        let ca_oid = parse_oid(ca_oid).ok_or_else(|| SubjectIdError::CaOid {
            found: (*ca_oid).to_owned(),
        })?;
        if *version != VERSION {
            return Err(SubjectIdError::Version {
                found: (*version).to_owned(),
            });
        }
        let id = Self {
            ca_oid,
            uzi_number: uzi.parse()?,
            card_type: card.parse()?,
            subscriber: subscriber.parse()?,
            role: role.parse()?,
            agb: AgbCode::parse_optional(agb)?,
        };
        let role_fits = match id.card_type {
            CardType::CareProvider => id.role.profession_code() != 0,
            CardType::NamedEmployee | CardType::UnnamedEmployee | CardType::Server => {
                id.role == RoleCode::NONE
            }
        };
        if !role_fits {
            return Err(SubjectIdError::RoleForCardType {
                card_type: id.card_type,
                role: id.role,
            });
        }
        Ok(id)
    }
}

impl fmt::Display for SubjectId {
    /// The canonical Subject ID string, as the UZI-register writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let agb = self.agb.map(|a| a.to_string());
        write!(
            f,
            "{}-{VERSION}-{}-{}-{}-{}-{}",
            self.ca_oid,
            self.uzi_number,
            self.card_type,
            self.subscriber,
            self.role,
            agb.as_deref().unwrap_or(AgbCode::ABSENT)
        )
    }
}

/// A strict dotted OID: digits and single dots, no leading zeros in an arc, at least two arcs.
///
/// `const_oid` alone accepts some forms the UZI profile never uses (it is lenient about
/// leading zeros), so the text is checked first and must print back to itself.
fn parse_oid(s: &str) -> Option<ObjectIdentifier> {
    let arcs_ok = s.split('.').all(|arc| {
        !arc.is_empty()
            && arc.bytes().all(|b| b.is_ascii_digit())
            && (arc == "0" || !arc.starts_with('0'))
    });
    if !arcs_ok {
        return None;
    }
    let oid = ObjectIdentifier::new(s).ok()?;
    (oid.to_string() == s).then_some(oid)
}

/// Serialises an OID as its dotted text.
fn serialize_oid<S: serde::Serializer>(oid: &ObjectIdentifier, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(oid)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const GP: &str = "2.16.528.1.1003.1.3.5.5.2-1-123456789-Z-90000382-01.015-01012345";

    #[test]
    fn real_test_card_value_parses() {
        let id: SubjectId = "2.16.528.1.1007.99.217-1-900016528-Z-90000382-01.000-00000000"
            .parse()
            .unwrap();
        assert_eq!(id.uzi_number.to_string(), "900016528");
        assert_eq!(id.subscriber.to_string(), "90000382");
        assert_eq!(id.role, RoleCode::PHYSICIAN);
        assert_eq!(id.agb, None);
        assert_eq!(id.ca_oid.to_string(), "2.16.528.1.1007.99.217");
    }

    #[test]
    fn display_gives_the_parsed_text() {
        assert_eq!(GP.parse::<SubjectId>().unwrap().to_string(), GP);
    }

    #[test]
    fn six_or_eight_fields_are_refused() {
        let six = "2.16.528.1.1003.1.3.5.5.2-1-123456789-Z-90000382-01.015";
        assert_eq!(
            six.parse::<SubjectId>(),
            Err(SubjectIdError::FieldCount { found: 6 })
        );
        let eight = format!("{GP}-x");
        assert_eq!(
            eight.parse::<SubjectId>(),
            Err(SubjectIdError::FieldCount { found: 8 })
        );
    }

    #[test]
    fn wrong_version_is_refused() {
        let s = GP.replacen("-1-", "-2-", 1);
        assert_eq!(
            s.parse::<SubjectId>(),
            Err(SubjectIdError::Version {
                found: "2".to_owned()
            })
        );
    }

    #[test]
    fn pass_number_instead_of_uzi_number_is_refused() {
        let s = GP.replace("123456789", "12345678");
        assert!(matches!(
            s.parse::<SubjectId>(),
            Err(SubjectIdError::UziNumber(_))
        ));
    }

    #[test]
    fn bad_ca_oids_are_refused() {
        for oid in ["", "2", "2..16", "2.16.", "02.16", "2.x", "2.016.528"] {
            let s = GP.replacen("2.16.528.1.1003.1.3.5.5.2", oid, 1);
            assert_eq!(
                s.parse::<SubjectId>(),
                Err(SubjectIdError::CaOid {
                    found: oid.to_owned()
                }),
                "{oid:?}"
            );
        }
    }

    #[test]
    fn role_must_fit_the_card_type() {
        let employee_with_role = GP.replacen("-Z-", "-N-", 1);
        assert_eq!(
            employee_with_role.parse::<SubjectId>(),
            Err(SubjectIdError::RoleForCardType {
                card_type: CardType::NamedEmployee,
                role: RoleCode::GENERAL_PRACTITIONER
            })
        );
        let provider_without_role = GP.replacen("01.015", "00.000", 1);
        assert_eq!(
            provider_without_role.parse::<SubjectId>(),
            Err(SubjectIdError::RoleForCardType {
                card_type: CardType::CareProvider,
                role: RoleCode::NONE
            })
        );
    }

    #[test]
    fn overlong_input_is_refused_before_splitting() {
        let s = "1".repeat(MAX_SUBJECT_ID_LEN + 1);
        assert_eq!(
            s.parse::<SubjectId>(),
            Err(SubjectIdError::TooLong {
                found: MAX_SUBJECT_ID_LEN + 1
            })
        );
    }

    /// A valid Subject ID, from its parts.
    fn valid_subject_id() -> impl Strategy<Value = String> {
        (
            "2\\.16\\.528\\.1\\.(1003|1007)(\\.[1-9][0-9]{0,3}){1,5}",
            "[0-9]{9}",
            prop_oneof![
                ("Z", "(0[1-9]|[1-9][0-9])\\.[0-9]{3}"),
                ("[NMS]", "00\\.000"),
            ],
            "[0-9]{8}",
            "[0-9]{8}",
        )
            .prop_map(|(oid, uzi, (card, role), ura, agb)| {
                format!("{oid}-1-{uzi}-{card}-{ura}-{role}-{agb}")
            })
    }

    proptest! {
        #[test]
        fn display_then_parse_is_the_identity(s in valid_subject_id()) {
            let id: SubjectId = s.parse().unwrap();
            prop_assert_eq!(id.to_string(), s);
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,160}") {
            let _ = s.parse::<SubjectId>();
        }
    }
}
