//! The error of Redis Streams operations.

use std::fmt;

use fred::error::{Error as FredError, ErrorKind};

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

    /// A short class for `error.type`: `timeout`, `io`, `invalid_message` or `redis`.
    pub fn error_type(&self) -> &'static str {
        match &self.repr {
            Repr::Redis { error, .. } => match error.kind() {
                ErrorKind::Timeout => "timeout",
                ErrorKind::IO => "io",
                _ => "redis",
            },
            Repr::ReservedField => "invalid_message",
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
