//! The UZI role code `BB.SSS`: profession (beroep) and specialism (specialisme).

use std::fmt;
use std::str::FromStr;

use super::deserialize_via_str;

/// A UZI role code `BB.SSS`: two digits for the profession under the Wet BIG (or an
/// opleidingstitel), three for the specialism (`000` for none). Field 5 of the UZI SAN.
///
/// Z cards carry the holder's profession and, if registered in the BIG register and chosen
/// for the card, a specialism. N, M and S cards always carry [`RoleCode::NONE`] (`00.000`).
/// Codes not in the tables of the UZI-register's CPS v10.3 still parse (the register adds
/// codes over time); their names are then unknown.
///
/// A role code is a claim about the profession, not about a treatment relation, and
/// [`RoleCode::PHYSICIAN`] (`01.000`) never proves that someone is a GP: a GP in training has
/// it, and so does a specialist who chose a card without specialism.
///
/// ```
/// use zvp_core::RoleCode;
/// let role: RoleCode = "01.047".parse()?;
/// assert_eq!(role, RoleCode::ELDERLY_CARE_PHYSICIAN);
/// assert_eq!(role.profession_name(), Some("Arts"));
/// assert_eq!(role.specialism_name(), Some("Specialist ouderengeneeskunde"));
/// assert!(RoleCode::PRIMARY_CARE_PHYSICIANS.contains(&role));
/// # Ok::<(), zvp_core::RoleCodeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleCode {
    // INVARIANT: profession <= 99, specialism <= 999, and profession == 0 implies
    // specialism == 0.
    profession: u8,
    specialism: u16,
}

/// Why a string is not a [`RoleCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoleCodeError {
    /// Not exactly 6 characters (`BB.SSS`).
    #[error("role code: expected 6 characters (BB.SSS), found {found}")]
    Length {
        /// How many characters the input had.
        found: usize,
    },
    /// The third character is not the `.` between profession and specialism.
    #[error("role code: expected '.' as character 3, found {found:?}")]
    MissingDot {
        /// The character found there.
        found: char,
    },
    /// A character other than the dot is not an ASCII digit.
    #[error("role code: character {position} is {found:?}, not a digit")]
    NonDigit {
        /// 1-based position of the character.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// Profession `00` (no role) with a specialism: no such code exists.
    #[error("role code: profession 00 cannot have a specialism")]
    SpecialismWithoutProfession,
}

/// The Dutch and English names of a profession or specialism, as the UZI-register's CPS
/// lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleName {
    /// The code: two digits for a profession, three for a specialism.
    pub code: u16,
    /// The Dutch name (CPS v10.3, Bijlage 3).
    pub dutch: &'static str,
    /// The English name (CPS v10.2, Annex 3).
    pub english: &'static str,
}

impl RoleCode {
    /// `01.015` huisarts (general practitioner).
    pub const GENERAL_PRACTITIONER: Self = Self::new_unchecked(1, 15);
    /// `01.004` apotheekhoudend huisarts (dispensing general practitioner).
    pub const DISPENSING_GENERAL_PRACTITIONER: Self = Self::new_unchecked(1, 4);
    /// `01.047` specialist ouderengeneeskunde (elderly-care physician; not `01.022`, the
    /// klinisch geriater).
    pub const ELDERLY_CARE_PHYSICIAN: Self = Self::new_unchecked(1, 47);
    /// `01.056` arts voor verstandelijk gehandicapten (physician for people with an
    /// intellectual disability).
    pub const INTELLECTUAL_DISABILITY_PHYSICIAN: Self = Self::new_unchecked(1, 56);
    /// `01.000` arts without specialism: a GP in training (AIOS) or any doctor whose card
    /// carries no specialism.
    pub const PHYSICIAN: Self = Self::new_unchecked(1, 0);
    /// `00.000`: no role, as on N, M and S cards.
    pub const NONE: Self = Self::new_unchecked(0, 0);

    /// The roles for which a Zorgverlenersportaal is meant: huisarts, apotheekhoudend
    /// huisarts, specialist ouderengeneeskunde and arts verstandelijk gehandicapten. The
    /// policy's default set of eligible roles.
    pub const PRIMARY_CARE_PHYSICIANS: [Self; 4] = [
        Self::GENERAL_PRACTITIONER,
        Self::DISPENSING_GENERAL_PRACTITIONER,
        Self::ELDERLY_CARE_PHYSICIAN,
        Self::INTELLECTUAL_DISABILITY_PHYSICIAN,
    ];

    /// Builds a code from its parts, for the constants above; callers keep the invariant.
    const fn new_unchecked(profession: u8, specialism: u16) -> Self {
        Self {
            profession,
            specialism,
        }
    }

