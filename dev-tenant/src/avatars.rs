//! `GET /avatars/{name}.svg`: the users' pictures, served by the tenant itself.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::pages::{avatar_svg, error_page};
use crate::Shared;

pub(crate) async fn avatar(State(st): State<Shared>, Path(file): Path<String>) -> Response {
    let user = file
        .strip_suffix(".svg")
        .and_then(|name| st.tenant.users.iter().find(|u| u.avatar_name() == name));
    match user {
        Some(u) => avatar_svg(&u.sub, &u.name),
        None => error_page(StatusCode::NOT_FOUND, "Not found", "No such avatar."),
    }
}
