//! Refusals: why a practitioner gets no further, in Dutch, with what to do and whom to call,
//! the time and a reference number; and the operators' log line for each (never patient
//! data).

use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use zvp_audit::event::PatientRef;
use zvp_auth::policy::DenyReason;
use zvp_auth::uzi::UziError;

use crate::Portal;
use crate::caller::Caller;
use crate::layout::{self, html_response, page};

/// The refusal when the audit log cannot take a record, with one line in the application log
/// for the operators (the reference the user sees, the log's error; never patient data).
pub(crate) fn audit_unavailable(caller: &Caller, error: &zvp_audit::log::LogError) -> Refusal {
    tracing::error!(
        event = "audit-unavailable",
        reference = %reference(&caller.request_id),
        error = %error
    );
    Refusal::Unavailable
}

/// One line in the application log for a refusal: the reference number the user sees, the code,
/// and the UZI number when known — never patient data.
pub(crate) fn log_refusal(request_id: &str, code: &str, uzi: Option<&str>) {
    tracing::warn!(
        event = "refusal",
        reference = %reference(request_id),
        code,
        uzi = uzi.unwrap_or("")
    );
}

/// The reference number a user quotes to the help desk: the request id's first eight
/// characters, upper case.
pub(crate) fn reference(request_id: &str) -> String {
    request_id
        .chars()
        .take(8)
        .collect::<String>()
        .to_uppercase()
}

/// Why a practitioner gets no further than a refusal page.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The certificate is not a valid UZI-pas authentication certificate.
    Certificate(UziError),
    /// No account for this UZI number.
    NoAccount,
    /// The account request is waiting.
    Pending,
    /// The account request was rejected.
    Rejected,
    /// The account is blocked.
    Blocked,
    /// The account was locked for not being used.
    Dormant,
    /// The AGB code on the card is not the account's.
    AgbMismatch,
    /// The role on the card may not use the clinical pages.
    RoleNotEligible,
    /// An administrator page for a non-administrator, or the other way round.
    NotHere,
    /// The portal cannot answer now (directory or audit log down).
    Unavailable,
    /// The patient objected to their record being shared.
    PatientObjection,
    /// The EPD did not give what the page needs.
    Epd(EpdProblem),
    /// The card made more requests than its rate allows (`throttle`).
    Throttled,
}

/// Why the EPD did not give what a page needs, as the help desk tells the causes apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EpdProblem {
    /// Down, unreachable or overloaded.
    Unreachable,
    /// Not within the configured time.
    Timeout,
    /// The portal could not authenticate to it (token endpoint, credentials, key).
    Authentication,
    /// The TLS connection failed (certificate not trusted, client certificate refused).
    Tls,
    /// It answered something the portal cannot read, or refused the request.
    Answer,
    /// It does not give this part of the record at all (an `Epd` without the method).
    NotProvided,
}

impl EpdProblem {
    pub(crate) fn of(error: &zvp_epd::EpdError) -> Self {
        use zvp_epd::EpdError as E;
        match error {
            E::Unavailable(_) | E::NotFound(_) => Self::Unreachable,
            E::Timeout => Self::Timeout,
            E::Authentication(zvp_epd::auth::AuthError::Tls { .. }) | E::Tls(_) => Self::Tls,
            E::Authentication(_) => Self::Authentication,
            E::Malformed(_) | E::TooLarge(_) | E::Refused(_) => Self::Answer,
            E::NotProvided(_) => Self::NotProvided,
            // A cause this version does not know: nothing is shown, and the help desk is asked
            // to look at it, as for an answer the portal cannot read.
            _ => Self::Answer,
        }
    }
}

/// The refusal when the EPD failed a page, with one line in the application log for the operators:
/// the reference the user sees and the adapter's error. `FhirEpd`'s errors name URLs, HTTP
/// statuses, OAuth error codes and FHIR elements, never record content (a malformed answer is
/// named by the resource type and element, without the values).
pub(crate) fn epd_failed(request_id: &str, error: &zvp_epd::EpdError) -> Refusal {
    tracing::error!(
        event = "epd-error",
        reference = %reference(request_id),
        error = %error
    );
    Refusal::Epd(EpdProblem::of(error))
}

