use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use encarte::config::Config;
use encarte::jobs::{Registry, Worker};
use encarte::startup::{Application, open_db, worker_settings};

/// encarte: loyalty cards on the phone, for shops and chains.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service and the outbox worker (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run only the outbox worker (for a node that serves no HTTP).
    Worker {
        /// Drain the due jobs once and exit.
        #[arg(long)]
        once: bool,
    },
    /// Create the demo program if the database has no program yet.
    Demo,
    /// Print every setting with its default and meaning (Markdown).
    Config,
    /// Check that every card's balance equals the sum of its ledger; exit 1 if not.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Config) = cli.command {
        print!("{}", Config::markdown_table());
        return ExitCode::SUCCESS;
    }
    let config = match Config::load() {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    encarte::telemetry::init(&config.log, config.log_format == "json");
    let runtime = actix_web::rt::System::new();
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

/// One clear line on stderr: what failed and why, never a backtrace or a password.
fn fail(e: &anyhow::Error) -> ExitCode {
    let line = format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("encarte: {line}");
    ExitCode::FAILURE
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => {
            Application::build(config).await?.run_until_stopped().await?;
        }
        Command::Migrate => {
            open_db(&config).await?;
            println!("database is up to date");
        }
        Command::Worker { once } => {
            let db = open_db(&config).await?;
            let worker = Worker::new(db, Arc::new(Registry::standard()), worker_settings(&config));
            if once {
                let ran = encarte::jobs::drain(&[worker]).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("{ran} jobs run");
            } else {
                worker.run().await;
            }
        }
        Command::Demo => {
            let db = open_db(&config).await?;
            let password = config.demo_password.clone();
            let created = db
                .write(move |c| encarte::service::programs::ensure_demo(c, password.as_deref()))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            match created {
                Some(login) => {
                    for email in login.emails {
                        println!("{email:<20} password: {}", login.password);
                    }
                }
                None => println!("the database already has a program; no demo created"),
            }
        }
        Command::Check => {
            let db = open_db(&config).await?;
            let bad = db
                .read(|c| Ok(encarte::db::repo::ledger::mismatched_balances(c)?))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if bad.is_empty() {
                println!("every card balance equals the sum of its ledger");
            } else {
                for (card, balance, sum) in &bad {
                    println!("card {card}: balance {balance}, ledger sum {sum}");
                }
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Config => unreachable!("handled before the configuration is loaded"),
    }
    Ok(ExitCode::SUCCESS)
}
