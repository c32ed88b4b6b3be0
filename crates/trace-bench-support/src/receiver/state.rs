//! What the receiver counts, how it answers ([`ReceiverMode`]), and the `key=value` text
//! both travel in between the receiver and [`OtlpReceiver`](super::OtlpReceiver).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// How the receiver answers export requests; set through `POST /control?...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiverMode {
    /// Decode, count, answer success (the default).
    #[default]
    Accept,
    /// Decode, count as rejected, answer HTTP `status` (with `Retry-After` in seconds when
    /// given); over gRPC the status's gRPC counterpart (429: `RESOURCE_EXHAUSTED`, 502, 503
    /// and 504: `UNAVAILABLE`, 400: `INVALID_ARGUMENT`, others: `INTERNAL`).
    Reject {
        /// The HTTP status code.
        status: u16,
        /// Seconds for the `Retry-After` header (OTLP/HTTP only).
        retry_after: Option<u32>,
    },
    /// Wait this long before handling each request, then accept it: a slow collector.
    Delay(Duration),
}

impl ReceiverMode {
    /// The query of `POST /control` that sets this mode.
    pub fn to_query(&self) -> String {
        match self {
            ReceiverMode::Accept => "mode=accept".to_owned(),
            ReceiverMode::Reject {
                status,
                retry_after: None,
            } => format!("mode=reject&status={status}"),
            ReceiverMode::Reject {
                status,
                retry_after: Some(secs),
            } => format!("mode=reject&status={status}&retry_after={secs}"),
            ReceiverMode::Delay(delay) => format!("mode=delay&ms={}", delay.as_millis()),
        }
    }

    /// Parses [`ReceiverMode::to_query`]'s text; says what is wrong otherwise.
    pub fn from_query(query: &str) -> Result<Self, String> {
        let value = |key: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
        };
        let number = |key: &str| -> Result<Option<u64>, String> {
            value(key)
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("`{key}` is not a number: {v:?}"))
                })
                .transpose()
        };
        match value("mode") {
            Some("accept") => Ok(ReceiverMode::Accept),
            Some("reject") => {
                let status = number("status")?.ok_or("`mode=reject` needs `status=N`")?;
                let status = u16::try_from(status)
                    .ok()
                    .filter(|s| (100..=599).contains(s))
                    .ok_or(format!("`status={status}` is not an HTTP status"))?;
                let retry_after = number("retry_after")?
                    .map(|s| u32::try_from(s).map_err(|_| "`retry_after` is too large"))
                    .transpose()?;
                Ok(ReceiverMode::Reject {
                    status,
                    retry_after,
                })
            }
            Some("delay") => {
                let ms = number("ms")?.ok_or("`mode=delay` needs `ms=N`")?;
                Ok(ReceiverMode::Delay(Duration::from_millis(ms)))
            }
            other => Err(format!(
                "`mode` must be accept, reject or delay, got {other:?}"
            )),
        }
    }
}

/// The receiver's counts since it started (`GET /stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceiverStats {
    /// OTLP/HTTP export requests decoded.
    pub http_requests: u64,
    /// OTLP/gRPC export requests decoded.
    pub grpc_requests: u64,
    /// Spans in the requests accepted: the checked "received" figure.
    pub spans: u64,
    /// Requests answered with an error status by [`ReceiverMode::Reject`].
    pub rejected_requests: u64,
    /// Spans in those requests (decoded, not counted in `spans`).
    pub rejected_spans: u64,
    /// OTLP/HTTP requests that could not be read or decoded (answered 4xx). tonic answers
    /// malformed gRPC messages itself, before the receiver sees them.
    pub decode_errors: u64,
}

impl ReceiverStats {
    /// The `key=value ...` line `GET /stats` answers.
    pub fn to_line(&self) -> String {
        format!(
            "http_requests={} grpc_requests={} spans={} rejected_requests={} \
             rejected_spans={} decode_errors={}",
            self.http_requests,
            self.grpc_requests,
            self.spans,
            self.rejected_requests,
            self.rejected_spans,
            self.decode_errors
        )
    }

    /// Parses [`ReceiverStats::to_line`]'s text (unknown keys are skipped).
    pub fn from_line(line: &str) -> Result<Self, String> {
        let mut stats = ReceiverStats::default();
        for pair in line.split_whitespace() {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("not key=value: {pair:?}"))?;
            let value: u64 = value
                .parse()
                .map_err(|_| format!("`{key}` is not a number: {value:?}"))?;
            let field = match key {
                "http_requests" => &mut stats.http_requests,
                "grpc_requests" => &mut stats.grpc_requests,
                "spans" => &mut stats.spans,
                "rejected_requests" => &mut stats.rejected_requests,
                "rejected_spans" => &mut stats.rejected_spans,
                "decode_errors" => &mut stats.decode_errors,
                _ => continue,
            };
            *field = value;
        }
        Ok(stats)
    }
}

/// Which side of the receiver a request came in on.
#[derive(Debug, Clone, Copy)]
pub(super) enum Transport {
    Http,
    Grpc,
}

/// The receiver's shared state: counters and the current mode.
#[derive(Debug, Default)]
pub(super) struct Shared {
    http_requests: AtomicU64,
    grpc_requests: AtomicU64,
    spans: AtomicU64,
    rejected_requests: AtomicU64,
    rejected_spans: AtomicU64,
    decode_errors: AtomicU64,
    mode: Mutex<ReceiverMode>,
}

impl Shared {
    pub(super) fn mode(&self) -> ReceiverMode {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn set_mode(&self, mode: ReceiverMode) {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }

    /// Counts a decoded request of `spans` spans, accepted or rejected.
    pub(super) fn count(&self, transport: Transport, spans: u64, accepted: bool) {
        let requests = match transport {
            Transport::Http => &self.http_requests,
            Transport::Grpc => &self.grpc_requests,
        };
        requests.fetch_add(1, Ordering::Relaxed);
        if accepted {
            self.spans.fetch_add(spans, Ordering::Relaxed);
        } else {
            self.rejected_requests.fetch_add(1, Ordering::Relaxed);
            self.rejected_spans.fetch_add(spans, Ordering::Relaxed);
        }
    }

    pub(super) fn count_decode_error(&self) {
        self.decode_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn stats(&self) -> ReceiverStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ReceiverStats {
            http_requests: load(&self.http_requests),
            grpc_requests: load(&self.grpc_requests),
            spans: load(&self.spans),
            rejected_requests: load(&self.rejected_requests),
            rejected_spans: load(&self.rejected_spans),
            decode_errors: load(&self.decode_errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_stats_survive_their_text() {
        for mode in [
            ReceiverMode::Accept,
            ReceiverMode::Reject {
                status: 503,
                retry_after: Some(2),
            },
            ReceiverMode::Reject {
                status: 429,
                retry_after: None,
            },
            ReceiverMode::Delay(Duration::from_millis(1000)),
        ] {
            assert_eq!(ReceiverMode::from_query(&mode.to_query()), Ok(mode));
        }
        assert!(ReceiverMode::from_query("mode=reject&status=99").is_err());
        assert!(ReceiverMode::from_query("mode=delay&ms=x").is_err());
        assert!(ReceiverMode::from_query("").is_err());
        let stats = ReceiverStats {
            http_requests: 1,
            grpc_requests: 2,
            spans: 3,
            rejected_requests: 4,
            rejected_spans: 5,
            decode_errors: 6,
        };
        assert_eq!(ReceiverStats::from_line(&stats.to_line()), Ok(stats));
        assert!(ReceiverStats::from_line("spans=x").is_err());
    }
}