impl Refusal {
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::Certificate(e) => e.code(),
            Self::NoAccount => "no-account",
            Self::Pending => "account-pending",
            Self::Rejected => "account-rejected",
            Self::Blocked => "account-blocked",
            Self::Dormant => "account-dormant",
            Self::AgbMismatch => "agb-mismatch",
            Self::RoleNotEligible => "role-not-eligible",
            Self::NotHere => "not-permitted",
            Self::PatientObjection => "patient-objection",
            Self::Unavailable => "unavailable",
            Self::Epd(EpdProblem::Unreachable) => "epd-unavailable",
            Self::Epd(EpdProblem::Timeout) => "epd-timeout",
            Self::Epd(EpdProblem::Authentication) => "epd-authentication",
            Self::Epd(EpdProblem::Tls) => "epd-tls",
            Self::Epd(EpdProblem::Answer) => "epd-answer",
            Self::Epd(EpdProblem::NotProvided) => "epd-not-provided",
            Self::Throttled => "too-many-requests",
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            // Not an outage: this EPD does not give that part.
            Self::Epd(EpdProblem::NotProvided) => StatusCode::NOT_IMPLEMENTED,
            Self::Unavailable | Self::Epd(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Throttled => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::FORBIDDEN,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::Certificate(_) => "Inloggen met uw UZI-pas is niet gelukt",
            Self::NoAccount => "U heeft nog geen account",
            Self::Pending => "Uw accountaanvraag is in behandeling",
            Self::Rejected => "Uw accountaanvraag is afgewezen",
            Self::Blocked => "Uw account is geblokkeerd",
            Self::Dormant => "Uw account is vergrendeld",
            Self::AgbMismatch => "De AGB-code op uw pas past niet bij uw account",
            Self::RoleNotEligible => "Uw rol geeft geen toegang tot het portaal",
            Self::NotHere => "Geen toegang tot deze pagina",
            Self::PatientObjection => {
                "De patiënt heeft bezwaar gemaakt tegen het delen van gegevens"
            }
            Self::Unavailable => "Het portaal is tijdelijk niet beschikbaar",
            Self::Epd(EpdProblem::NotProvided) => "Dit onderdeel levert het ziekenhuisdossier niet",
            Self::Epd(_) => "Het ziekenhuisdossier is tijdelijk niet beschikbaar",
            Self::Throttled => "Te veel verzoeken in korte tijd",
        }
    }

    /// The advice when one section of a page failed and the rest is shown.
    fn section_advice(&self) -> &'static str {
        match self {
            Self::Epd(EpdProblem::Unreachable | EpdProblem::Timeout) => {
                "Het elektronisch patiëntendossier (EPD) van het ziekenhuis geeft nu geen \
                 antwoord. Van dit onderdeel is niets getoond; probeer het over enkele minuten \
                 opnieuw."
            }
            Self::Epd(EpdProblem::Authentication | EpdProblem::Tls) => {
                "De beveiligde koppeling met het elektronisch patiëntendossier (EPD) van het \
                 ziekenhuis werkt nu niet. Van dit onderdeel is niets getoond; het ziekenhuis \
                 is hierover geïnformeerd."
            }
            Self::Epd(EpdProblem::Answer) => {
                "Het elektronisch patiëntendossier (EPD) gaf voor dit onderdeel een antwoord \
                 dat het portaal niet kan lezen. Van dit onderdeel is niets getoond; meld het \
                 met het referentienummer."
            }
            Self::Epd(EpdProblem::NotProvided) => {
                "Heeft u deze gegevens nodig, vraag ze dan op bij het ziekenhuis."
            }
            other => other.advice(),
        }
    }

    fn advice(&self) -> &'static str {
        match self {
            Self::Certificate(e) => e.advice_nl(),
            Self::NoAccount => {
                "Het portaal is voor huisartsen, specialisten ouderengeneeskunde en artsen \
                 verstandelijk gehandicapten met een account. U kunt hieronder een account \
                 aanvragen; uw gegevens worden van uw UZI-pas overgenomen."
            }
            Self::Pending => {
                "Het ziekenhuis beoordeelt uw aanvraag. U krijgt bericht zodra uw account is \
                 geactiveerd."
            }
            Self::Rejected => {
                "Het ziekenhuis heeft uw aanvraag afgewezen. Neem contact op als u denkt dat dit \
                 niet klopt."
            }
            Self::Blocked => {
                "Uw account is door het ziekenhuis geblokkeerd, bijvoorbeeld na melding van een \
                 verloren of gestolen pas. Neem contact op om uw account te laten deblokkeren."
            }
            Self::Dormant => {
                "U heeft lange tijd niet ingelogd; daarom is uw account uit voorzorg vergrendeld. \
                 Neem contact op om het weer te laten openen."
            }
            Self::AgbMismatch => {
                "De AGB-code op uw UZI-pas is een andere dan de persoonlijke AGB-code van uw \
                 account. Let op: dit moet uw persoonlijke AGB-code zijn, niet die van de \
                 praktijk. Neem contact op om uw account aan te laten passen."
            }
            Self::RoleNotEligible => {
                "Het portaal is alleen toegankelijk voor huisartsen, specialisten \
                 ouderengeneeskunde en artsen verstandelijk gehandicapten. Volgens uw UZI-pas \
                 heeft u een andere rol; huisartsen in opleiding komen niet in aanmerking."
            }
            Self::NotHere => "Deze pagina is niet bedoeld voor uw account.",
            Self::PatientObjection => {
                "Deze patiënt heeft het ziekenhuis laten weten dat zijn of haar gegevens niet met \
                 zorgverleners buiten het ziekenhuis gedeeld mogen worden. Het portaal toont \
                 daarom niets uit dit dossier, ook niet via de noodprocedure. Heeft u gegevens \
                 nodig, neem dan contact op met de behandelend specialist in het ziekenhuis."
            }
            Self::Unavailable => {
                "Door een storing kan het portaal uw verzoek nu niet veilig afhandelen. Er zijn \
                 geen gegevens getoond. Probeer het over enkele minuten opnieuw."
            }
            Self::Epd(EpdProblem::Unreachable | EpdProblem::Timeout) => {
                "Het portaal krijgt nu geen antwoord van het elektronisch patiëntendossier (EPD) \
                 van het ziekenhuis. Er zijn geen gegevens getoond. Probeer het over enkele \
                 minuten opnieuw."
            }
            Self::Epd(EpdProblem::Authentication | EpdProblem::Tls) => {
                "De beveiligde koppeling tussen het portaal en het elektronisch patiëntendossier \
                 (EPD) van het ziekenhuis werkt nu niet. Er zijn geen gegevens getoond. Het \
                 ziekenhuis is hierover geïnformeerd; meld het gerust met het referentienummer."
            }
            Self::Epd(EpdProblem::Answer) => {
                "Het elektronisch patiëntendossier (EPD) gaf een antwoord dat het portaal niet \
                 kan lezen. Er zijn geen gegevens getoond. Meld het met het referentienummer."
            }
            Self::Epd(EpdProblem::NotProvided) => {
                "Het elektronisch patiëntendossier (EPD) van dit ziekenhuis levert dit onderdeel \
                 niet aan het portaal. Heeft u deze gegevens nodig, vraag ze dan op bij het \
                 ziekenhuis."
            }
            Self::Throttled => {
                "Het portaal kreeg in korte tijd zeer veel verzoeken met uw UZI-pas en neemt er \
                 daarom even geen aan. Er zijn geen gegevens getoond. Probeer het over een \
                 minuut opnieuw. Gebruikt u geen programma dat het portaal automatisch \
                 bevraagt, neem dan contact op met het ziekenhuis."
            }
        }
    }
}

