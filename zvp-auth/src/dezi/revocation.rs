//! Whether a verklaring is still in force: the status endpoint's answer and the signed list.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{DeziError, Token};

/// Reads the answer of `GET /status/v1/verklaring/{verklaring_id}`: `200` with
/// `{"verklaringId": …, "status": "actief"}` is in force; `404` (an RFC 7807 body) or any
/// other status word is revoked.
///
/// # Errors
///
/// `Revoked`; `PlatformAnswer` for another HTTP status, a body that is not the status
/// object, or one about another verklaring.
pub fn status_answer(http_status: u16, body: &[u8], verklaring_id: &str) -> Result<(), DeziError> {
    let revoked = || DeziError::Revoked {
        verklaring_id: verklaring_id.to_owned(),
    };
    match http_status {
        200 => {}
        404 => return Err(revoked()),
        other => {
            return Err(DeziError::PlatformAnswer {
                detail: format!("status endpoint answered HTTP {other}"),
            });
        }
    }
    let answer: Map<String, Value> =
        serde_json::from_slice(body).map_err(|_| DeziError::PlatformAnswer {
            detail: "the status answer is not a JSON object".to_owned(),
        })?;
    let id = answer.get("verklaringId").and_then(Value::as_str);
    if id != Some(verklaring_id) {
        return Err(DeziError::PlatformAnswer {
            detail: "the status answer is about another verklaring".to_owned(),
        });
    }
    match answer.get("status").and_then(Value::as_str) {
        Some("actief") => Ok(()),
        Some(_) => Err(revoked()),
        None => Err(DeziError::PlatformAnswer {
            detail: "the status answer has no status".to_owned(),
        }),
    }
}

/// A verified signed revocation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationList {
    revoked: HashMap<String, DateTime<Utc>>,
    refresh_at: DateTime<Utc>,
}

fn timestamp(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Number(n) => n.as_i64().and_then(|s| DateTime::from_timestamp(s, 0)),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

impl RevocationList {
    pub(super) fn from_claims(claims: &Map<String, Value>) -> Result<Self, DeziError> {
        let missing = |claim| DeziError::MissingClaim {
            token: Token::RevocationList,
            claim,
        };
        let refresh_at = claims
            .get("ververs_tijdstip")
            .and_then(timestamp)
            .ok_or_else(|| missing("ververs_tijdstip"))?;
        let entries = claims
            .get("revocaties")
            .and_then(Value::as_array)
            .ok_or_else(|| missing("revocaties"))?;
        let mut revoked = HashMap::with_capacity(entries.len());
        for entry in entries {
            let id = entry.get("verklaringId").and_then(Value::as_str);
            let at = entry.get("revocatieTijdstip").and_then(timestamp);
            let (Some(id), Some(at)) = (id, at) else {
                return Err(missing("revocaties"));
            };
            // A repeated entry keeps its earliest time: a later copy with a future time must
            // not postpone a revocation.
            revoked
                .entry(id.to_owned())
                .and_modify(|earlier: &mut DateTime<Utc>| *earlier = (*earlier).min(at))
                .or_insert(at);
        }
        Ok(Self {
            revoked,
            refresh_at,
        })
    }

    /// When the list should be fetched again (`ververs_tijdstip`).
    pub const fn refresh_at(&self) -> DateTime<Utc> {
        self.refresh_at
    }

    /// How many verklaringen it revokes.
    pub fn len(&self) -> usize {
        self.revoked.len()
    }

    /// Whether it revokes none.
    pub fn is_empty(&self) -> bool {
        self.revoked.is_empty()
    }

    /// Whether `verklaring_id` is in force at `now` by this list.
    ///
    /// # Errors
    ///
    /// `RevocationListStale` once `now` is past the list's `ververs_tijdstip` plus `grace`
    /// (a list that should have been replaced says nothing about later revocations);
    /// `Revoked` for a verklaring revoked at or before `now`; `InvalidClaim` when
    /// `ververs_tijdstip` plus `grace` is past the range of dates.
    pub fn check(
        &self,
        verklaring_id: &str,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Result<(), DeziError> {
        let stale_after =
            self.refresh_at
                .checked_add_signed(grace)
                .ok_or_else(|| DeziError::InvalidClaim {
                    token: Token::RevocationList,
                    claim: "ververs_tijdstip",
                    detail: super::validate::OUT_OF_RANGE.to_owned(),
                })?;
        if now > stale_after {
            return Err(DeziError::RevocationListStale {
                refresh_at: self.refresh_at,
            });
        }
        match self.revoked.get(verklaring_id) {
            Some(at) if *at <= now => Err(DeziError::Revoked {
                verklaring_id: verklaring_id.to_owned(),
            }),
            _ => Ok(()),
        }
    }
}
