//! Shared test support: an in-memory `MakeWriter` and JSON line parsing.
#![allow(dead_code, unreachable_pub)]

pub mod receiver;

use std::io;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use trace_core::testing::CapturedSpan;
use tracing_subscriber::fmt::MakeWriter;

/// Everything the `fmt` layer wrote, shared with the test.
#[derive(Clone, Default)]
pub struct Output(Arc<Mutex<Vec<u8>>>);

impl Output {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).expect("log output is UTF-8")
    }

    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }

    /// Every line parsed as JSON; panics naming the line that is not valid JSON.
    pub fn json(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
            })
            .collect()
    }

    /// The one JSON line whose message is `message`.
    pub fn json_line(&self, message: &str) -> Value {
        let mut matches: Vec<Value> = self
            .json()
            .into_iter()
            .filter(|line| line["fields"]["message"] == message)
            .collect();
        assert_eq!(
            matches.len(),
            1,
            "expected one line with message {message:?}:\n{}",
            self.text()
        );
        matches.remove(0)
    }
}

pub struct OutputWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for OutputWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Output {
    type Writer = OutputWriter;

    fn make_writer(&'a self) -> Self::Writer {
        OutputWriter(self.0.clone())
    }
}

/// Asserts that a JSON line carries `span`'s ids and trace flags, which are sampled.
#[track_caller]
pub fn assert_ids_of(line: &Value, span: &CapturedSpan) {
    assert_eq!(
        line["trace_id"],
        span.trace_id().to_string(),
        "trace_id of {line}"
    );
    assert_eq!(
        line["span_id"],
        span.span_id().to_string(),
        "span_id of {line}"
    );
    let flags = span.span_context.trace_flags();
    assert!(flags.is_sampled(), "{} is sampled", span.name);
    assert_eq!(
        line["trace_flags"],
        format!("{:02x}", flags.to_u8()),
        "trace_flags of {line}"
    );
}

/// Asserts that a JSON line carries none of the id members.
#[track_caller]
pub fn assert_no_ids(line: &Value) {
    for key in ["trace_id", "span_id", "trace_flags"] {
        assert!(
            line.get(key).is_none(),
            "{key} in a line outside any trace: {line}"
        );
    }
}