    /// The two-digit profession code (`01` arts).
    pub const fn profession_code(self) -> u8 {
        self.profession
    }

    /// The three-digit specialism code (`015` huisarts); `0` for none.
    pub const fn specialism_code(self) -> u16 {
        self.specialism
    }

    /// Whether the code names a specialism (the last three digits are not `000`).
    pub const fn has_specialism(self) -> bool {
        self.specialism != 0
    }

    /// The profession, when the code is in the register's table.
    pub fn profession(self) -> Option<RoleName> {
        PROFESSIONS
            .iter()
            .find(|(code, ..)| *code == self.profession)
            .map(|&(code, dutch, english)| RoleName {
                code: u16::from(code),
                dutch,
                english,
            })
    }

    /// The specialism, when the code has one and it is in the register's table.
    pub fn specialism(self) -> Option<RoleName> {
        SPECIALISMS
            .iter()
            .find(|(profession, code, ..)| {
                *profession == self.profession && *code == self.specialism
            })
            .map(|&(_, code, dutch, english)| RoleName {
                code,
                dutch,
                english,
            })
    }

    /// The Dutch name of the profession, e.g. `Arts`.
    pub fn profession_name(self) -> Option<&'static str> {
        self.profession().map(|n| n.dutch)
    }

    /// The Dutch name of the specialism, e.g. `Huisarts`.
    pub fn specialism_name(self) -> Option<&'static str> {
        self.specialism().map(|n| n.dutch)
    }
}

impl RoleCode {
    /// `BB.SSS`, made without `fmt` (every audit record writes the role).
    fn text(self) -> [u8; 6] {
        let (p, s) = (self.profession, self.specialism);
        // INVARIANT: p <= 99 and s <= 999, so every digit is below 10 and the casts keep it.
        [
            b'0' + p / 10 % 10,
            b'0' + p % 10,
            b'.',
            b'0' + (s / 100 % 10) as u8,
            b'0' + (s / 10 % 10) as u8,
            b'0' + (s % 10) as u8,
        ]
    }
}

impl fmt::Display for RoleCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.text()).unwrap_or_default())
    }
}

impl serde::Serialize for RoleCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(std::str::from_utf8(&self.text()).unwrap_or_default())
    }
}

impl FromStr for RoleCode {
    type Err = RoleCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let found = s.chars().count();
        if found != 6 {
            return Err(RoleCodeError::Length { found });
        }
        let mut profession = 0u8;
        let mut specialism = 0u16;
        for (index, c) in s.chars().enumerate() {
            if index == 2 {
                if c != '.' {
                    return Err(RoleCodeError::MissingDot { found: c });
                }
                continue;
            }
            // `to_digit` accepts only the ASCII digits for radix 10.
            let Some(d) = c.to_digit(10) else {
                return Err(RoleCodeError::NonDigit {
                    position: index + 1,
                    found: c,
                });
            };
            // d < 10: at most 99 and 999, no overflow.
            if index < 2 {
                profession = profession * 10 + d as u8;
            } else {
                specialism = specialism * 10 + d as u16;
            }
        }
        if profession == 0 && specialism != 0 {
            return Err(RoleCodeError::SpecialismWithoutProfession);
        }
        Ok(Self {
            profession,
            specialism,
        })
    }
}

deserialize_via_str!(RoleCode);

/// Professions (art. 3 Wet BIG) and opleidingstitels / other care (art. 34, 36a), from the
/// UZI-register's CPS v10.3 Bijlage 3 (Dutch) and v10.2 Annex 3 (English).
const PROFESSIONS: &[(u8, &str, &str)] = &[
    (1, "Arts", "Doctor"),
    (2, "Tandarts", "Dentist"),
    (3, "Verloskundige", "Midwife"),
    (4, "Fysiotherapeut", "Physiotherapist"),
    (16, "Psychotherapeut", "Psychotherapist"),
    (17, "Apotheker", "Pharmacist"),
    (25, "Gezondheidszorgpsycholoog", "Healthcare psychologist"),
    (30, "Verpleegkundige", "Nurse"),
    (31, "Orthopedagoog-generalist", "Orthopedagogue generalist"),
    (
        79,
        "Geregistreerd-mondhygiënist",
        "Registered dental hygienist",
    ),
    (
        80,
        "Bachelor medisch hulpverlener",
        "Bachelor of emergency medical care",
    ),
    (81, "Physician assistant", "Physician assistant"),
    (82, "Klinisch technoloog", "Clinical technologist"),
    (83, "Apothekersassistent", "Pharmacy assistant"),
    (84, "Klinisch fysicus", "Clinical physicist"),
    (85, "Tandprotheticus", "Dental prosthetist"),
    (
        86,
        "Verzorgende individuele gezondheidszorg",
        "Carer (individual healthcare)",
    ),
    (87, "Optometrist", "Optometrist"),
    (88, "Huidtherapeut", "Skin therapist"),
    (89, "Diëtist", "Dietician"),
    (90, "Ergotherapeut", "Occupational therapist"),
    (91, "Logopedist", "Speech therapist"),
    (92, "Mondhygiënist", "Dental hygienist"),
    (
        93,
        "Oefentherapeut Mensendieck",
        "Remedial therapist (Mensendieck)",
    ),
    (94, "Oefentherapeut Cesar", "Remedial therapist (Cesar)"),
    (95, "Orthoptist", "Orthoptist"),
    (96, "Podotherapeut", "Podiatrist"),
    (97, "Radiodiagnostisch laborant", "Diagnostic radiographer"),
    (
        98,
        "Radiotherapeutisch laborant",
        "Therapeutic radiographer",
    ),
    (99, "Zorgverlener andere zorg", "Care provider, other care"),
];

