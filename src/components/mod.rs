//! Pieces shared by the pages.

mod countdown;
mod error_panel;
mod header;
mod loading;
mod require_session;

pub use countdown::{local_time_ms, time_left, Countdown};
pub use error_panel::ErrorPanel;
pub use header::Header;
pub use loading::loading;
pub use require_session::RequireSession;
