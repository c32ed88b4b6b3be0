//! The semantic-conventions SQL corpus: every case, for `db.query.text` and
//! `db.query.summary`.

use serde_json::Value;
use trace_db::DbSystem;
use trace_db::sql::{sanitize, summarize};

const CORPUS: &str = include_str!("data/db-sql-test-cases.json");

fn system(name: &str) -> DbSystem {
    match name {
        "postgresql" => DbSystem::Postgresql,
        "mysql" => DbSystem::Mysql,
        "mariadb" => DbSystem::Mariadb,
        "sqlite" => DbSystem::Sqlite,
        _ => DbSystem::OtherSql,
    }
}

#[test]
fn every_corpus_case_passes_for_text_and_summary() {
    let cases: Vec<Value> = serde_json::from_str(CORPUS).expect("corpus parses");
    assert!(cases.len() >= 24, "corpus has {} cases", cases.len());
    let (mut text_passed, mut summary_passed, mut failures) = (0, 0, Vec::new());
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let query = case["input"]["query"].as_str().unwrap();
        let system = system(case["input"]["db.system.name"].as_str().unwrap_or_default());
        let expected = &case["expected"];

        let text = sanitize(query, system, usize::MAX);
        let allowed: Vec<&str> = expected["db.query.text"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        if allowed.contains(&text.as_str()) {
            text_passed += 1;
        } else {
            failures.push(format!(
                "{name}: text {text:?}, expected one of {allowed:?}"
            ));
        }

        let summary = summarize(query, system).map(|s| s.as_str().to_owned());
        let expected_summary = expected["db.query.summary"].as_str().map(str::to_owned);
        if summary == expected_summary {
            summary_passed += 1;
        } else {
            failures.push(format!(
                "{name}: summary {summary:?}, expected {expected_summary:?}"
            ));
        }
    }
    println!(
        "db.query.text: {text_passed}/{n} passed; db.query.summary: {summary_passed}/{n} passed",
        n = cases.len()
    );
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}
