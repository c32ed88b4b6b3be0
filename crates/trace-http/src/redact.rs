//! Keeping secrets out of `url.full` and `url.query`.
//!
//! Credentials in the authority become `REDACTED:REDACTED`, and the values of sensitive
//! query parameters become `REDACTED`, as the HTTP semantic conventions ask. Keys are
//! compared case-insensitively after percent-decoding, so `%74oken=` is caught too.

use std::borrow::Cow;
use std::sync::Arc;

/// What replaces a secret.
pub const REDACTED: &str = "REDACTED";

/// Query keys whose values the semantic conventions (v1.44) say to redact in `url.full`
/// and `url.query`.
pub const SEMCONV_SENSITIVE_QUERY_KEYS: &[&str] =
    &["AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"];

/// Query keys redacted by default beyond the semantic-conventions list: the usual names
/// of tokens, keys and passwords.
pub const DEFAULT_SENSITIVE_QUERY_KEYS: &[&str] = &[
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "api-key",
    "password",
    "passwd",
    "secret",
    "client_secret",
    "key",
    "auth",
    "code",
];

/// The set of query keys whose values are redacted.
///
/// Cheap to clone (shared). Build it with [`SensitiveQueryKeys::new`] or start from
/// [`SensitiveQueryKeys::default`] (every key in [`DEFAULT_SENSITIVE_QUERY_KEYS`]).
#[derive(Debug, Clone)]
pub struct SensitiveQueryKeys {
    keys: Arc<[Box<str>]>,
}

impl Default for SensitiveQueryKeys {
    fn default() -> Self {
        Self::new(DEFAULT_SENSITIVE_QUERY_KEYS.iter().copied())
    }
}

impl SensitiveQueryKeys {
    /// Exactly `keys` (matched case-insensitively). The semantic-conventions list is
    /// always included: a signature never reaches a span.
    pub fn new<I, K>(keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        let mut all: Vec<Box<str>> = SEMCONV_SENSITIVE_QUERY_KEYS
            .iter()
            .map(|key| Box::from(*key))
            .collect();
        for key in keys {
            let key = key.as_ref();
            if !all.iter().any(|known| known.eq_ignore_ascii_case(key)) {
                all.push(key.into());
            }
        }
        Self { keys: all.into() }
    }

    /// These keys plus `more`.
    pub fn with<I, K>(&self, more: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        let existing: Vec<String> = self.keys.iter().map(|key| key.to_string()).collect();
        Self::new(
            existing
                .into_iter()
                .chain(more.into_iter().map(|key| key.as_ref().to_owned())),
        )
    }

    fn contains(&self, raw_key: &str) -> bool {
        let key = percent_decode(raw_key);
        self.keys
            .iter()
            .any(|known| known.eq_ignore_ascii_case(key.as_ref()))
    }

    /// `query` (without the leading `?`) with sensitive values replaced. Borrowed when
    /// nothing needed redacting.
    pub fn redact_query<'a>(&self, query: &'a str) -> Cow<'a, str> {
        let needs_redaction = query.split('&').any(|pair| {
            pair.split_once('=')
                .is_some_and(|(key, value)| !value.is_empty() && self.contains(key))
        });
        if !needs_redaction {
            return Cow::Borrowed(query);
        }
        let mut out = String::with_capacity(query.len());
        for (index, pair) in query.split('&').enumerate() {
            if index > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((key, value)) if !value.is_empty() && self.contains(key) => {
                    out.push_str(key);
                    out.push('=');
                    out.push_str(REDACTED);
                }
                _ => out.push_str(pair),
            }
        }
        Cow::Owned(out)
    }

    /// `url` with credentials and sensitive query values redacted, and any fragment
    /// removed (it never reaches the server anyway).
    pub fn redact_url(&self, url: &str) -> String {
        let url = url.split_once('#').map_or(url, |(before, _)| before);
        let (before_query, query) = match url.split_once('?') {
            Some((before, query)) => (before, Some(query)),
            None => (url, None),
        };
        let mut out = String::with_capacity(url.len() + 16);
        match before_query.split_once("://") {
            Some((scheme, rest)) => {
                let authority_end = rest.find('/').unwrap_or(rest.len());
                let (authority, path) = rest.split_at(authority_end);
                out.push_str(scheme);
                out.push_str("://");
                match authority.rsplit_once('@') {
                    Some((_, host)) => {
                        out.push_str(REDACTED);
                        out.push(':');
                        out.push_str(REDACTED);
                        out.push('@');
                        out.push_str(host);
                    }
                    None => out.push_str(authority),
                }
                out.push_str(path);
            }
            None => out.push_str(before_query),
        }
        if let Some(query) = query {
            out.push('?');
            out.push_str(&self.redact_query(query));
        }
        out
    }
}

/// Decodes `%XX` escapes (and `+` as space) for key comparison; invalid escapes stay.
fn percent_decode(raw: &str) -> Cow<'_, str> {
    if !raw.contains(['%', '+']) {
        return Cow::Borrowed(raw);
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let hex = bytes.get(index + 1..index + 3).and_then(|pair| {
                    std::str::from_utf8(pair)
                        .ok()
                        .and_then(|text| u8::from_str_radix(text, 16).ok())
                });
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        index += 3;
                    }
                    None => {
                        out.push(b'%');
                        index += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_signatures_are_redacted() {
        let keys = SensitiveQueryKeys::default();
        assert_eq!(
            keys.redact_url("https://alice:s3cret@example.com:8443/p/a?x=1&sig=abc&Token=t#frag"),
            "https://REDACTED:REDACTED@example.com:8443/p/a?x=1&sig=REDACTED&Token=REDACTED"
        );
        assert_eq!(
            keys.redact_url("http://example.com/?%74oken=t&key"),
            "http://example.com/?%74oken=REDACTED&key"
        );
        assert_eq!(keys.redact_url("http://example.com"), "http://example.com");
    }

    #[test]
    fn untouched_queries_are_borrowed() {
        let keys = SensitiveQueryKeys::new(["session"]);
        assert!(matches!(keys.redact_query("a=1&b=2"), Cow::Borrowed(_)));
        assert_eq!(
            keys.redact_query("session=x&sig=y&token=z"),
            "session=REDACTED&sig=REDACTED&token=z"
        );
        assert_eq!(keys.redact_query("%zz=1&%"), "%zz=1&%");
    }
}
