//! The TLS settings of a libpq connection string, taken out before tokio-postgres reads the
//! rest: tokio-postgres knows `sslmode` only as `disable`, `prefer` and `require`, and
//! refuses `verify-ca`, `verify-full` and `sslrootcert` as unknown, while a connection
//! string written for libpq (psql, the operators' tools) uses them.

use percent_encoding::percent_decode_str;

/// The keys this crate reads itself.
const OWN_KEYS: [&str; 2] = ["sslmode", "sslrootcert"];

/// A connection string without [`OWN_KEYS`], and the values those had (the last one of a key
/// given twice, as libpq takes it).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Split {
    /// The rest, for tokio-postgres.
    pub(crate) rest: String,
    /// `sslmode`'s value.
    pub(crate) sslmode: Option<String>,
    /// `sslrootcert`'s value.
    pub(crate) sslrootcert: Option<String>,
}

impl Split {
    fn take(&mut self, key: &str, value: String) {
        match key {
            "sslmode" => self.sslmode = Some(value),
            _ => self.sslrootcert = Some(value),
        }
    }
}

/// Splits `config`, in either of libpq's forms: `key=value` pairs or a `postgresql://` URI.
/// What cannot be read is left in the rest, for tokio-postgres to refuse with its own reason.
pub(crate) fn split(config: &str) -> Split {
    if config.starts_with("postgres://") || config.starts_with("postgresql://") {
        split_uri(config)
    } else {
        split_pairs(config)
    }
}

fn split_uri(config: &str) -> Split {
    let mut split = Split::default();
    let Some((base, query)) = config.split_once('?') else {
        split.rest = config.to_owned();
        return split;
    };
    let mut kept = Vec::new();
    for param in query.split('&') {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        let key_text = percent_decode_str(key).decode_utf8_lossy();
        if OWN_KEYS.contains(&key_text.as_ref()) {
            let value = percent_decode_str(value).decode_utf8_lossy().into_owned();
            split.take(&key_text, value);
        } else {
            kept.push(param);
        }
    }
    split.rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    split
}

/// `key = value` pairs separated by white space; a value is either quoted (`'...'`, with `\'`
/// and `\\` inside) or runs to the next white space (with `\` escaping the next character),
/// as libpq reads them.
fn split_pairs(config: &str) -> Split {
    let mut split = Split::default();
    let mut rest = String::with_capacity(config.len());
    let mut chars = config.char_indices().peekable();
    let mut kept_from = 0;
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            // Not a pair: left for tokio-postgres to refuse.
            split.rest = config.to_owned();
            split.sslmode = None;
            split.sslrootcert = None;
            return split;
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '\'').is_some() {
            while let Some((_, c)) = chars.next() {
                match c {
                    '\'' => break,
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    c => value.push(c),
                }
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    c => value.push(c),
                }
            }
        }
        let end = chars.peek().map_or(config.len(), |&(at, _)| at);
        if OWN_KEYS.contains(&key.as_str()) {
            rest.push_str(config.get(kept_from..start).unwrap_or_default());
            kept_from = end;
            split.take(&key, value);
        }
    }
    rest.push_str(config.get(kept_from..).unwrap_or_default());
    split.rest = rest;
    split
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "test code: a failed expectation should panic"
)]
mod tests {
    use super::*;

    fn parts(config: &str) -> (String, Option<String>, Option<String>) {
        let split = split(config);
        (split.rest, split.sslmode, split.sslrootcert)
    }

    #[test]
    fn pairs_lose_the_tls_keys_and_keep_the_rest() {
        let (rest, mode, root) = parts(
            "host=db sslmode=verify-full port=5433 sslrootcert = '/etc/zvp/pg ca.pem' user=zvp",
        );
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/etc/zvp/pg ca.pem"));
        let config: tokio_postgres::Config = rest.parse().unwrap();
        assert_eq!(config.get_ports(), [5433]);
        assert_eq!(config.get_user(), Some("zvp"));
        assert_eq!(
            parts(r"password='it\'s' sslrootcert=/a\ b sslmode=require"),
            (
                r"password='it\'s'  ".to_owned(),
                Some("require".to_owned()),
                Some("/a b".to_owned())
            )
        );
        // The last of a key given twice counts.
        assert_eq!(
            parts("sslmode=disable host=db sslmode=verify-ca")
                .1
                .as_deref(),
            Some("verify-ca")
        );
        assert_eq!(parts("host=db").0, "host=db");
        // Not a pair: left whole, for tokio-postgres to refuse.
        assert_eq!(
            parts("host sslmode=require"),
            ("host sslmode=require".to_owned(), None, None)
        );
    }

    #[test]
    fn uris_lose_the_tls_parameters_and_keep_the_rest() {
        assert_eq!(
            parts(
                "postgresql://zvp@db:5433/zvp?sslmode=verify-full&application_name=portal&sslrootcert=%2Fetc%2Fca.pem"
            ),
            (
                "postgresql://zvp@db:5433/zvp?application_name=portal".to_owned(),
                Some("verify-full".to_owned()),
                Some("/etc/ca.pem".to_owned())
            )
        );
        assert_eq!(
            parts("postgres://db/zvp?sslmode=require").0,
            "postgres://db/zvp"
        );
        assert_eq!(parts("postgres://db/zvp").0, "postgres://db/zvp");
    }
}
