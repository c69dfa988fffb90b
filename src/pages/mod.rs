//! One file per route, plus the start-up error screen.

mod appointments;
mod callback;
mod login;
mod not_found;
mod startup_error;

pub use appointments::AppointmentsPage;
pub use callback::CallbackPage;
pub use login::LoginPage;
pub use not_found::NotFoundPage;
pub use startup_error::StartupErrorPage;
