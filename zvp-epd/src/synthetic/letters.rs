//! The synthetic hospital's letters: outpatient letters from over the years (some from
//! before the EPD migration), earlier discharge letters, and for a patient discharged from
//! their latest admission its discharge letter, tied to that admission and written as a
//! specialist writes one.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use zvp_core::{Admission, DocumentId, Letter, Patient};

use super::{Rng, WARDS, plausible};

/// What a ward writes about an admission: history, course, advice to the GP.
fn ward_text(specialism: &str) -> (&'static str, &'static str, &'static str) {
    match specialism {
        "Cardiologie" => (
            "Sinds enkele dagen toenemende dyspneu d'effort en orthopneu, gewichtstoename van 3 kg en oedeem aan beide enkels.",
            "Behandeld met intraveneuze diuretica met goed effect: gewicht 3,5 kg afgenomen, oedeem verdwenen. Echocardiografie: LVEF 40%. Nierfunctie stabiel.",
            "Graag dagelijks wegen; bij een gewichtstoename van meer dan 2 kg in 3 dagen contact met de hartfalenpolikliniek. Kalium en kreatinine over 1 week controleren.",
        ),
        "Longziekten" => (
            "Toenemende benauwdheid en hoesten met purulent sputum sinds vijf dagen, koorts tot 38,6 °C.",
            "Behandeld met zuurstof, vernevelingen en prednisolon; antibiotica op geleide van de sputumkweek. Snel herstel, bij ontslag saturatie 94% zonder zuurstof.",
            "Prednisolonkuur afmaken; graag na 2 weken beoordelen of de klachten verdwenen zijn. Longrevalidatie aangevraagd.",
        ),
        "Chirurgie" => (
            "Acute buikpijn, eerst rond de navel, later rechtsonder, met misselijkheid en koorts.",
            "Laparoscopische ingreep zonder complicaties. Postoperatief vlot herstel, wond rustig.",
            "Hechtingen na 10 dagen verwijderen door de praktijkassistente. Bij koorts of toenemende pijn contact met de SEH.",
        ),
        "Geriatrie" => (
            "Sinds enkele dagen verward en onrustig, verminderde intake, twee keer gevallen thuis.",
            "Delier op basis van een urineweginfectie, behandeld met antibiotica en niet-medicamenteuze maatregelen. Fysiotherapie en ergotherapie betrokken; mobiliteit verbeterd.",
            "Thuiszorg is gestart. Graag over 2 weken een huisbezoek ter evaluatie van cognitie en mobiliteit.",
        ),
        "Neurologie" => (
            "Plotseling ontstane krachtsverlies en spraakstoornis, binnen twee uur gepresenteerd op de SEH.",
            "CT-angiografie zonder occlusie; gestart met secundaire preventie. Neurologische uitval grotendeels hersteld, logopedie betrokken.",
            "Bloeddruk streven onder 140/90 mmHg. Graag cholesterol over 3 maanden controleren.",
        ),
        _ => (
            "Koorts met koude rillingen en pijn in de flank, verminderde intake.",
            "Behandeld met intraveneuze antibiotica, op geleide van de kweken omgezet naar orale therapie. Snel herstel van de ontstekingswaarden.",
            "Antibioticakuur afmaken. Graag na afloop de nierfunctie controleren.",
        ),
    }
}

