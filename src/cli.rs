//! Command-line definitions only; the work happens in `commands`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::delivery::DeliveryStatus;
use crate::engine::FixedAnswer;
use crate::output::parse_duration;
use crate::relay::client::RelayUrl;
use crate::relay::token::Token;
use crate::secrets::SecretSpec;
use crate::signature::Secret;
use crate::store::Durability;
use crate::target::Target;
use crate::tui::theme::Palette;

/// The port `listen` binds when `--addr` is not given.
pub(crate) const DEFAULT_PORT: u16 = 9797;

/// webhook-dev: capture, inspect, verify, forward and replay webhooks on your machine.
#[derive(Debug, Parser)]
#[command(
    name = "webhook-dev",
    version,
    long_version = long_version(),
    about,
    propagate_version = true
)]
pub struct Cli {
    /// The store directory.
    #[arg(
        long,
        global = true,
        env = "WEBHOOK_DEV_STORE",
        default_value = ".webhook-dev"
    )]
    pub store: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Capture webhooks, store them, and forward them to your handler.
    Listen(ListenArgs),
    /// Read the captured requests.
    #[command(subcommand)]
    Requests(RequestsCommand),
    /// Run the public relay that providers send to and listeners subscribe to, or print a token.
    Relay(RelayArgs),
    /// Browse the stored requests in the terminal inspector, without listening.
    Inspect(InspectArgs),
    /// Send stored requests or fixture files again, exactly or re-signed.
    Replay(ReplayArgs),
    /// Write requests as HAR 1.2, curl commands or fixture files.
    Export(ExportArgs),
    /// Store the requests of a HAR file or fixture file.
    Import(ImportArgs),
    /// What changed between two stored requests: JSON paths, body and header lines.
    Diff(DiffArgs),
    /// Check the signature and schema of a stored request or fixture offline.
    Verify(VerifyArgs),
    /// Send a provider's event with fresh ids, signed as the provider signs, with retries.
    Trigger(TriggerArgs),
    /// List provider profiles, or show one: scheme, headers, events.
    Profiles(ProfilesArgs),
    /// The delivery log of trigger and replay.
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
    /// Print a shell completion script: `webhook-dev completions bash > ~/.local/share/bash-completion/completions/webhook-dev`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `webhook-dev man | man -l -`.
    Man,
    /// Show the configuration in effect here: the store, the config file and where it was
    /// found, its routes with secrets redacted.
    Config(ConfigArgs),
    /// Serve the Model Context Protocol on stdio, so a coding agent can read, verify, replay and
    /// trigger the webhooks captured here.
    Mcp,
    /// Be a provider's webhook-management API on localhost (subscriptions, test events, the
    /// delivery log) and deliver real signed events on its retry schedule.
    Emulate(EmulateArgs),
}

/// `import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A HAR file, a fixture, or a JSON array of fixtures.
    pub file: PathBuf,
}

/// `profiles`.
#[derive(Args, Debug)]
pub struct ProfilesArgs {
    /// A profile name, or a profile file (./my-provider.toml).
    pub name: Option<String>,
}

/// `completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `config`.
#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// The config file (default: $WEBHOOK_DEV_CONFIG, else ./webhook-dev.toml; none for no file).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// How requests are verified and re-signed: `--profile`, `--secret` and `--config`, shared by
/// `listen`, `inspect`, `replay` and `verify`; each words their help for what it does with them
/// (with [`help_texts`]).
#[derive(Args, Debug, Clone, Default)]
pub struct SigningArgs {
    /// The profile (default: the one the request was checked with).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The signing secret: a literal, env:VAR or file:PATH.
    #[arg(long, value_name = "SECRET")]
    pub secret: Option<SecretSpec>,
    /// Routes by path prefix from a TOML file (default: $WEBHOOK_DEV_CONFIG, else ./webhook-dev.toml; none for no file).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Gives shared arguments the help texts of one subcommand, keeping their order, as in
/// `#[command(mut_args(help_texts(&[("profile", "The profile to sign with")])))]` (no final
/// period: clap drops it from doc comments too).
pub fn help_texts(
    texts: &'static [(&'static str, &'static str)],
) -> impl FnMut(clap::Arg) -> clap::Arg {
    move |arg| match texts.iter().find(|(id, _)| arg.get_id() == *id) {
        Some((_, text)) => arg.help(*text),
        None => arg,
    }
}

/// `export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Request ids (a unique prefix is enough).
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// The format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep credential headers (Authorization, tokens...) instead of redacting them.
    #[arg(long)]
    pub no_redact: bool,
    /// For curl: the URL to send to (default: where the request was forwarded).
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
}

