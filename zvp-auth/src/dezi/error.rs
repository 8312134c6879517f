//! Why a Dezi login was refused: one variant per cause, each with a stable code and a Dutch
//! sentence for the practitioner, like [`UziError`](crate::uzi::UziError).

use chrono::{DateTime, Utc};
use serde::Serialize;
use zvp_core::RoleCode;

/// Which of the tokens of a Dezi login an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Token {
    /// The OpenID Connect id_token from the token endpoint.
    IdToken,
    /// The userinfo answer: a JWE around the envelope, or (acceptance) the envelope itself.
    Userinfo,
    /// The signed envelope inside the userinfo.
    Envelope,
    /// The verklaring (the care identity statement) inside the envelope.
    Verklaring,
    /// The signed revocation list.
    RevocationList,
}

impl Token {
    /// A stable lower-case name, for codes and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Self::IdToken => "id-token",
            Self::Userinfo => "userinfo",
            Self::Envelope => "envelope",
            Self::Verklaring => "verklaring",
            Self::RevocationList => "revocation-list",
        }
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a Dezi login does not yield a verified identity, or a session ends.
///
/// [`code`](Self::code) is a stable machine code for logs, the audit trail and tests;
/// [`advice_nl`](Self::advice_nl) is the Dutch sentence the portal shows. `Display` gives a
/// precise English description for operators.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeziError {
    // --- the flow ------------------------------------------------------------------------
    /// The `state` of the callback is not the one this browser's login started with.
    #[error("the callback's state does not match the login's")]
    StateMismatch,
    /// The callback carries an OAuth error instead of a code (the user cancelled, ...).
    #[error("the platform answered the authorization with error {error:?}")]
    AuthorizationDenied {
        /// The OAuth `error` parameter.
        error: String,
    },
    /// The token endpoint refused the code: used before, expired, or not issued for this
    /// verifier or redirect URI (`invalid_grant`).
    #[error("the token endpoint refused the authorization code: {error}")]
    CodeRefused {
        /// The OAuth `error` of the token endpoint.
        error: String,
    },
    /// The platform could not be reached, or did not answer in time.
    #[error("the Dezi platform is unreachable: {detail}")]
    PlatformUnreachable {
        /// What failed.
        detail: String,
    },
    /// The platform answered, but not as the protocol says (status, type, size, JSON).
    #[error("unexpected answer from the Dezi platform: {detail}")]
    PlatformAnswer {
        /// What was wrong.
        detail: String,
    },

    // --- JOSE ----------------------------------------------------------------------------
    /// A token is not a well-formed compact JWS or JWE.
    #[error("malformed {token}: {detail}")]
    Malformed {
        /// Which token.
        token: Token,
        /// What is wrong.
        detail: String,
    },
    /// A token uses an algorithm that is not accepted (`none`, HS256, ...): only RS256
    /// signatures and RSA-OAEP with A256CBC-HS512 encryption are.
    #[error("the {token} uses algorithm {alg:?}, which is not accepted")]
    AlgorithmNotAccepted {
        /// Which token.
        token: Token,
        /// The header's `alg` (or `enc`).
        alg: String,
    },
    /// A token has a `crit` header: no extension is understood, so none may be critical.
    #[error("the {token} has critical header parameters")]
    CriticalHeader {
        /// Which token.
        token: Token,
    },
    /// No key of the issuer has the token's `kid` (also after fetching the keys again).
    #[error("no key with kid {kid:?} for the {token}")]
    UnknownKey {
        /// Which token.
        token: Token,
        /// The header's `kid`.
        kid: Option<String>,
    },
    /// The signature does not verify with the key.
    #[error("the signature of the {token} does not verify")]
    BadSignature {
        /// Which token.
        token: Token,
    },
    /// The userinfo JWE is not encrypted to this portal's key, or its integrity tag does not
    /// verify: one error for both, so that which one failed is no oracle (RFC 7516 §11.5).
    #[error("the userinfo JWE cannot be decrypted with this portal's key")]
    NotForThisPortal,
    /// The userinfo JWE's tag verified but its content does not decrypt.
    #[error("the userinfo JWE's integrity tag does not verify")]
    JweIntegrity,
    /// The JWE's content is not a JWT (`cty` is not `JWT`).
    #[error("the userinfo JWE's content type is {cty:?}, not JWT")]
    JweContentType {
        /// The header's `cty`.
        cty: Option<String>,
    },
    /// A plain signed userinfo where an encrypted one is required (production).
    #[error("the userinfo is signed but not encrypted, and only encrypted userinfo is accepted")]
    UserinfoNotEncrypted,

    // --- claims --------------------------------------------------------------------------
    /// A required claim is missing or of the wrong type.
    #[error("the {token} lacks a valid {claim:?} claim")]
    MissingClaim {
        /// Which token.
        token: Token,
        /// The claim.
        claim: &'static str,
    },
    /// `iss` is not the configured issuer.
    #[error("the {token} was issued by {found:?}, not by the configured issuer")]
    IssuerMismatch {
        /// Which token.
        token: Token,
        /// The `iss` found.
        found: String,
    },
    /// `aud` (or `azp`) does not name this portal.
    #[error("the {token} is meant for {found:?}, not for this portal")]
    AudienceMismatch {
        /// Which token.
        token: Token,
        /// The `aud` (or `azp`) found.
        found: String,
    },
    /// `exp` is before now.
    #[error("the {token} expired at {exp}")]
    Expired {
        /// Which token.
        token: Token,
        /// Its `exp`.
        exp: DateTime<Utc>,
    },
    /// `nbf` (or `iat`) is after now.
    #[error("the {token} is not valid before {nbf}")]
    NotYetValid {
        /// Which token.
        token: Token,
        /// Its `nbf`.
        nbf: DateTime<Utc>,
    },
    /// The id_token's nonce is not the one the login sent.
    #[error("the id_token's nonce does not match the login's")]
    NonceMismatch,
    /// The envelope's level of assurance is below the configured floor.
    #[error("level of assurance {found:?} is below the required floor")]
    LoaTooLow {
        /// The envelope's `loa_authn`.
        found: String,
    },
    /// The verklaring's `verklaring_id` is not the envelope's.
    #[error("the verklaring's id {verklaring:?} differs from the envelope's {envelope:?}")]
    VerklaringIdMismatch {
        /// The envelope's `verklaring_id`.
        envelope: String,
        /// The verklaring's.
        verklaring: String,
    },
    /// The verklaring has no `jku` header.
    #[error("the verklaring has no jku header")]
    JkuMissing,
    /// The verklaring's `jku` is not on the configured allow-list.
    #[error("the verklaring's jku {jku:?} is not on the allow-list")]
    JkuNotAllowed {
        /// The header's `jku`.
        jku: String,
    },
    /// The keys the verklaring was checked with were fetched from another `jku` than the
    /// one its header names.
    #[error("the verklaring names jku {jku:?} but was checked with the keys of {keys_from:?}")]
    JkuKeysMismatch {
        /// The header's `jku`.
        jku: String,
        /// Where the keys came from.
        keys_from: String,
    },
    /// The verklaring names its revocation URL `status_uri` (the spec's example and the
    /// acceptance environment), where only `revocatie_controle_uri` is accepted.
    #[error("the verklaring names its revocation url status_uri, which is not accepted here")]
    StatusUriNotAccepted,
    /// A claim is present but not a valid value (a Dezi number, URA or role code).
    #[error("the {token} has an invalid {claim:?}: {detail}")]
    InvalidClaim {
        /// Which token.
        token: Token,
        /// The claim.
        claim: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The role in the verklaring is not eligible for the portal.
    #[error("role {role} is not eligible")]
    RoleNotEligible {
        /// The role.
        role: RoleCode,
    },

    // --- revocation ----------------------------------------------------------------------
    /// The verklaring is revoked (status not `actief`, or on the signed list).
    #[error("the verklaring {verklaring_id:?} is revoked")]
    Revoked {
        /// The revoked verklaring.
        verklaring_id: String,
    },
    /// The signed revocation list is older than its `ververs_tijdstip` allows.
    #[error("the revocation list should have been refreshed at {refresh_at}")]
    RevocationListStale {
        /// Its `ververs_tijdstip`.
        refresh_at: DateTime<Utc>,
    },
}

