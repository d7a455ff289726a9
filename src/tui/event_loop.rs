//! The inspector's loop: terminal input, engine events, ticks and action results become
//! [`Message`]s for [`update`]; the [`Effect`]s it returns are carried out here.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyEventKind, MouseButton, MouseEventKind};
use ratatui::Terminal;
use tokio::sync::mpsc;

use super::actions;
use super::app::{update, App};
use super::message::{Effect, Message, Status};
use super::terminal::TerminalGuard;
use super::ui;
use crate::checks::Checks;
use crate::delivery::DeliveryStatus;
use crate::engine::{Engine, EngineConfig, EngineEvent, FixedAnswer};
use crate::forward::Forwarder;
use crate::handler_tls::HandlerTls;
use crate::model::format_time;
use crate::replay::{delivery_for, send_and_log, Sent};
use crate::store::{Durability, Store};
use crate::target::Target;

/// How often the clock (sparkline, status expiry) and, in inspect mode, the store are looked at.
const TICK: Duration = Duration::from_millis(500);

/// Where replays go.
pub(crate) enum Replayer {
    /// `listen`: through the running engine (stored, forwarded, shown as it arrives).
    Engine(Arc<Engine>),
    /// `inspect`: through engines made on demand, writing to the same store.
    Store {
        /// The store directory.
        dir: PathBuf,
        /// `--forward`, else each request's recorded target.
        forward: Option<Target>,
        /// Forward timeout.
        timeout: Duration,
        /// Trust for https:// handlers.
        tls: HandlerTls,
        /// What replays are checked with (as `listen` would).
        checks: Checks,
        /// The writer, opened at the first replay.
        store: Option<Store>,
        /// One engine per target.
        engines: HashMap<String, Arc<Engine>>,
        /// Where those engines report (each report triggers a look at the store).
        events: mpsc::UnboundedSender<EngineEvent>,
    },
}

impl Replayer {
    fn engine_for(&mut self, recorded_base: Option<&str>) -> Result<Arc<Engine>, String> {
        match self {
            Replayer::Engine(engine) => Ok(engine.clone()),
            Replayer::Store {
                dir,
                forward,
                timeout,
                tls,
                checks,
                store,
                engines,
                events,
            } => {
                let target = match (forward.as_ref(), recorded_base) {
                    (Some(target), _) => target.clone(),
                    (None, Some(base)) => base
                        .parse::<Target>()
                        .map_err(|e| format!("cannot replay to the recorded target: {e}"))?,
                    (None, None) => {
                        return Err("no forward target: start inspect with --forward TARGET".into())
                    }
                };
                let key = target.to_string();
                if let Some(engine) = engines.get(&key) {
                    return Ok(engine.clone());
                }
                if store.is_none() {
                    *store = Some(
                        Store::open(dir, Durability::Process)
                            .map_err(|e| format!("cannot open the store for writing: {e:#}"))?,
                    );
                }
                let engine = Arc::new(Engine::new(
                    store.clone().expect("just opened"),
                    EngineConfig {
                        forwarder: Some(
                            Forwarder::with_tls(target, *timeout, tls)
                                .map_err(|e| format!("cannot set up TLS to the handler: {e:#}"))?,
                        ),
                        respond: FixedAnswer::default(),
                        checks: checks.clone(),
                    },
                    events.clone(),
                ));
                engines.insert(key, engine.clone());
                Ok(engine)
            }
        }
    }

    fn close(self) {
        if let Replayer::Store {
            store: Some(store),
            engines,
            ..
        } = self
        {
            drop(engines);
            store.close();
        }
    }
}

enum Control {
    Pause,
    Resume,
}

/// Reads the terminal on its own thread; can be paused while an editor owns the terminal.
struct InputThread {
    control: std_mpsc::Sender<Control>,
    paused: std_mpsc::Receiver<()>,
}

impl InputThread {
    fn start() -> (InputThread, mpsc::UnboundedReceiver<Event>) {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (control, control_rx) = std_mpsc::channel();
        let (paused_tx, paused) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("tui-input".into())
            .spawn(move || loop {
                match control_rx.try_recv() {
                    Ok(Control::Pause) => {
                        let _ = paused_tx.send(());
                        match control_rx.recv() {
                            Ok(Control::Resume) => continue,
                            _ => return,
                        }
                    }
                    Ok(Control::Resume) => {}
                    Err(std_mpsc::TryRecvError::Disconnected) => return,
                    Err(std_mpsc::TryRecvError::Empty) => {}
                }
                match event::poll(Duration::from_millis(50)) {
                    Ok(true) => match event::read() {
                        Ok(ev) => {
                            if events_tx.send(ev).is_err() {
                                return;
                            }
                        }
                        Err(_) => return,
                    },
                    Ok(false) => {}
                    Err(_) => return,
                }
            })
            .expect("an input thread can be started");
        (InputThread { control, paused }, events_rx)
    }

    fn pause(&self) {
        if self.control.send(Control::Pause).is_ok() {
            let _ = self.paused.recv_timeout(Duration::from_secs(2));
        }
    }