/// `diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The older request id (a unique prefix is enough).
    pub old: String,
    /// The newer request id.
    pub new: String,
    /// As JSON.
    #[arg(long)]
    pub json: bool,
}

/// `verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// A request id (a unique prefix is enough) or a fixture file.
    #[arg(value_name = "ID|FILE")]
    pub source: String,
    /// The profile, secret and routes to check with.
    #[command(flatten)]
    pub signing: SigningArgs,
    /// Judge timestamps against now, not against when the request was received.
    #[arg(long)]
    pub now: bool,
    /// The findings as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The port `emulate` binds when `--addr` is not given.
pub(crate) const EMULATE_DEFAULT_PORT: u16 = 9798;

/// `webhook-dev emulate`.
#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// Trust for https:// webhook targets.
    #[command(flatten)]
    pub handler_tls: HandlerTlsArgs,
    /// The provider.
    #[arg(value_enum)]
    pub provider: crate::emulate::Provider,
    /// Where the API listens.
    #[arg(long, default_value_t = format!("127.0.0.1:{EMULATE_DEFAULT_PORT}"), value_parser = parse_addr)]
    pub addr: String,
    /// Delays between delivery attempts, e.g. 1m,5m,15m,1h (default: the provider's; `none` for one attempt).
    #[arg(long, value_name = "LIST")]
    pub retry_schedule: Option<String>,
    /// Give up on a handler's answer after this long (then the attempt counts as failed).
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_duration)]
    pub timeout: Duration,
    /// NDJSON on stdout: one object per API call and per delivery attempt.
    #[arg(long)]
    pub json: bool,
}

/// `--version`: the version and the schema versions of the store and relay queue it reads.
fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{}\nstore schema {}, relay queue schema {}",
            env!("CARGO_PKG_VERSION"),
            crate::store::SCHEMA_VERSION,
            crate::relay::queue::SCHEMA_VERSION
        )
    })
}

/// How `https://` handlers are trusted; shared by every command that forwards or replays.
#[derive(Debug, Clone, Default, Args)]
pub struct HandlerTlsArgs {
    /// For an https:// target, also trust the CA certificate(s) in this PEM file (mkcert's root
    /// is `$(mkcert -CAROOT)/rootCA.pem`).
    #[arg(long, value_name = "FILE")]
    pub forward_ca: Option<PathBuf>,
    /// For an https:// target, accept any certificate (a development server's self-signed one).
    #[arg(long)]
    pub forward_insecure: bool,
}

impl HandlerTlsArgs {
    /// The settings these flags ask for.
    pub fn tls(&self) -> crate::handler_tls::HandlerTls {
        crate::handler_tls::HandlerTls {
            ca_file: self.forward_ca.clone(),
            insecure: self.forward_insecure,
        }
    }
}

/// `webhook-dev inspect`.
#[derive(Debug, Args)]
#[command(mut_args(help_texts(&[
        ("profile", "The provider profile that R (re-signed replay) signs as (a name, or a .toml file)"),
        ("secret", "The signing secret for R: a literal, env:VAR or file:PATH"),
        ("config", "Routes by path prefix (profile, secret) from a TOML file, as for `listen` (default: $WEBHOOK_DEV_CONFIG, else ./webhook-dev.toml; none for no file)"),
])))]
pub struct InspectArgs {
    /// Trust for https:// handlers.
    #[command(flatten)]
    pub handler_tls: HandlerTlsArgs,
    /// Send replays (r, R, e) to TARGET instead of each request's recorded forward target.
    #[arg(long, value_name = "TARGET")]
    pub forward: Option<Target>,
    /// Give up on the handler after this long when replaying (seconds, or 500ms, 2m ...).
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_duration)]
    pub timeout: Duration,
    /// How R re-signs.
    #[command(flatten)]
    pub signing: SigningArgs,
    /// The inspector's colours: dark, light or mono (default: the config file's `theme`, else
    /// mono when NO_COLOR is set, else dark).
    #[arg(long, value_enum, value_name = "THEME")]
    pub theme: Option<Palette>,
}

