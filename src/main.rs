//! The `repokid` command line: a thin layer over the library (see `repokid::cli`).

use std::process::ExitCode;

fn main() -> ExitCode {
    repokid::cli::main()
}
