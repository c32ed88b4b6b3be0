//! Snapshots of the console waterfall for the tour's three chains, from a capture of
//! the tour's OTLP-JSON lines with stable ids and times (see `tests/data/README.md`).
//! `UPDATE_SNAPSHOTS=1` rewrites them after a deliberate layout change.

use std::path::PathBuf;

use trace_core::export::{OtlpJsonTraces, WaterfallStyle};

fn tour() -> OtlpJsonTraces {
    let traces = OtlpJsonTraces::parse(include_str!("data/tour.jsonl"));
    assert!(traces.problems().is_empty(), "{:?}", traces.problems());
    traces
}

/// The waterfall of each trace, split at the header lines.
fn waterfalls(text: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("trace ") || blocks.is_empty() {
            blocks.push(String::new());
        }
        if let Some(block) = blocks.last_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks
}

fn check_snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/snapshots/{name}"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    assert!(
        actual == expected,
        "{name} differs from the snapshot; rerun with UPDATE_SNAPSHOTS=1 if the change is \
         deliberate\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

fn chain(number: usize) -> String {
    let text = tour().to_waterfall(&WaterfallStyle::plain());
    let blocks = waterfalls(&text);
    assert_eq!(blocks.len(), 3, "one waterfall per chain:\n{text}");
    blocks[number - 1].clone()
}

#[test]
fn chain_1_module_command() {
    let text = chain(1);
    check_snapshot("tour_chain1.txt", &text);
    // The client span, the server it called, and the consumer under its producer.
    let names: Vec<&str> = text.lines().skip(2).step_by(2).collect();
    assert!(names[0].starts_with("POST  "), "{text}");
    assert!(
        names[1].starts_with("└─ POST /service/{module}/command  "),
        "{text}"
    );
    assert!(
        text.contains("      └─ process message:send      CONSUMER"),
        "{text}"
    );
}

#[test]
fn chain_2_pipeline_run() {
    let text = chain(2);
    check_snapshot("tour_chain2.txt", &text);
    assert!(text.starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4702 · tour · 12 spans"));
}

#[test]
fn chain_3_webhook() {
    let text = chain(3);
    check_snapshot("tour_chain3.txt", &text);
    assert!(text.starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4703 · tour · 17 spans"));
}

#[test]
fn chain_1_verbose() {
    let text = tour().to_waterfall(&WaterfallStyle::plain().with_verbose(true));
    let chain1 = waterfalls(&text).swap_remove(0);
    check_snapshot("tour_chain1_verbose.txt", &chain1);
}

#[test]
fn every_line_fits_the_width() {
    for width in [60, 80, 100, 160] {
        let text = tour().to_waterfall(&WaterfallStyle::plain().with_width(width));
        for line in text.lines().filter(|line| !line.starts_with("trace ")) {
            assert!(
                line.chars().count() <= width,
                "{} > {width}: {line}",
                line.chars().count()
            );
        }
    }
}