/// Export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// HAR 1.2, with the answers.
    Har,
    /// One curl command per request.
    Curl,
    /// webhook-dev fixture JSON (an array for several requests).
    Fixture,
}

/// `webhook-dev deliveries ...`.
#[derive(Debug, Subcommand)]
pub enum DeliveriesCommand {
    /// List deliveries, oldest first, with the success rate per target and event type.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Only deliveries with this status.
        #[arg(long, value_enum)]
        status: Option<DeliveryStatus>,
    },
}

/// `webhook-dev trigger`.
#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// Trust for https:// handlers.
    #[command(flatten)]
    pub handler_tls: HandlerTlsArgs,
    /// The provider profile (`webhook-dev profiles` lists them).
    pub profile: String,
    /// The event (`webhook-dev profiles NAME` lists them).
    pub event: String,
    /// Where to send it (default: a local `webhook-dev listen`).
    #[arg(long, value_name = "TARGET", default_value_t = format!("http://127.0.0.1:{DEFAULT_PORT}").parse().expect("the default target parses"))]
    pub to: Target,
    /// The signing secret: a literal, env:VAR or file:PATH. Unsigned without it.
    #[arg(long, value_name = "SECRET")]
    pub secret: Option<SecretSpec>,
    /// Change a field of the payload: data.field=value (JSON values are parsed).
    #[arg(long, value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Delays between attempts, e.g. 1m,5m,15m,1h (default: the profile's; `none` for one attempt).
    #[arg(long, value_name = "LIST")]
    pub retry_schedule: Option<String>,
    /// Give up on an answer after this long (default: the provider's limit for synchronous events, else 30 s).
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Print the delivery as JSON.
    #[arg(long)]
    pub json: bool,
    /// Fire the event through a running `webhook-dev emulate` (its URL): it goes to every active
    /// subscription of the event, signed with each one's secret, retried by the emulator.
    #[arg(long, value_name = "URL", conflicts_with_all = ["to", "secret", "retry_schedule", "timeout"])]
    pub emulator: Option<Target>,
}

/// `webhook-dev replay`.
#[derive(Debug, Args)]
#[command(mut_args(help_texts(&[
        ("profile", "The profile to sign with (default: the one the request was checked with)"),
        ("config", "Routes by path prefix (profile, secret) from a TOML file, as for `listen` (default: $WEBHOOK_DEV_CONFIG, else ./webhook-dev.toml; none for no file)"),
])))]
pub struct ReplayArgs {
    /// Trust for https:// handlers.
    #[command(flatten)]
    pub handler_tls: HandlerTlsArgs,
    /// Stored request ids (unique prefixes allowed) or fixture files.
    #[arg(required = true, value_name = "ID|FILE")]
    pub sources: Vec<String>,
    /// Send to TARGET instead of where each request was forwarded.
    #[arg(long, value_name = "TARGET")]
    pub to: Option<Target>,
    /// Give each request a fresh timestamp and sign it again; a message id (webhook-id) is kept.
    #[arg(long)]
    pub resign: bool,
    /// With --resign, also give each request a new message id (a new message, not a resend).
    #[arg(long, requires = "resign")]
    pub new_id: bool,
    /// How --resign signs.
    #[command(flatten)]
    pub signing: SigningArgs,
    /// Send each request N times (idempotency testing).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub times: u32,
    /// At most N requests in flight.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u64).range(1..=1000), |n| n as usize))]
    pub concurrency: usize,
    /// Send in random order, as providers may.
    #[arg(long)]
    pub shuffle: bool,
    /// Give up on an answer after this long.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_duration)]
    pub timeout: Duration,
    /// One JSON summary per replay.
    #[arg(long)]
    pub json: bool,
}

