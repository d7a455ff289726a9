//! Taking over the terminal, and always giving it back: on quit and error (a `Drop` guard), on
//! panic (a hook that restores before the message is printed), and around `$EDITOR`.
//!
//! While the inspector runs, stderr (where warnings are logged) goes to a log file in the store
//! directory, so a log line can never scribble over the screen; it is put back on restore.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};

static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Owns the terminal while the inspector runs; dropping it restores the terminal.
pub(crate) struct TerminalGuard {
    log: Option<PathBuf>,
}

fn take_over() -> io::Result<()> {
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    execute!(
        io::stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste,
        Hide
    )
}

/// Gives the terminal back: cooked mode, main screen, cursor shown, mouse released, stderr
/// back. Safe to call at any time, any number of times.
pub(crate) fn restore() {
    stderr::restore();
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(
            io::stdout(),
            DisableBracketedPaste,
            DisableMouseCapture,
            LeaveAlternateScreen,
            Show
        );
        let _ = io::stdout().flush();
    }
}

fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

impl TerminalGuard {
    /// Switches to raw mode and the alternate screen, capturing the mouse; stderr goes to
    /// `log` (appended) when it is a terminal.
    pub(crate) fn enter(log: Option<&Path>) -> io::Result<TerminalGuard> {
        install_panic_hook();
        let log = match log {
            Some(path) if io::stderr().is_terminal() => {
                stderr::redirect(path).ok().map(|()| path.to_path_buf())
            }
            _ => None,
        };
        let guard = TerminalGuard { log };
        take_over()?;
        Ok(guard)
    }

    /// Hands the terminal back for a while (to run an editor).
    pub(crate) fn suspend(&self) {
        restore();
    }

    /// Takes the terminal again after [`TerminalGuard::suspend`].
    pub(crate) fn resume(&self) -> io::Result<()> {
        if let Some(path) = &self.log {
            let _ = stderr::redirect(path);
        }
        take_over()
    }
}

/// Stops this process as Ctrl-Z does in a shell (SIGTSTP); returns once it is continued (`fg`).
pub(crate) fn stop_this_process() {
    #[cfg(unix)]
    // SAFETY: raising a signal in this process has no memory-safety preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::raise(libc::SIGTSTP);
    }
}

/// Turns mouse reporting on or off (off lets the terminal select text).
pub(crate) fn capture_mouse(on: bool) -> io::Result<()> {
    if on {
        execute!(io::stdout(), EnableMouseCapture)
    } else {
        execute!(io::stdout(), DisableMouseCapture)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

#[cfg(unix)]
// Pointing fd 2 elsewhere and back needs dup/dup2, which std does not offer.
#[allow(unsafe_code)]
mod stderr {
    use std::os::fd::AsRawFd as _;
    use std::path::Path;
    use std::sync::atomic::{AtomicI32, Ordering};

    static SAVED: AtomicI32 = AtomicI32::new(-1);

    /// Points fd 2 at `path` (appending), keeping the original to put back.
    pub(crate) fn redirect(path: &Path) -> std::io::Result<()> {
        if SAVED.load(Ordering::SeqCst) >= 0 {
            return Ok(());
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        // SAFETY: dup/dup2 on valid descriptors; the saved copy is closed once, in `restore`.
        let saved = unsafe { libc::dup(2) };
        if saved < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if unsafe { libc::dup2(file.as_raw_fd(), 2) } < 0 {
            unsafe { libc::close(saved) };
            return Err(std::io::Error::last_os_error());
        }
        SAVED.store(saved, Ordering::SeqCst);
        Ok(())
    }

    /// Puts the original stderr back.
    pub(crate) fn restore() {
        let saved = SAVED.swap(-1, Ordering::SeqCst);
        if saved >= 0 {
            // SAFETY: `saved` came from dup in `redirect` and is closed only here.
            unsafe {
                libc::dup2(saved, 2);
                libc::close(saved);
            }
        }
    }
}

#[cfg(not(unix))]
mod stderr {
    use std::path::Path;

    pub(crate) fn redirect(_path: &Path) -> std::io::Result<()> {
        Err(std::io::Error::other("not supported"))
    }

    pub(crate) fn restore() {}
}
