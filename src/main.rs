//! The `nectr` binary: run the CLI, turn errors into one clear line and an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "nectr: internal error: {info}\nThis is a bug in nectr, not in your input; please report it with the command you ran."
        );
    }));
    match nectr::cli::run() {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(nectr::error::exit_code(&err))
        }
    }
}
