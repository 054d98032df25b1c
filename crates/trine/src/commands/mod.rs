//! One module per subcommand.

mod embed;
mod encode;
mod eval;
mod shared;

use crate::cli::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Embed(args) => embed::run(&cli, args),
        Command::Eval(args) => eval::run(&cli, args),
        Command::Encode(args) => encode::run(args),
    }
}
