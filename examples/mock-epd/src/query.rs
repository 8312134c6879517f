//! The query of a search request, decoded as the mock reads it.

use zvp_core::PatientId;
use zvp_epd::EpdError;

/// The query of a request, decoded.
pub(crate) struct Query {
    pub(crate) params: Vec<(String, String)>,
}

/// A query value decoded as a form's: `+` is a space, `%XX` a byte; `None` unless UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Option<Self> {
        let mut params = Vec::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.push((percent_decode(name)?, value.to_owned()));
        }
        Some(Self { params })
    }

    /// The raw (still encoded) value of a parameter.
    pub(crate) fn raw(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The decoded value of a parameter.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.raw(name).and_then(percent_decode)
    }

    /// The decoded values of a comma-separated (OR) parameter.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.raw(name)
            .map(|v| v.split(',').filter_map(percent_decode).collect())
            .unwrap_or_default()
    }

    pub(crate) fn has(&self, name: &str, value: &str) -> bool {
        self.params
            .iter()
            .any(|(n, v)| n == name && percent_decode(v).as_deref() == Some(value))
    }

    /// The first parameter not in `allowed` (besides paging), if any.
    pub(crate) fn unsupported(&self, allowed: &[&str]) -> Option<&str> {
        self.params
            .iter()
            .map(|(n, _)| n.as_str())
            .find(|n| !allowed.contains(n) && !["_count", "_offset", "_format"].contains(n))
    }
}

/// `system|code`, or just `code`, of a token parameter.
pub(crate) fn token(value: &str) -> (Option<&str>, &str) {
    match value.rsplit_once('|') {
        Some((system, code)) => (Some(system).filter(|s| !s.is_empty()), code),
        None => (None, value),
    }
}

pub(crate) fn patient_param(q: &Query) -> Result<PatientId, EpdError> {
    let value = q
        .get("patient")
        .ok_or_else(|| EpdError::Refused("the patient parameter is required".to_owned()))?;
    let id = value.strip_prefix("Patient/").unwrap_or(&value);
    id.parse()
        .map_err(|_| EpdError::NotFound(format!("patient {value}")))
}
