//! The HTTP surface: `/api/appointments`, `/healthz`, `/readyz`, CORS, the body limit and
//! request logging.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::HeaderName;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::{self, Authenticator, Principal, Rejection, CREATE_SCOPE, READ_SCOPE};
use crate::store::{Created, IdempotencyKey, NewAppointment, Store, StoreError};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest title or location, in characters.
pub const MAX_TEXT_CHARS: usize = 200;
/// The request header that makes a create safe to send again.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on the answer to a create that an `Idempotency-Key` had already made.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
/// Seconds a client is asked to wait after a 503.
pub const RETRY_AFTER_SECS: &str = "5";

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) store: Store,
}

/// Filled in by the handlers once the token's `sub` is known, read by the request log.
#[derive(Clone, Default)]
struct LogSub(Arc<OnceLock<String>>);

pub(crate) fn router(state: AppState, origins: Vec<HeaderValue>) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            AUTHORIZATION,
            CONTENT_TYPE,
            HeaderName::from_static(auth::DPOP),
            HeaderName::from_static(IDEMPOTENCY_KEY),
        ])
        .expose_headers([
            WWW_AUTHENTICATE,
            LOCATION,
            HeaderName::from_static("dpop-nonce"),
            HeaderName::from_static(IDEMPOTENT_REPLAYED),
            RETRY_AFTER,
        ])
        .max_age(Duration::from_secs(600));
    Router::new()
        .route("/api/appointments", get(list).post(create))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .with_state(state)
        .layer(middleware::from_fn(crate::body::limit_body))
        .layer(cors)
        .layer(middleware::from_fn(log_request))
}

/// One line per request: method, path (never the query), status, duration, `sub`.
async fn log_request(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let sub = LogSub::default();
    request.extensions_mut().insert(sub.clone());
    let response = next.run(request).await;
    println!(
        "{method} {path} {} {:.1}ms sub={}",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0,
        sub.0.get().map(String::as_str).unwrap_or("-"),
    );
    response
}

/// Liveness: the process runs and serves. Never looks at the database, so that a load
/// balancer or orchestrator does not restart instances because the database is down.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness, for load balancers: 200 while the database answers (and, for PostgreSQL, its
/// schema is set up), 503 otherwise.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ready().await {
        Ok(()) => {
            Json(json!({ "status": "ready", "database": state.store.engine() })).into_response()
        }
        Err(StoreError::Unavailable(_)) => unavailable(),
        Err(e) => store_error(e),
    }
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", "no such endpoint", None)
}

pub(crate) fn error_response(
    status: StatusCode,
    error: &str,
    description: &str,
    field: Option<&str>,
) -> Response {
    let mut body = json!({ "error": error, "error_description": description });
    if let Some(field) = field {
        body["field"] = json!(field);
    }
    (status, Json(body)).into_response()
}

async fn authenticate(
    state: &AppState,
    parts: &Parts,
    form_body: Option<&[u8]>,
    scope: &'static str,
) -> Result<Principal, Rejection> {
    let principal = state.auth.authenticate(parts, form_body).await?;
    if let Some(slot) = parts.extensions.get::<LogSub>() {
        let _ = slot.0.set(principal.sub.clone());
    }
    principal.require_scope(scope)?;
    Ok(principal)
}

async fn list(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    let principal = match authenticate(&state, &parts, None, READ_SCOPE).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    match state.store.list(&principal.sub).await {
        Ok(appointments) => Json(appointments).into_response(),
        Err(e) => store_error(e),
    }
}

async fn create(State(state): State<AppState>, request: Request) -> Response {
    // The body is at most MAX_BODY_BYTES, already read (crate::body::limit_body).
    let (parts, body) = request.into_parts();
    // A form body might carry a token (RFC 6750 §2.2), which is refused; JSON bodies
    // are not read until the caller is known.
    if auth::is_form_body(&parts.headers) {
        let form = match read_body(body).await {
            Ok(b) => b,
            Err(response) => return response,
        };
        if let Err(e) = authenticate(&state, &parts, Some(&form), CREATE_SCOPE).await {
            return e.into_response();
        }
        return invalid_appointment("body", "the request body must be a JSON object");
    }
    let principal = match authenticate(&state, &parts, None, CREATE_SCOPE).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let key = match idempotency_key(&parts.headers) {
        Ok(key) => key,
        Err(description) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &description,
                None,
            )
        }
    };
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let new = match parse_new_appointment(&bytes) {
        Ok(new) => new,
        Err((field, description)) => return invalid_appointment(field, &description),
    };
    match state.store.create(&principal.sub, new, key.as_ref()).await {
        Ok(created) => {
            let replayed = matches!(created, Created::Replayed(_));
            let appointment = created.appointment();
            let location = format!("/api/appointments/{}", appointment.id);
            let mut response = (StatusCode::CREATED, Json(appointment)).into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(LOCATION, v);
            }
            if replayed {
                response.headers_mut().insert(
                    HeaderName::from_static(IDEMPOTENT_REPLAYED),
                    HeaderValue::from_static("true"),
                );
            }
            response
        }
        Err(e) => store_error(e),
    }
}

