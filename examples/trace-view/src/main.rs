//! trace-view: draws an OTLP/JSON trace file as the console waterfall, or writes it as
//! the HTML page, so traces captured anywhere read the same way as the tour's.
//!
//! ```text
//! trace-view FILE                   # the waterfall of every trace in FILE
//! trace-view --verbose FILE         # with every attribute, event and link
//! trace-view --html OUT.html FILE   # the self-contained page
//! trace-view - < FILE               # read standard input
//! ```
//!
//! FILE holds OTLP/JSON `ExportTraceServiceRequest`s, one per line: trace-core's
//! `json-file` exporter writes them, as does the OpenTelemetry Collector's `file`
//! exporter; one request over many lines is read too.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use trace_core::export::{ConsoleTarget, OtlpJsonTraces, WaterfallStyle};

const USAGE: &str = "usage: trace-view [--html OUT.html] [--verbose] [--width N] [--color | --no-color] FILE
  FILE: OTLP/JSON lines (trace-core's json-file exporter, the Collector's file exporter), or - for stdin
  default: the console waterfall of every trace on stdout (colour on a terminal unless NO_COLOR; width from COLUMNS)";

/// What to draw and how.
struct Options {
    input: String,
    html: Option<PathBuf>,
    style: WaterfallStyle,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("trace-view: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let options = parse_args(std::env::args().skip(1))?;
    let text = read_input(&options.input)?;
    let traces = OtlpJsonTraces::parse(&text);
    for problem in traces.problems() {
        eprintln!("trace-view: {}: {problem}", options.input);
    }
    if traces.span_count() == 0 {
        return Err(format!("no spans in {}", options.input));
    }
    match &options.html {
        Some(out) => {
            let name = std::path::Path::new(&options.input)
                .file_name()
                .map_or_else(|| "stdin".into(), |name| name.to_string_lossy());
            let page = traces.to_html_page(&format!("Traces · {name}"));
            std::fs::write(out, page)
                .map_err(|error| format!("cannot write {}: {error}", out.display()))?;
            println!(
                "wrote {} ({} traces, {} spans)",
                out.display(),
                traces.trace_count(),
                traces.span_count()
            );
        }
        None => print!("{}", traces.to_waterfall(&options.style)),
    }
    Ok(())
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut input = None;
    let mut html = None;
    let mut style = WaterfallStyle::for_target(ConsoleTarget::Stdout);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--html" => html = Some(PathBuf::from(args.next().ok_or(USAGE)?)),
            "--verbose" | "-v" => style = style.with_verbose(true),
            "--color" => style = style.with_color(true),
            "--no-color" => style = style.with_color(false),
            "--width" => {
                let width = args.next().ok_or(USAGE)?;
                let columns = width
                    .parse()
                    .map_err(|_| format!("--width takes a number of columns, got {width:?}"))?;
                style = style.with_width(columns);
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other if other.starts_with("--") => {
                return Err(format!("unknown option {other:?}\n{USAGE}"));
            }
            _ if input.is_some() => return Err(format!("one FILE at a time\n{USAGE}")),
            _ => input = Some(arg),
        }
    }
    Ok(Options {
        input: input.ok_or(USAGE)?,
        html,
        style,
    })
}

fn read_input(input: &str) -> Result<String, String> {
    if input == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|error| format!("cannot read stdin: {error}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(input).map_err(|error| format!("cannot read {input}: {error}"))
}