/// The letters of a patient, oldest first; the discharge letter of the latest admission last.
pub(super) fn letters(
    rng: &mut Rng,
    now: DateTime<Utc>,
    index: usize,
    admission: Option<&Admission>,
) -> Vec<Letter> {
    let id = |n: u64| -> DocumentId {
        format!("doc-{index}-{n}")
            .parse()
            .unwrap_or_else(|_| unreachable!("a valid id"))
    };
    let count = 1 + rng.below(4);
    let mut letters: Vec<Letter> = (0..count)
        .map(|n| {
            // Some letters date from before the 2017 EPD migration; none from the last months.
            let days = 90 + rng.below(11 * 365) as i64;
            let (specialism, _) = rng.pick(&WARDS).copied().unwrap_or(WARDS[0]);
            let discharge = rng.chance(30);
            let kind = if discharge {
                "Ontslagbrief"
            } else {
                "Poliklinische brief"
            };
            Letter {
                id: id(n),
                date: now.date_naive() - Duration::days(days),
                title: format!("{kind} {}", specialism.to_lowercase()),
                author: plausible::doctor(rng),
                specialism: specialism.to_owned(),
                discharge,
                admission: None,
            }
        })
        .collect();
    if let Some(a) = admission
        && let Some(end) = a.discharged_at()
    {
        letters.push(Letter {
            id: id(count),
            date: end.date_naive(),
            title: format!("Ontslagbrief {}", a.specialism.to_lowercase()),
            author: a
                .specialist
                .clone()
                .unwrap_or_else(|| plausible::doctor(rng)),
            specialism: a.specialism.clone(),
            discharge: true,
            admission: Some(a.period),
        });
    }
    letters.sort_by_key(|l| l.date);
    letters
}

fn date(d: NaiveDate) -> String {
    d.format("%d-%m-%Y").to_string()
}

/// The text of a letter, structured as the hospital writes it.
pub(super) fn text(patient: &Patient, letter: &Letter, admission: Option<&Admission>) -> String {
    let name = patient.name.to_string();
    let born = date(patient.birth_date);
    let specialism = letter.specialism.to_lowercase();
    let (history, course, advice) = ward_text(&letter.specialism);
    let concluded = admission.filter(|a| letter.concludes(a.admitted_at()));
    match concluded {
        Some(a) => {
            let reason = a.reason.as_deref().unwrap_or("Zie conclusie");
            let end = a
                .discharged_at()
                .map_or_else(String::new, |e| date(e.date_naive()));
            format!(
                "Geachte collega,\n\n\
                 Hierbij berichten wij u over uw patiënt(e) {name}, geboren {born}, die van {} tot {end} \
                 was opgenomen op de afdeling {}.\n\n\
                 Reden van opname\n{reason}.\n\n\
                 Anamnese\n{history}\n\n\
                 Beloop\n{course}\n\n\
                 Conclusie\n{reason}, hersteld; in goede conditie ontslagen naar huis.\n\n\
                 Medicatie\nDe wijzigingen (gestart, gewijzigd, gestopt) staan in het medicatieoverzicht \
                 van het portaal; de apotheek heeft het ontslagoverzicht ontvangen.\n\n\
                 Beleid en afspraken\n- {advice}\n- Controle op de polikliniek {specialism} over 6 weken.\n\n\
                 Met collegiale groet,\n\n{}\n{}",
                date(a.admitted_at().date_naive()),
                a.ward,
                letter.author,
                letter.specialism,
            )
        }
        None if letter.discharge => format!(
            "Geachte collega,\n\n\
             Uw patiënt(e) {name}, geboren {born}, was opgenomen op de afdeling {specialism}.\n\n\
             Anamnese\n{history}\n\n\
             Beloop\n{course}\n\n\
             Beleid\n{advice}\n\n\
             Met collegiale groet,\n\n{}\n{}",
            letter.author, letter.specialism,
        ),
        None => format!(
            "Geachte collega,\n\n\
             Op {} zagen wij uw patiënt(e) {name}, geboren {born}, op de polikliniek {specialism}.\n\n\
             Reden van verwijzing\nBeoordeling en beleid.\n\n\
             Bevindingen\nStabiel beeld sinds de vorige controle; lichamelijk onderzoek zonder nieuwe afwijkingen.\n\n\
             Conclusie\nStabiel; geen aanpassing van de behandeling nodig.\n\n\
             Beleid\nControle over zes maanden, met laboratoriumonderzoek vooraf.\n\n\
             Met collegiale groet,\n\n{}\n{}",
            date(letter.date),
            letter.author,
            letter.specialism,
        ),
    }
}