/// In place of a section the EPD did not give: that it could not be read, why in the
/// section's words, and the reference and code to quote; the refusal is logged as for a
/// refusal page.
pub(crate) fn section_failure(label: &str, refusal: &Refusal, caller: &Caller) -> Markup {
    log_refusal(
        &caller.request_id,
        refusal.code(),
        Some(&caller.account.uzi.to_string()),
    );
    let lead = if matches!(refusal, Refusal::Epd(EpdProblem::NotProvided)) {
        format!("{label}: dit onderdeel levert het ziekenhuisdossier niet aan het portaal.")
    } else {
        format!("{label} kon niet uit het ziekenhuisdossier worden gelezen.")
    };
    html! {
        section.refusal role="alert" {
            p { strong { (lead) } " " (refusal.section_advice()) }
            p.muted {
                "Referentienummer " strong { (reference(&caller.request_id)) }
                ", code " (refusal.code())
            }
        }
    }
}

/// The refusal page: what happened, what to do, whom to contact, the time and a reference
/// number that the help desk finds in the portal's log (help desks ask for a screenshot with
/// the time for exactly this).
pub(crate) fn refusal_page(portal: &Portal, refusal: &Refusal, request_id: &str) -> Response {
    let settings = portal.settings();
    let now = portal.now();
    let body = html! {
        section.refusal {
            h1 { (refusal.title()) }
            p { (refusal.advice()) }
            @if matches!(refusal, Refusal::NoAccount) {
                p { a href="/account/aanvragen" { "Account aanvragen" } }
            }
            (help(portal, request_id, refusal.code()))
        }
    };
    html_response(
        refusal.status(),
        page(&settings.hospital, refusal.title(), None, now, body),
    )
}

