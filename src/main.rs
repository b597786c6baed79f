use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use encarte::config::Config;
use encarte::jobs::Worker;
use encarte::startup::{Application, open_db, registry, worker_settings};

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
    /// Create a program with one shop and its owner; prints the owner's password once.
    CreateProgram(CreateProgram),
    /// Add a staff member to a program; prints their password once.
    AddStaff {
        /// The program's slug.
        #[arg(long)]
        program: String,
        #[arg(long)]
        email: String,
        /// owner, manager or cashier.
        #[arg(long, default_value = "cashier")]
        role: String,
    },
    /// Print every setting with its default and meaning (Markdown).
    Config,
    /// Check that every card's balance equals the sum of its ledger; exit 1 if not.
    Check,
    /// Certificates. `certs dev`: generate (or show) the development chain for Apple passes.
    Certs {
        #[arg(value_parser = ["dev"])]
        what: String,
    },
}

#[derive(clap::Args)]
struct CreateProgram {
    /// Short name used in URLs (lower-case letters, digits, dashes).
    #[arg(long)]
    slug: String,
    /// The name customers see.
    #[arg(long)]
    name: String,
    #[arg(long)]
    owner_email: String,
    #[arg(long, default_value = "EUR")]
    currency: String,
    #[arg(long, default_value = "fr")]
    locale: String,
    #[arg(long, default_value = "Europe/Paris")]
    time_zone: String,
    /// Points earned for every `earn_per_cents` spent.
    #[arg(long, default_value_t = 1)]
    earn_points: i64,
    #[arg(long, default_value_t = 100)]
    earn_per_cents: i64,
    /// Purchases below this amount earn nothing.
    #[arg(long, default_value_t = 0)]
    earn_min_cents: i64,
    /// Name of the first shop.
    #[arg(long, default_value = "Main shop")]
    location: String,
    /// A known programme's rules to start from: `mexx` (tiers Lin / Velours 250 € / Soie 600 €
    /// earning double; season conversion, 500 points = a 5 € voucher at each 1 March and 1
    /// September, remainder kept) or `sephora` (White / Black on 150 points or 4 visits, with a
    /// 10 % voucher / Gold on 1,500 points).
    #[arg(long, value_parser = encarte::service::presets::Preset::NAMES)]
    preset: Option<String>,
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
    let result = runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config));
    // Dropping the runtime joins the threads that ran queries; then no connection may still be
    // opening when OpenSSL cleans up at exit. Every subcommand leaves through here.
    drop(runtime);
    encarte::db::shutdown();
    match result {
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
            let deps = encarte::startup::deps(&config).await?;
            let worker = Worker::new(deps.db.clone(), Arc::new(registry(&deps)), worker_settings(&config));
            if !once {
                encarte::startup::schedule_sweeps(&deps.db).await?;
            }
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
        Command::CreateProgram(p) => {
            let db = open_db(&config).await?;
            let password = encarte::domain::card::random_token(16);
            let new = encarte::service::programs::NewProgram::checked(
                p.slug,
                p.name,
                p.currency,
                p.locale,
                p.time_zone,
                (p.earn_points, p.earn_per_cents, p.earn_min_cents),
                p.location,
                vec![(p.owner_email.clone(), encarte::domain::role::Role::Owner, password.clone())],
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let preset = p.preset.as_deref().map(encarte::service::presets::Preset::parse).transpose()?;
            let (created, applied) = db
                .write(move |c| {
                    let created = encarte::service::programs::create(c, new)?;
                    let applied =
                        preset.map(|p| encarte::service::presets::apply(c, &created.program, p)).transpose()?;
                    Ok((created, applied))
                })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("program {} created (id {})", created.program.slug, created.program.id);
            if let Some(applied) = applied {
                println!("tiers: {}", applied.tiers.join(" → "));
                println!("points expiry: {}", serde_json::to_string(&applied.expiry)?);
                if let Some(b) = &applied.blocks {
                    println!(
                        "season conversion: from {} points, every {} points become a voucher of {} cents, valid {} days",
                        b.threshold_points.get(),
                        b.block_points.get(),
                        b.value_cents_per_block.get(),
                        b.validity_days.get()
                    );
                }
                for c in &applied.scheduled {
                    println!("conversion scheduled for {} (id {})", encarte::dto::time(c.run_at), c.id);
                }
            }
            println!("{:<20} password: {password}", p.owner_email);
        }
        Command::AddStaff { program, email, role } => {
            let db = open_db(&config).await?;
            let role = encarte::domain::role::Role::parse(&role).map_err(|e| anyhow::anyhow!("{e}"))?;
            let password = encarte::domain::card::random_token(16);
            let (mail, pw) = (email.clone(), password.clone());
            db.write(move |c| encarte::service::programs::add_staff(c, &program, &mail, role, &pw))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{email:<20} password: {password}");
        }
        Command::Certs { .. } => {
            let wallet = encarte::wallet::AppleWallet::load(&config)?;
            if !wallet.development {
                println!("a real certificate is configured; no development chain was made");
            }
            println!(
                "passes are signed as {} / {}; development chain in {}",
                wallet.identity.pass_type_id(),
                wallet.identity.team_id(),
                config.data_dir.join("certs").join("dev").display()
            );
        }
        Command::Check => {
            let db = open_db(&config).await?;
            let (ledger, lots) = db
                .read(|c| {
                    Ok((encarte::db::repo::ledger::mismatched_balances(c)?, encarte::db::repo::lots::mismatched(c)?))
                })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for (card, balance, sum) in &ledger {
                println!("card {card}: balance {balance}, ledger sum {sum}");
            }
            for (card, balance, sum) in &lots {
                println!("card {card}: balance {balance}, open lots {sum}");
            }
            if !ledger.is_empty() || !lots.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
            println!("every card balance equals the sum of its ledger and of its open lots");
        }
        Command::Config => unreachable!("handled before the configuration is loaded"),
    }
    Ok(ExitCode::SUCCESS)
}
