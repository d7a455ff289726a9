//! Fixtures shared by the test modules.

pub mod common;
pub mod eventually;
pub mod pg;
pub mod relay;
pub mod tui;