/// What every refusal page ends with: whom to ask, and the reference number, time and code
/// to quote.
pub(crate) fn help(portal: &Portal, request_id: &str, code: &str) -> Markup {
    let settings = portal.settings();
    html! {
        p {
            "Vragen? Neem contact op met " (settings.contact_name) ": "
            a href={ "mailto:" (settings.contact_email) } { (settings.contact_email) }
            ", telefoon " (settings.contact_phone)
            ". Vermeld het referentienummer en het tijdstip."
        }
        dl {
            dt { "Referentienummer" } dd { strong { (reference(request_id)) } }
            dt { "Tijdstip" } dd { (layout::dutch_time(portal.now())) }
            dt { "Code" } dd { (code) }
        }
    }
}

/// The refusal for a policy's reason.
pub(crate) fn deny_refusal(reason: DenyReason) -> Refusal {
    match reason {
        DenyReason::NoAccount => Refusal::NoAccount,
        DenyReason::AccountPending => Refusal::Pending,
        DenyReason::AccountRejected => Refusal::Rejected,
        DenyReason::AccountBlocked => Refusal::Blocked,
        DenyReason::AgbMismatch => Refusal::AgbMismatch,
        DenyReason::RoleNotEligible => Refusal::RoleNotEligible,
        DenyReason::NotAdministrator | DenyReason::UnknownPatient => Refusal::NotHere,
        DenyReason::PatientObjection => Refusal::PatientObjection,
    }
}

/// Logs the refusal, records it in the audit log and gives its page, for a caller.
pub(crate) async fn refuse(portal: &Portal, caller: &Caller, refusal: &Refusal) -> Response {
    refuse_about(portal, caller, refusal, None).await
}

/// As [`refuse`], for a refusal about a patient: the record names them. The page is sent only
/// once its record is durable; if the log cannot take it, the "tijdelijk niet beschikbaar"
/// page comes instead (a log known to refuse is not asked again).
pub(crate) async fn refuse_about(
    portal: &Portal,
    caller: &Caller,
    refusal: &Refusal,
    patient: Option<PatientRef>,
) -> Response {
    log_refusal(
        &caller.request_id,
        refusal.code(),
        Some(&caller.account.uzi.to_string()),
    );
    if portal.0.audit.refusing().is_some() {
        return refusal_page(portal, &Refusal::Unavailable, &caller.request_id);
    }
    match portal.record_refusal(caller, refusal, patient).await {
        Ok(_) => refusal_page(portal, refusal, &caller.request_id),
        Err(unavailable) => refusal_page(portal, &unavailable, &caller.request_id),
    }
}
