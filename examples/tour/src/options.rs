//! Command-line flags and their environment equivalents.

use std::path::PathBuf;

/// How this run of the tour behaves.
pub(crate) struct Options {
    /// Keep serving until Ctrl-C instead of running the chains and exiting.
    pub(crate) serve: bool,
    /// Ignore `REDIS_URL` and `redis-server`.
    pub(crate) no_redis: bool,
    /// Where the OTLP-JSON lines go (overwritten).
    pub(crate) traces_file: PathBuf,
    /// The port `--serve` listens on.
    pub(crate) port: u16,
}

const USAGE: &str = "usage: tour [--serve [--port N]] [--no-redis] [--traces-file PATH]
  env: TOUR_NO_REDIS=1, TOUR_TRACES_FILE=PATH, REDIS_URL, OTEL_EXPORTER_OTLP_ENDPOINT";

impl Options {
    /// Reads the flags; `TOUR_NO_REDIS=1` and `TOUR_TRACES_FILE` are the env forms.
    pub(crate) fn from_args_and_env() -> Result<Self, String> {
        let mut options = Self {
            serve: false,
            no_redis: std::env::var("TOUR_NO_REDIS").is_ok_and(|value| value == "1"),
            traces_file: std::env::var_os("TOUR_TRACES_FILE")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("tour-traces.jsonl")),
            port: 8080,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--serve" => options.serve = true,
                "--no-redis" => options.no_redis = true,
                "--traces-file" => {
                    options.traces_file = args.next().ok_or(USAGE)?.into();
                }
                "--port" => {
                    let port = args.next().ok_or(USAGE)?;
                    options.port = port
                        .parse()
                        .map_err(|_| format!("--port must be a port number, got {port:?}"))?;
                }
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        // A fresh file per run: the summary counts the spans in it.
        match std::fs::remove_file(&options.traces_file) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(format!(
                    "cannot replace {}: {error}",
                    options.traces_file.display()
                ));
            }
        }
        Ok(options)
    }
}