    fn resume(&self) {
        let _ = self.control.send(Control::Resume);
    }
}

/// The message for a terminal event, if it means anything to the inspector.
pub(crate) fn translate(event: Event) -> Option<Message> {
    match event {
        Event::Key(key) if key.kind == KeyEventKind::Press => Some(Message::Key(key)),
        Event::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollDown => Some(Message::Scroll(3)),
            MouseEventKind::ScrollUp => Some(Message::Scroll(-3)),
            MouseEventKind::Down(MouseButton::Left) => {
                Some(Message::Click(mouse.column, mouse.row))
            }
            _ => None,
        },
        Event::Resize(width, height) => Some(Message::Resize(width, height)),
        Event::Paste(text) => Some(Message::Paste(text)),
        _ => None,
    }
}

impl Inspector {
    /// Draws with `theme`.
    pub(crate) fn with_theme(mut self, theme: super::theme::Theme) -> Inspector {
        self.app.theme = theme;
        self
    }
}

/// A running inspector.
pub(crate) struct Inspector {
    /// The state.
    pub app: App,
    /// Engine events: requests (listen) or replays having been recorded (inspect).
    pub(super) events: Option<mpsc::UnboundedReceiver<EngineEvent>>,
    /// In inspect mode, engine events only say "look at the store".
    pub(super) events_mean_poll: bool,
    /// Where replays go.
    pub(super) replayer: Replayer,
    /// Where warnings go while the terminal is taken.
    pub(super) log: Option<PathBuf>,
    /// Read what others add to the store on every tick (inspect, and listen).
    pub(super) poll_on_tick: bool,
    /// Stops the listener accepting requests (quitting waits for those in flight).
    pub(super) stop_accepting: Option<Box<dyn FnOnce() + Send>>,
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl Inspector {
    /// Takes the terminal and runs until `q`; the terminal is restored however it ends.
    pub(crate) async fn run(self) -> anyhow::Result<()> {
        let Inspector {
            mut app,
            mut events,
            events_mean_poll,
            mut replayer,
            log,
            poll_on_tick,
            mut stop_accepting,
        } = self;
        let log_size_before = log
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len());
        let guard = TerminalGuard::enter(log.as_deref())?;
        let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        terminal.clear()?;
        let size = terminal.size()?;
        update(&mut app, Message::Resize(size.width, size.height));
        update(&mut app, Message::Tick(now_us()));
        let (input, mut keys) = InputThread::start();
        let (results, mut results_rx) = mpsc::unbounded_channel::<Message>();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut batch = Vec::new();
        let outcome: anyhow::Result<()> = async {
            loop {
                terminal.draw(|frame| ui::draw(frame, &app))?;
                let mut messages = Vec::new();
                tokio::select! {
                    key = keys.recv() => match key {
                        Some(first) => {
                            messages.extend(translate(first));
                            while let Ok(more) = keys.try_recv() {
                                messages.extend(translate(more));
                            }
                        }
                        None => anyhow::bail!("the terminal input closed"),
                    },
                    n = async {
                        match events.as_mut() {
                            Some(rx) => rx.recv_many(&mut batch, 1024).await,
                            None => std::future::pending().await,
                        }
                    } => {
                        if n == 0 {
                            events = None;
                        }
                        for event in batch.drain(..) {
                            if events_mean_poll {
                                messages.push(Message::Poll);
                            } else {
                                messages.push(Message::Engine(event));
                            }
                        }
                    },
                    Some(result) = results_rx.recv() => messages.push(result),
                    _ = tick.tick() => {
                        messages.push(Message::Tick(now_us()));
                        if poll_on_tick {
                            // What the engine reported before the store has it comes first, so
                            // the poll knows to skip it.
                            if let (Some(rx), false) = (events.as_mut(), events_mean_poll) {
                                while let Ok(event) = rx.try_recv() {
                                    messages.push(Message::Engine(event));
                                }
                            }
                            messages.push(Message::Poll);
                        }
                    },
                }
                for message in messages {
                    for effect in update(&mut app, message) {
                        if let Effect::StopAccepting = effect {
                            if let Some(stop) = stop_accepting.take() {
                                stop();
                            }
                            continue;
                        }
                        // Taking the terminal back turns mouse capture on again.
                        let retakes = matches!(effect, Effect::Suspend | Effect::Edit { .. });
                        carry_out(
                            effect,
                            &mut replayer,
                            &results,
                            &guard,
                            &input,
                            &mut terminal,
                        )?;
                        if retakes && !app.mouse {
                            super::terminal::capture_mouse(false)?;
                        }
                    }
                }
                if app.quit {
                    return Ok(());
                }
            }
        }
        .await;
        drop(terminal);
        drop(guard);
        drop(input);
        if app.quit_at_once {
            let pending = app.rows.counts().pending;
            eprintln!(
                "webhook-dev: quit at once; {pending} request(s) in flight may not have been answered"
            );
            std::process::exit(130);
        }
        if let Some(stop) = stop_accepting.take() {
            stop();
        }
        tokio::task::spawn_blocking(move || replayer.close()).await?;
        if let Some(path) = &log {
            let size = std::fs::metadata(path).map_or(0, |m| m.len());
            if size > log_size_before {
                eprintln!(
                    "webhook-dev: warnings were logged while the inspector ran; see {}",
                    path.display()
                );
            }
        }
        outcome
    }
}