/// `webhook-dev listen`.
#[derive(Debug, Args)]
#[command(mut_args(help_texts(&[
        ("profile", "Verify signatures and check events with this provider profile (a name, or a .toml file)"),
        ("secret", "The signing secret: a literal, env:VAR or file:PATH. Without --profile, the scheme is detected from each request's headers"),
        ("config", "Routes by path prefix (profile, secret, forward target) from a TOML file (default: $WEBHOOK_DEV_CONFIG, else ./webhook-dev.toml; none for no file)"),
])))]
pub struct ListenArgs {
    /// Trust for https:// handlers.
    #[command(flatten)]
    pub handler_tls: HandlerTlsArgs,
    /// Address to listen on: HOST:PORT or PORT.
    #[arg(long, default_value_t = format!("127.0.0.1:{DEFAULT_PORT}"), value_parser = parse_addr)]
    pub addr: String,
    /// Forward every request to TARGET: 3000, localhost:3000 or http://host:port/base.
    #[arg(long, value_name = "TARGET")]
    pub forward: Option<Target>,
    /// How requests are verified, and the routes.
    #[command(flatten)]
    pub signing: SigningArgs,
    /// With no --forward, answer senders with STATUS or STATUS:BODY.
    #[arg(long, value_name = "STATUS[:BODY]", default_value = "200")]
    pub respond: FixedAnswer,
    /// Print one JSON object per line: a `listening` event, then one per request.
    #[arg(long)]
    pub json: bool,
    /// Print one line per request instead of opening the inspector.
    #[arg(long)]
    pub no_tui: bool,
    /// Lines held for a stdout that is not keeping up (--json, --no-tui); past it request lines
    /// are dropped and their count printed.
    #[arg(long, value_name = "LINES", default_value_t = 10_000)]
    pub output_buffer: usize,
    /// The inspector's colours: dark, light or mono (default: the config file's `theme`, else
    /// mono when NO_COLOR is set, else dark).
    #[arg(long, value_enum, value_name = "THEME")]
    pub theme: Option<Palette>,
    /// Give up on the handler after this long (seconds, or 500ms, 2m ...); the sender gets 504.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Refuse bodies larger than this with 413 (bytes, or 512KiB, 10MiB ...).
    #[arg(long, value_name = "BYTES", default_value = "10MiB", value_parser = parse_size)]
    pub max_body: usize,
    /// Store at most this much of each handler answer (the sender still gets all of it, streamed);
    /// a longer answer is marked truncated.
    #[arg(long, value_name = "BYTES", default_value = "1MiB", value_parser = parse_size)]
    pub max_stored_answer: usize,
    /// Close connections that take longer than this to send a request head.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// Answer 408 to clients that take longer than this to send a body once its head arrived.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_duration)]
    pub body_timeout: Duration,
    /// `process`: a stored request survives webhook-dev being killed; `power`: also power loss (fsync).
    #[arg(long, value_enum, default_value_t = Durability::Process)]
    pub durability: Durability,
    /// Also receive the webhooks sent to a relay: ws://HOST:PORT/CHANNEL or wss://HOST/CHANNEL.
    #[arg(long, value_name = "URL", requires = "relay_token")]
    pub relay: Option<RelayUrl>,
    /// The channel's token (`webhook-dev relay token CHANNEL` prints it), or env:VAR or file:PATH.
    #[arg(long, value_name = "TOKEN", env = "WEBHOOK_DEV_RELAY_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub relay_token: Option<Token>,
    /// For wss://, also trust the CA certificate(s) in this PEM file (e.g. a self-signed relay).
    #[arg(long, value_name = "FILE", requires = "relay")]
    pub relay_ca: Option<PathBuf>,
    /// Keep the relay channel while this listener is healthy: a newer listener with the same token
    /// is refused instead of taking it over (the default: the newest connection wins).
    #[arg(long, requires = "relay")]
    pub no_takeover: bool,
}