impl DeziError {
    /// The stable machine code of the error.
    pub fn code(&self) -> String {
        let fixed = match self {
            Self::StateMismatch => "state-mismatch",
            Self::AuthorizationDenied { .. } => "authorization-denied",
            Self::CodeRefused { .. } => "code-refused",
            Self::PlatformUnreachable { .. } => "platform-unreachable",
            Self::PlatformAnswer { .. } => "platform-answer",
            Self::NotForThisPortal => "jwe-not-for-this-portal",
            Self::JweIntegrity => "jwe-integrity",
            Self::JweContentType { .. } => "jwe-content-type",
            Self::UserinfoNotEncrypted => "userinfo-not-encrypted",
            Self::NonceMismatch => "nonce-mismatch",
            Self::LoaTooLow { .. } => "loa-too-low",
            Self::VerklaringIdMismatch { .. } => "verklaring-id-mismatch",
            Self::JkuMissing => "jku-missing",
            Self::JkuNotAllowed { .. } => "jku-not-allowed",
            Self::JkuKeysMismatch { .. } => "jku-keys-mismatch",
            Self::StatusUriNotAccepted => "status-uri-not-accepted",
            Self::RoleNotEligible { .. } => "role-not-eligible",
            Self::Revoked { .. } => "verklaring-revoked",
            Self::RevocationListStale { .. } => "revocation-list-stale",
            Self::Malformed { token, .. } => return format!("{token}-malformed"),
            Self::AlgorithmNotAccepted { token, .. } => {
                return format!("{token}-algorithm-not-accepted");
            }
            Self::CriticalHeader { token } => return format!("{token}-critical-header"),
            Self::UnknownKey { token, .. } => return format!("{token}-unknown-key"),
            Self::BadSignature { token } => return format!("{token}-bad-signature"),
            Self::MissingClaim { token, .. } => return format!("{token}-missing-claim"),
            Self::IssuerMismatch { token, .. } => return format!("{token}-issuer-mismatch"),
            Self::AudienceMismatch { token, .. } => return format!("{token}-audience-mismatch"),
            Self::Expired { token, .. } => return format!("{token}-expired"),
            Self::NotYetValid { token, .. } => return format!("{token}-not-yet-valid"),
            Self::InvalidClaim { token, .. } => return format!("{token}-invalid-claim"),
        };
        fixed.to_owned()
    }

