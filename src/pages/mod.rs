//! One file per route, plus the start-up error screen.

mod appointments;
mod callback;
pub(crate) mod login;
mod not_found;
mod profile;
mod startup_error;
mod tokens;

pub use appointments::AppointmentsPage;
pub use callback::CallbackPage;
pub use login::LoginPage;
pub use not_found::not_found_page;
pub use profile::ProfilePage;
pub use startup_error::startup_error_page;
pub use tokens::TokensPage;