/// The request's `Idempotency-Key`, if it has one; more than one, or a bad one, is refused.
fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<Option<IdempotencyKey>, String> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err("the request has more than one Idempotency-Key header".into()),
        (Some(value), None) => IdempotencyKey::parse(value.as_bytes()).map(Some),
    }
}

async fn read_body(body: Body) -> Result<axum::body::Bytes, Response> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            // `to_bytes` wraps http-body-util's `LengthLimitError` ("length limit exceeded").
            let mut too_large = false;
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(err) = source {
                too_large |= err.to_string().contains("length limit exceeded");
                source = err.source();
            }
            if too_large {
                too_large_response()
            } else {
                error_response(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the request body could not be read",
                    None,
                )
            }
        })
}

pub(crate) fn too_large_response() -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request_too_large",
        "the request body is larger than 16 KiB",
        None,
    )
}

fn invalid_appointment(field: &str, description: &str) -> Response {
    error_response(
        StatusCode::BAD_REQUEST,
        "invalid_appointment",
        description,
        Some(field),
    )
}

/// The answer to a store error. An outage is 503 and is not logged here: the store logs it
/// once, when it begins. Anything else is a 500 whose cause is logged, never sent.
fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::Unavailable(_) => unavailable(),
        StoreError::IdempotencyKeyReused => error_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used before for another request; send a new key for a \
             new appointment",
            None,
        ),
        StoreError::Internal(_) => {
            println!("internal error: {e}");
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the appointments could not be stored or read",
                None,
            )
        }
    }
}

/// 503 with `Retry-After`: the database cannot be had now.
fn unavailable() -> Response {
    let mut response = error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the appointments database is not answering; try again later",
        None,
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
    response
}

/// Checks a POST body, naming the first bad field.
pub fn parse_new_appointment(bytes: &[u8]) -> Result<NewAppointment, (&'static str, String)> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|_| ("body", "the request body is not valid JSON".to_string()))?;
    let Value::Object(object) = value else {
        return Err(("body", "the request body must be a JSON object".into()));
    };

    let title = match object.get("title") {
        None | Some(Value::Null) => return Err(("title", "title is required".into())),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(_) => return Err(("title", "title must be a string".into())),
    };
    if title.is_empty() {
        return Err(("title", "title must not be empty".into()));
    }
    if title.chars().count() > MAX_TEXT_CHARS {
        return Err((
            "title",
            format!("title must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }

    let start = parse_time(&object, "start")?;
    let end = parse_time(&object, "end")?;
    if end <= start {
        return Err(("end", "end must be after start".into()));
    }

    let location = match object.get("location") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(_) => return Err(("location", "location must be a string or null".into())),
    };
    if location
        .as_ref()
        .is_some_and(|l| l.chars().count() > MAX_TEXT_CHARS)
    {
        return Err((
            "location",
            format!("location must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(NewAppointment {
        title,
        start,
        end,
        location,
    })
}

fn parse_time(
    object: &serde_json::Map<String, Value>,
    field: &'static str,
) -> Result<OffsetDateTime, (&'static str, String)> {
    let message = || format!("{field} must be an RFC 3339 date-time, e.g. 2030-01-31T09:30:00Z");
    let Some(Value::String(text)) = object.get(field) else {
        return Err((field, message()));
    };
    let time = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| (field, message()))?;
    // Stored as nanoseconds since 1970 in an i64 (years 1678 to 2261).
    if i64::try_from(time.unix_timestamp_nanos()).is_err() {
        return Err((field, format!("{field} is out of range")));
    }
    Ok(time)
}