/// `webhook-dev relay`: serve, or `relay token CHANNEL`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct RelayArgs {
    /// Print a channel token instead of serving.
    #[command(subcommand)]
    pub command: Option<RelayCommand>,
    /// Address to listen on: HOST:PORT (0.0.0.0:PORT to accept providers from anywhere).
    #[arg(long, required = true, value_parser = parse_addr)]
    pub addr: Option<String>,
    /// The secret channel tokens derive from (at least 16 bytes): a literal, env:VAR or file:PATH.
    #[arg(long, required = true, env = "WEBHOOK_DEV_RELAY_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub secret: Option<Secret>,
    /// Serve HTTPS and wss:// with this PEM certificate chain.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The 2xx status a provider gets when no listener is connected (its request is queued).
    #[arg(long, value_name = "STATUS", default_value_t = 202)]
    pub offline_status: u16,
    /// How long a provider waits for the listener's answer before getting 504 (the request stays queued).
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_duration)]
    pub answer_timeout: Duration,
    /// Refuse request bodies larger than this with 413 (at most 16MiB).
    #[arg(long, value_name = "BYTES", default_value = "10MiB", value_parser = parse_size)]
    pub max_body: usize,
    /// Refuse requests with 507 once a channel has this many queued.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_queue: usize,
    /// Refuse requests with 429 above this many per second per channel (bursts of twice that); 0 for no limit.
    #[arg(long, value_name = "PER_SEC", default_value_t = 1000)]
    pub max_rate: u32,
    /// Serve at most this many connections at once; more are closed as they arrive.
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// At most this many connections without a verified listener token or a request to an
    /// existing channel yet; past it a newcomer closes the oldest such connection.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_unauthenticated: u64,
    /// At most this many such connections from one client address; more are closed on arrival.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_unauthenticated_per_address: u64,
    /// Serve only these channels (comma-separated); others get 404. Default: any channel.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub channels: Option<Vec<String>>,
    /// Accept requests for channels no listener has opened yet (default: 404 until a listener
    /// holding the channel's token first connects).
    #[arg(long)]
    pub open_channels: bool,
    /// Refuse requests with 507 once this many bytes (bodies and headers) are queued, all
    /// channels together.
    #[arg(long, value_name = "BYTES", default_value = "1GiB", value_parser = parse_size)]
    pub max_queue_bytes: usize,
    /// `process`: a queued request survives the relay being killed; `power`: also power loss (fsync).
    #[arg(long, value_enum, default_value_t = Durability::Process)]
    pub durability: Durability,
    /// Keep the queue in PostgreSQL (postgres://USER@HOST:PORT/DB) instead of SQLite in --store:
    /// several relays with the same --queue and --secret act as one relay.
    #[arg(
        long,
        value_name = "URL",
        env = "WEBHOOK_DEV_RELAY_QUEUE",
        hide_env_values = true
    )]
    pub queue: Option<QueueUrl>,
    /// With `sslmode=require` in --queue, also trust the CA certificate(s) in this PEM file.
    #[arg(long, value_name = "FILE", requires = "queue")]
    pub queue_ca: Option<PathBuf>,
    /// Print one JSON object per line.
    #[arg(long)]
    pub json: bool,
}

/// `--queue`: a PostgreSQL URL, whose password never reaches `Debug` or logs.
#[derive(Clone)]
pub struct QueueUrl(String);

impl QueueUrl {
    /// The URL, password included.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for QueueUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueueUrl(..)")
    }
}

impl std::str::FromStr for QueueUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !(s.starts_with("postgres://") || s.starts_with("postgresql://")) {
            return Err("expected postgres://USER@HOST:PORT/DATABASE".into());
        }
        Ok(QueueUrl(s.to_string()))
    }
}

/// `webhook-dev relay token ...`.
#[derive(Debug, Subcommand)]
pub enum RelayCommand {
    /// Print the token that lets a listener subscribe to CHANNEL.
    Token {
        /// The channel: letters, digits, '-', '_' or '.'.
        channel: String,
        /// The relay's secret: a literal, env:VAR or file:PATH.
        #[arg(long, env = "WEBHOOK_DEV_RELAY_SECRET", hide_env_values = true, value_parser = parse_secret)]
        secret: Secret,
    },
    /// Remove CHANNEL and its queued requests from the relay's queue (in --store, or --queue):
    /// providers get 404 again until a listener holding its token connects. Run it while the
    /// relay is stopped.
    Forget {
        /// The channel.
        channel: String,
        /// The relay's PostgreSQL queue, if it runs with one.
        #[arg(
            long,
            value_name = "URL",
            env = "WEBHOOK_DEV_RELAY_QUEUE",
            hide_env_values = true
        )]
        queue: Option<QueueUrl>,
        /// With `sslmode=require` in --queue, also trust the CA certificate(s) in this PEM file.
        #[arg(long, value_name = "FILE", requires = "queue")]
        queue_ca: Option<PathBuf>,
    },
}

/// `--secret` for the relay: a literal, `env:VAR` or `file:PATH`.
pub(crate) fn parse_secret(s: &str) -> Result<Secret, String> {
    crate::secrets::resolve(s).map_err(|e| format!("{e:#}"))
}