/// Inside tmux with `set-clipboard off`, OSC 52 never reaches the clipboard.
fn tmux_clipboard_off() -> bool {
    std::env::var_os("TMUX").is_some()
        && std::process::Command::new("tmux")
            .args(["show-options", "-gv", "set-clipboard"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "off")
}

fn carry_out(
    effect: Effect,
    replayer: &mut Replayer,
    results: &mpsc::UnboundedSender<Message>,
    guard: &TerminalGuard,
    input: &InputThread,
    terminal: &mut Terminal<CrosstermBackend<io::Stdout>>,
) -> anyhow::Result<()> {
    match effect {
        Effect::Replay {
            original,
            mut head,
            body,
            recorded_base,
            label,
            edited,
        } => match replayer.engine_for(recorded_base.as_deref()) {
            Ok(engine) => {
                let results = results.clone();
                tokio::spawn(async move {
                    let id = engine.next_id();
                    head.id = Some(id.clone());
                    if edited {
                        let _ = results.send(Message::EditedReplay(id.clone()));
                    }
                    // Logged like `webhook-dev replay` does, for `deliveries list`.
                    let sent = send_and_log(&engine, *head, body, |exchange| {
                        let created_at = format_time(&chrono::Utc::now());
                        delivery_for(exchange, "replay", Some(original.clone()), 1, created_at)
                    });
                    let status = match sent.await {
                        Ok(Sent {
                            exchange,
                            delivery: None,
                            ..
                        }) => Status::info(format!(
                            "{label} of {original} recorded as {id}: not forwarded (no --forward), webhook-dev answered {}",
                            exchange.response.status
                        )),
                        Ok(Sent {
                            exchange,
                            delivery: Some(delivery),
                            logged,
                        }) => {
                            let mut text = format!(
                                "{label} of {original} recorded as {id}: answered {}",
                                exchange.response.status
                            );
                            if let Some(error) = &delivery.error_message {
                                text.push_str(&format!(" ({error})"));
                            }
                            if let Err(e) = logged {
                                text.push_str(&format!("; the delivery was not logged: {e}"));
                            }
                            if delivery.status == DeliveryStatus::Success {
                                Status::info(text)
                            } else {
                                Status::error(text)
                            }
                        }
                        Err(e) => {
                            Status::error(format!("{label} of {original} could not be stored: {e}"))
                        }
                    };
                    let _ = results.send(Message::Status(status));
                });
            }
            Err(e) => {
                let _ = results.send(Message::Status(Status::error(e)));
            }
        },
        Effect::Edit { original, text } => {
            input.pause();
            guard.suspend();
            let edited = tokio::task::block_in_place(|| {
                actions::edit_in_editor(&original, text.as_bytes(), "http")
            });
            guard.resume()?;
            terminal.clear()?;
            input.resume();
            let message = match edited {
                Ok(edited) if edited == text.as_bytes() => Message::Status(Status::info(
                    "nothing changed: nothing replayed (r replays as is)",
                )),
                Ok(edited) => Message::Edited {
                    original,
                    text: Ok(edited),
                },
                Err(e) => Message::Edited {
                    original,
                    text: Err(e),
                },
            };
            let _ = results.send(message);
        }
        Effect::Copy { text, what } => {
            use std::io::Write as _;
            let backend = terminal.backend_mut();
            let written = backend
                .write_all(actions::osc52(&text).as_bytes())
                .and_then(|()| backend.flush());
            let status = match written {
                Ok(()) if tmux_clipboard_off() => Status::error(format!(
                    "the {what} was sent, but tmux's set-clipboard is off, so it did not reach the clipboard: run `tmux set -g set-clipboard on`"
                )),
                Ok(()) => Status::info(format!(
                    "copied to the clipboard ({} bytes, OSC 52): the {what}",
                    text.len()
                )),
                Err(e) => Status::error(format!("cannot copy: {e}")),
            };
            let _ = results.send(Message::Status(status));
        }
        Effect::StopAccepting => {}
        Effect::Suspend => {
            input.pause();
            guard.suspend();
            super::terminal::stop_this_process();
            guard.resume()?;
            terminal.clear()?;
            input.resume();
        }
        Effect::Mouse(on) => super::terminal::capture_mouse(on)?,
        Effect::Save { path, contents } => {
            let status = match actions::save_new_file(&path, &contents) {
                Ok(saved) => Status::info(format!("saved the fixture to {}", saved.display())),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Status::error(format!(
                    "{} exists already: nothing saved (s again to pick another name)",
                    path.display()
                )),
                Err(e) => Status::error(format!("cannot save {}: {e}", path.display())),
            };
            let _ = results.send(Message::Status(status));
        }
    }
    Ok(())
}
