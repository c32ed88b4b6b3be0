//! How a failed command is described: on its span and in connection log lines alike.

use fred::error::Error as FredError;
use trace_core::ErrorType;

/// A failed command or connection, as spans and log lines describe it.
pub(crate) struct Failure<'a> {
    /// The server's error prefix (`WRONGTYPE`, `ERR`, `NOSCRIPT`), when the server
    /// answered with an error.
    pub(crate) status_code: Option<&'a str>,
    /// `error.type`: the server's error prefix when there is one, else fred's error
    /// kind in lowercase snake case (`io`, `timeout`, `canceled`, `invalid_argument`).
    pub(crate) error_type: ErrorType,
}

impl<'a> Failure<'a> {
    pub(crate) fn of(error: &'a FredError) -> Self {
        let prefix = error
            .details()
            .split_whitespace()
            .next()
            .filter(|word| word.len() >= 2 && word.bytes().all(|b| b.is_ascii_uppercase()));
        match prefix {
            Some(prefix) => Self {
                status_code: Some(prefix),
                error_type: ErrorType::code(prefix.to_owned()),
            },
            // Client-side failures: the message may echo arguments, so only the kind
            // is recorded.
            None => Self {
                status_code: None,
                error_type: ErrorType::kind(&format!("{:?}", error.kind())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use fred::error::ErrorKind;

    use super::*;

    #[test]
    fn a_server_error_gives_its_prefix() {
        let error = FredError::new(
            ErrorKind::Unknown,
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        );
        let failure = Failure::of(&error);
        assert_eq!(failure.status_code, Some("WRONGTYPE"));
        assert_eq!(failure.error_type.as_str(), "WRONGTYPE");
    }

    #[test]
    fn a_client_error_gives_fred_s_kind_in_snake_case() {
        for (kind, expected) in [
            (ErrorKind::IO, "io"),
            (ErrorKind::Timeout, "timeout"),
            (ErrorKind::Canceled, "canceled"),
            (ErrorKind::InvalidArgument, "invalid_argument"),
            (ErrorKind::NotFound, "not_found"),
        ] {
            let error = FredError::new(kind, "connection reset by peer");
            let failure = Failure::of(&error);
            assert_eq!(failure.status_code, None);
            assert_eq!(failure.error_type.as_str(), expected);
        }
    }
}