/// `--relay-token`: a literal, `env:VAR` or `file:PATH`.
pub(crate) fn parse_token(s: &str) -> Result<Token, String> {
    parse_secret(s).map(|secret| Token::new(secret.expose()))
}

/// `webhook-dev requests ...`.
#[derive(Debug, Subcommand)]
pub enum RequestsCommand {
    /// List captured requests, oldest first.
    List {
        /// One JSON summary per line.
        #[arg(long)]
        json: bool,
        /// Only the newest N.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Show one request whole: headers, body and the answer it got.
    Show {
        /// The request id (a unique prefix is enough).
        id: String,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Accepts `HOST:PORT` or a bare `PORT` (on 127.0.0.1).
pub(crate) fn parse_addr(s: &str) -> Result<String, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse::<u16>()
            .map(|port| format!("127.0.0.1:{port}"))
            .map_err(|_| format!("{s} is not a port"))
    } else if s
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
    {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not HOST:PORT or PORT"))
    }
}

/// Accepts bytes (`1048576`) or a unit (`512KiB`, `10MiB`, `1GB`).
pub(crate) fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 1048576 or 10MiB"))?;
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1024,
        "m" | "mb" => 1_000_000,
        "mib" => 1024 * 1024,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use B, KiB, MiB, GiB, kB, MB, GB)"
            ))
        }
    };
    number
        .checked_mul(factor)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{s:?} must be a positive size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MiB").unwrap(), 10 * 1024 * 1024);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert_eq!(parse_size("2kb").unwrap(), 2000);
        assert!(parse_size("ten").is_err());
        assert!(parse_size("0").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("0.25").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_addr("8080").unwrap(), "127.0.0.1:8080");
        assert_eq!(parse_addr("0.0.0.0:1").unwrap(), "0.0.0.0:1");
        assert_eq!(parse_addr("[::1]:9").unwrap(), "[::1]:9");
        assert!(parse_addr("localhost").is_err());
    }

    #[test]
    fn relay_arguments() {
        let cli = Cli::try_parse_from([
            "webhook-dev",
            "relay",
            "--addr",
            "0.0.0.0:8080",
            "--secret",
            "0123456789abcdef",
        ])
        .unwrap();
        let Command::Relay(args) = cli.command else {
            panic!("relay")
        };
        assert_eq!(args.addr.as_deref(), Some("0.0.0.0:8080"));
        assert!(!format!("{args:?}").contains("0123456789abcdef"));
        let cli = Cli::try_parse_from(["webhook-dev", "relay", "token", "acme", "--secret", "s"])
            .unwrap();
        assert!(matches!(
            cli.command,
            Command::Relay(RelayArgs {
                command: Some(RelayCommand::Token { .. }),
                ..
            })
        ));
        assert!(Cli::try_parse_from(["webhook-dev", "relay", "--secret", "s"]).is_err());
        let cli = Cli::try_parse_from([
            "webhook-dev",
            "listen",
            "--relay",
            "ws://127.0.0.1:1/acme",
            "--relay-token",
            "tok3n",
        ])
        .unwrap();
        let Command::Listen(args) = cli.command else {
            panic!("listen")
        };
        assert_eq!(args.relay.unwrap().channel(), "acme");
        assert!(!format!("{:?}", args.relay_token).contains("tok3n"));
        assert!(Cli::try_parse_from(["webhook-dev", "listen", "--relay", "ws://x/"]).is_err());
    }

    #[test]
    fn the_shared_signing_flags_keep_each_commands_help() {
        use clap::CommandFactory;
        let help = |command: &str, flag: &str| {
            Cli::command()
                .find_subcommand(command)
                .and_then(|c| c.get_arguments().find(|a| a.get_id() == flag).cloned())
                .and_then(|a| a.get_help().map(|h| h.to_string()))
                .unwrap_or_default()
        };
        assert!(help("listen", "secret").ends_with("detected from each request's headers"));
        assert!(help("inspect", "profile").contains("that R (re-signed replay) signs as"));
        assert!(help("replay", "profile").starts_with("The profile to sign with"));
        assert!(help("replay", "config").contains("as for `listen`"));
        assert_eq!(
            help("verify", "profile"),
            "The profile (default: the one the request was checked with)"
        );
        assert_eq!(
            help("verify", "secret"),
            "The signing secret: a literal, env:VAR or file:PATH"
        );
    }

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
