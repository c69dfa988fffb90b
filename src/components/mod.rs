//! Pieces shared by the pages.

mod error_panel;
mod header;
mod loading;
mod require_session;

pub use error_panel::ErrorPanel;
pub use header::Header;
pub use loading::Loading;
pub use require_session::RequireSession;