    /// What the practitioner reads on the refusal page, in Dutch. The portal adds the
    /// hospital's contact details, the time and a reference number.
    pub const fn advice_nl(&self) -> &'static str {
        match self {
            Self::StateMismatch => {
                "Deze inlogpoging hoort niet bij uw browser, of is verlopen. Sluit dit venster, \
                 open het portaal opnieuw en kies \u{201c}Inloggen met Dezi\u{201d}."
            }
            Self::AuthorizationDenied { .. } => {
                "Het inloggen met Dezi is afgebroken of geweigerd. Probeer het opnieuw; kiest u \
                 liever de UZI-pas, dan kan dat ook."
            }
            Self::CodeRefused { .. } => {
                "Deze inlogpoging is al gebruikt of verlopen. Log opnieuw in met Dezi."
            }
            Self::PlatformUnreachable { .. } | Self::PlatformAnswer { .. } => {
                "Het Dezi-platform is nu niet bereikbaar, daardoor kunt u niet met Dezi \
                 inloggen. Probeer het later opnieuw, of log in met uw UZI-pas."
            }
            Self::Malformed { .. }
            | Self::AlgorithmNotAccepted { .. }
            | Self::CriticalHeader { .. }
            | Self::UnknownKey { .. }
            | Self::BadSignature { .. }
            | Self::JweIntegrity
            | Self::JweContentType { .. }
            | Self::MissingClaim { .. }
            | Self::IssuerMismatch { .. }
            | Self::InvalidClaim { .. } => {
                "De gegevens van Dezi konden niet worden gecontroleerd en worden daarom niet \
                 vertrouwd. Probeer het opnieuw; lukt het dan nog niet, neem contact op met het \
                 ziekenhuis en vermeld het referentienummer op deze pagina."
            }
            Self::NotForThisPortal | Self::UserinfoNotEncrypted | Self::AudienceMismatch { .. } => {
                "De gegevens van Dezi zijn niet voor dit portaal bestemd. Het ziekenhuis is \
                 hiervan op de hoogte gebracht; log voorlopig in met uw UZI-pas."
            }
            Self::Expired { .. } => {
                "Uw Dezi-verklaring of inlogbewijs is verlopen. Log opnieuw in met Dezi; is uw \
                 verklaring verlopen, vraag dan via uw organisatie een nieuwe aan."
            }
            Self::NotYetValid { .. } => {
                "Uw Dezi-verklaring is nog niet geldig. Probeer het opnieuw vanaf de \
                 ingangsdatum, of controleer of de datum en tijd van uw computer kloppen."
            }
            Self::NonceMismatch => {
                "Deze inlogpoging hoort niet bij uw browser. Sluit dit venster, open het portaal \
                 opnieuw en log in met Dezi."
            }
            Self::LoaTooLow { .. } => {
                "U heeft met een te laag betrouwbaarheidsniveau ingelogd. Het portaal vraagt \
                 niveau hoog: log in met een middel van dat niveau."
            }
            Self::VerklaringIdMismatch { .. }
            | Self::JkuMissing
            | Self::JkuNotAllowed { .. }
            | Self::JkuKeysMismatch { .. }
            | Self::StatusUriNotAccepted => {
                "Uw Dezi-verklaring is niet uitgegeven door een bron die dit portaal vertrouwt. \
                 Neem contact op met het ziekenhuis en vermeld het referentienummer op deze \
                 pagina."
            }
            Self::RoleNotEligible { .. } => {
                "Het portaal is alleen toegankelijk voor huisartsen, specialisten \
                 ouderengeneeskunde en artsen verstandelijk gehandicapten. Volgens uw \
                 Dezi-verklaring heeft u een andere rol; huisartsen in opleiding komen niet in \
                 aanmerking."
            }
            Self::Revoked { .. } => {
                "Uw Dezi-verklaring is ingetrokken. Heeft u dat niet zelf gedaan, neem dan \
                 contact op met uw organisatie en met het ziekenhuis."
            }
            Self::RevocationListStale { .. } => {
                "Of uw Dezi-verklaring nog geldig is, kan nu niet worden gecontroleerd. Probeer \
                 het later opnieuw, of log in met uw UZI-pas."
            }
        }
    }
}
