//! The GPs of the synthetic hospital's region: the demo GPs, whose cards the demo logs in
//! with, and the practices of the rest of its patients.

/// A GP of the synthetic hospital's region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gp {
    /// The GP's personal AGB code.
    pub agb: u32,
    /// The GP's name.
    pub name: &'static str,
    /// The practice's AGB code.
    pub practice_agb: u32,
    /// The practice's name.
    pub practice: &'static str,
}

/// The demo GPs, whose patients fill the demo's start page. Their AGB codes are those of the
/// demo cards of `zvp-portal testpki generate`.
pub const DEMO_GPS: [Gp; 4] = [
    Gp {
        agb: 1_012_345,
        name: "J. de Vries",
        practice_agb: 1_900_001,
        practice: "Huisartsenpraktijk De Linde",
    },
    Gp {
        agb: 1_012_346,
        name: "F. Yılmaz",
        practice_agb: 1_900_001,
        practice: "Huisartsenpraktijk De Linde",
    },
    Gp {
        agb: 1_012_347,
        name: "A. Jansen",
        practice_agb: 1_900_002,
        practice: "Zorgcentrum Merwestein",
    },
    Gp {
        agb: 1_012_348,
        name: "P. van den Berg",
        practice_agb: 1_900_003,
        practice: "Stichting De Merwelanden",
    },
];

/// The GPs of the region: the demo GPs, and three more per practice for every 1,500 patients.
pub(super) fn region(size: usize) -> Vec<Gp> {
    const NAMES: [&str; 9] = [
        "K. Bakker",
        "M. Visser",
        "S. Smit",
        "T. Meijer",
        "R. de Boer",
        "E. Mulder",
        "H. de Groot",
        "L. Bos",
        "N. Vos",
    ];
    const PRACTICES: [&str; 6] = [
        "Huisartsenpraktijk Stadspolders",
        "Gezondheidscentrum Sterrenburg",
        "Huisartsen Krispijn",
        "Praktijk Reeland",
        "Huisartsen Wielwijk",
        "Medisch Centrum Dubbeldam",
    ];
    let mut gps = DEMO_GPS.to_vec();
    let practices = size.div_ceil(1_500).max(1);
    for p in 0..practices {
        for g in 0..3 {
            let n = (p * 3 + g) as u32;
            gps.push(Gp {
                agb: 1_020_000 + n,
                name: NAMES
                    .get(n as usize % NAMES.len())
                    .copied()
                    .unwrap_or("K. Bakker"),
                practice_agb: 1_910_000 + p as u32,
                practice: PRACTICES
                    .get(p % PRACTICES.len())
                    .copied()
                    .unwrap_or("Huisartsenpraktijk"),
            });
        }
    }
    gps
}
