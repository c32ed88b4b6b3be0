//! The error of Redis Streams operations.

use std::fmt;

use fred::error::Error as FredError;
use trace_core::ErrorType;

/// A Redis Streams operation failed.
#[derive(Debug)]
pub struct RedisStreamError {
    repr: Repr,
}

#[derive(Debug)]
enum Repr {
    Redis {
        operation: &'static str,
        error: FredError,
    },
    ReservedField,
}

impl RedisStreamError {
    pub(crate) fn redis(operation: &'static str, error: FredError) -> Self {
        Self {
            repr: Repr::Redis { operation, error },
        }
    }

    pub(crate) fn reserved_field() -> Self {
        Self {
            repr: Repr::ReservedField,
        }
    }

    /// `error.type`, by [`ErrorType`]'s rule: the server's error prefix (`NOGROUP`,
    /// `WRONGTYPE`, `ERR`, ...) when Redis answered with an error, else fred's error
    /// kind in lowercase snake case (`io`, `timeout`, `canceled`, ...), or
    /// `invalid_message` for metadata that uses the reserved field name.
    pub fn error_type(&self) -> ErrorType {
        match &self.repr {
            Repr::Redis { error, .. } => {
                let prefix =
                    error.details().split_whitespace().next().filter(|word| {
                        word.len() >= 2 && word.bytes().all(|b| b.is_ascii_uppercase())
                    });
                match prefix {
                    Some(prefix) => ErrorType::code(prefix.to_owned()),
                    None => ErrorType::kind(&format!("{:?}", error.kind())),
                }
            }
            Repr::ReservedField => ErrorType::code("invalid_message"),
        }
    }
}

impl fmt::Display for RedisStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Redis { operation, error } => {
                write!(f, "redis streams {operation} failed: {error}")
            }
            Repr::ReservedField => write!(
                f,
                "message metadata uses the reserved field name {:?}",
                super::PAYLOAD_FIELD
            ),
        }
    }
}

impl std::error::Error for RedisStreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.repr {
            Repr::Redis { error, .. } => Some(error),
            Repr::ReservedField => None,
        }
    }
}
