//! One module per subcommand.

mod cluster;
mod embed;
mod encode;
mod eval;
mod eval_cluster;
mod finetune;
mod flags;
mod index;
mod mine;
mod retrieve;
mod search;
mod serve;
mod sharded;
mod shared;
mod train;
mod tune_fusion;

use crate::cli::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Embed(args) => embed::run(&cli, args),
        Command::Eval(args) => eval::run(&cli, args),
        Command::Encode(args) => encode::run(args),
        Command::Index(cmd) => index::run(&cli, cmd),
        Command::Search(args) => search::run(&cli, args),
        Command::TuneFusion(args) => tune_fusion::run(&cli, args),
        Command::Cluster(args) => cluster::run(&cli, args),
        Command::EvalCluster(args) => eval_cluster::run(&cli, args),
        Command::Serve(args) => serve::run(args),
        Command::Mine(args) => mine::run(&cli, args),
        Command::Train(args) => train::run(&cli, args),
        Command::Finetune(args) => finetune::run(&cli, args),
    }
}