/// Specialisms per profession, from the same tables.
const SPECIALISMS: &[(u8, u16, &str, &str)] = &[
    (1, 2, "Allergoloog", "Allergology"),
    (1, 3, "Anesthesioloog", "Anaesthesiology"),
    (
        1,
        4,
        "Apotheekhoudend huisarts",
        "Dispensing general practitioner",
    ),
    (1, 8, "Bedrijfsarts", "Occupational medicine"),
    (1, 10, "Cardioloog", "Cardiology"),
    (1, 11, "Cardiothoracaal chirurg", "Cardio-thoracic surgery"),
    (1, 12, "Dermatoloog", "Dermato-venereology"),
    (
        1,
        13,
        "Arts voor maag-darm-leverziekten",
        "Gastroenterology",
    ),
    (1, 14, "Chirurg", "General surgery"),
    (1, 15, "Huisarts", "General practice"),
    (1, 16, "Internist", "Internal medicine"),
    (1, 18, "Keel-neus-oorarts", "Otorhinolaryngology"),
    (1, 19, "Kinderarts", "Paediatrics"),
    (1, 20, "Arts klinische chemie", "Chemical pathology"),
    (1, 21, "Klinisch geneticus", "Medical genetics"),
    (1, 22, "Klinisch geriater", "Geriatrics"),
    (1, 23, "Longarts", "Pulmonology"),
    (1, 24, "Arts-microbioloog", "Medical microbiology"),
    (1, 25, "Neurochirurg", "Neurosurgery"),
    (1, 26, "Neuroloog", "Neurology"),
    (1, 30, "Nucleair geneeskundige", "Nuclear medicine"),
    (1, 31, "Oogarts", "Ophthalmology"),
    (1, 32, "Orthopedisch chirurg", "Orthopaedics"),
    (1, 33, "Patholoog", "Pathology"),
    (1, 34, "Plastisch chirurg", "Plastic surgery"),
    (1, 35, "Psychiater", "Psychiatry"),
    (1, 39, "Radioloog", "Radiology"),
    (1, 40, "Radiotherapeut", "Radiotherapy"),
    (1, 41, "Reumatoloog", "Rheumatology"),
    (1, 42, "Revalidatiearts", "Rehabilitation medicine"),
    (1, 45, "Uroloog", "Urology"),
    (1, 46, "Gynaecoloog", "Obstetrics and gynaecology"),
    (
        1,
        47,
        "Specialist ouderengeneeskunde",
        "Elderly-care medicine",
    ),
    (1, 48, "Verzekeringsarts", "Insurance medicine"),
    (1, 50, "Zenuwarts", "Neuropsychiatry"),
    (1, 55, "Arts maatschappij en gezondheid", "Public health"),
    (
        1,
        56,
        "Arts voor verstandelijk gehandicapten",
        "Medicine for people with intellectual disabilities",
    ),
    (
        1,
        62,
        "Internist-allergoloog",
        "Allergology (internal medicine)",
    ),
    (1, 70, "Jeugdarts", "Youth health care"),
    (1, 71, "Spoedeisende hulp arts", "Emergency medicine"),
    (1, 74, "Sportarts", "Sports medicine"),
    (2, 53, "Orthodontist", "Orthodontics"),
    (2, 54, "Kaakchirurg", "Oral and maxillofacial surgery"),
    (17, 60, "Ziekenhuisapotheker", "Hospital pharmacy"),
    (17, 75, "Openbaar apotheker", "Community pharmacy"),
    (25, 61, "Klinisch psycholoog", "Clinical psychology"),
    (
        25,
        63,
        "Klinisch neuropsycholoog",
        "Clinical neuropsychology",
    ),
    (
        30,
        65,
        "Verpleegkundig specialist preventieve zorg bij somatische aandoeningen",
        "Nurse specialist, preventive care",
    ),
    (
        30,
        66,
        "Verpleegkundig specialist acute zorg bij somatische aandoeningen",
        "Nurse specialist, acute care",
    ),
    (
        30,
        67,
        "Verpleegkundig specialist intensieve zorg bij somatische aandoeningen",
        "Nurse specialist, intensive care",
    ),
    (
        30,
        68,
        "Verpleegkundig specialist chronische zorg bij somatische aandoeningen",
        "Nurse specialist, chronic care",
    ),
    (
        30,
        69,
        "Verpleegkundig specialist geestelijke gezondheidszorg",
        "Nurse specialist, mental health care",
    ),
    (
        30,
        76,
        "Verpleegkundig specialist algemene gezondheidszorg",
        "Nurse specialist, general health care",
    ),
];

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn eligible_roles_have_their_names() {
        let names: Vec<_> = RoleCode::PRIMARY_CARE_PHYSICIANS
            .iter()
            .map(|r| (r.to_string(), r.specialism_name()))
            .collect();
        assert_eq!(
            names,
            [
                ("01.015".to_owned(), Some("Huisarts")),
                ("01.004".to_owned(), Some("Apotheekhoudend huisarts")),
                ("01.047".to_owned(), Some("Specialist ouderengeneeskunde")),
                (
                    "01.056".to_owned(),
                    Some("Arts voor verstandelijk gehandicapten")
                ),
            ]
        );
    }

    #[test]
    fn physician_without_specialism_has_no_specialism_name() {
        let role: RoleCode = "01.000".parse().unwrap();
        assert_eq!(role, RoleCode::PHYSICIAN);
        assert!(!role.has_specialism());
        assert_eq!(role.profession_name(), Some("Arts"));
        assert_eq!(role.specialism_name(), None);
    }

    #[test]
    fn unknown_codes_parse_without_names() {
        let role: RoleCode = "42.123".parse().unwrap();
        assert_eq!(role.profession(), None);
        assert_eq!(role.specialism(), None);
    }

    #[test]
    fn no_role_parses() {
        assert_eq!("00.000".parse::<RoleCode>(), Ok(RoleCode::NONE));
    }

    #[test]
    fn wrong_length_is_refused() {
        assert_eq!(
            "01.0150".parse::<RoleCode>(),
            Err(RoleCodeError::Length { found: 7 })
        );
        assert_eq!(
            "1.015".parse::<RoleCode>(),
            Err(RoleCodeError::Length { found: 5 })
        );
    }

    #[test]
    fn missing_dot_is_refused() {
        assert_eq!(
            "01-015".parse::<RoleCode>(),
            Err(RoleCodeError::MissingDot { found: '-' })
        );
    }

    #[test]
    fn non_digit_is_refused() {
        assert_eq!(
            "01.01a".parse::<RoleCode>(),
            Err(RoleCodeError::NonDigit {
                position: 6,
                found: 'a'
            })
        );
    }

    #[test]
    fn specialism_without_profession_is_refused() {
        assert_eq!(
            "00.015".parse::<RoleCode>(),
            Err(RoleCodeError::SpecialismWithoutProfession)
        );
    }

    #[test]
    fn tables_have_no_duplicate_codes() {
        for (i, a) in PROFESSIONS.iter().enumerate() {
            assert!(PROFESSIONS[i + 1..].iter().all(|b| b.0 != a.0), "{a:?}");
        }
        for (i, a) in SPECIALISMS.iter().enumerate() {
            assert!(
                SPECIALISMS[i + 1..]
                    .iter()
                    .all(|b| (b.0, b.1) != (a.0, a.1)),
                "{a:?}"
            );
            assert!(PROFESSIONS.iter().any(|p| p.0 == a.0), "{a:?}");
        }
    }

    proptest! {
        #[test]
        fn display_then_parse_is_the_identity(s in "(0[1-9]|[1-9][0-9])\\.[0-9]{3}") {
            let role: RoleCode = s.parse().unwrap();
            prop_assert_eq!(role.to_string(), s.clone());
            prop_assert_eq!(role.to_string().parse::<RoleCode>(), Ok(role));
            prop_assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{s}\""));
        }
    }

    #[test]
    fn the_role_of_no_profession_is_written_too() {
        let none: RoleCode = "00.000".parse().unwrap();
        assert_eq!(none.to_string(), "00.000");
        assert_eq!(serde_json::to_string(&none).unwrap(), "\"00.000\"");
    }
}
