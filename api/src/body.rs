//! Request bodies: read in full (at most [`MAX_BODY_BYTES`]) before any handler runs,
//! so that every answer leaves the connection with nothing unread.
//!
//! A body over the limit is answered 413, but only after the rest of it has been read
//! and thrown away (up to [`DRAIN_MAX_BYTES`] within [`DRAIN_TIMEOUT`]): a server that
//! answers and closes while the client is still sending makes the kernel reset the
//! connection, and the client then often sees the reset instead of the 413. Beyond
//! those bounds the 413 carries `Connection: close` and the connection is closed.

use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::routes::{error_response, too_large_response, MAX_BODY_BYTES};

/// The most of an oversized body read (and discarded) before answering 413.
pub const DRAIN_MAX_BYTES: u64 = 4 * 1024 * 1024;
/// How long reading an oversized body may take before the 413 is sent regardless.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

enum BodyError {
    /// Over the limit; `drained` if the whole body was read.
    TooLarge { drained: bool },
    /// The client's body could not be read (a broken chunked encoding, a reset).
    Unreadable,
}

/// Middleware: hands the handler a body already read in full, or answers 413 / 400.
pub(crate) async fn limit_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match read_limited(body, MAX_BODY_BYTES).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(BodyError::TooLarge { drained }) => {
            let mut response = too_large_response();
            if !drained {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
        Err(BodyError::Unreadable) => {
            let mut response = error_response(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the request body could not be read",
                None,
            );
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

async fn next_data(body: &mut Body) -> Option<Result<Option<Bytes>, axum::Error>> {
    let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await?;
    Some(frame.map(|f| f.into_data().ok()))
}

async fn read_limited(mut body: Body, limit: usize) -> Result<Bytes, BodyError> {
    // A declared Content-Length over the limit: no need to keep any of it.
    if body.size_hint().lower() > limit as u64 {
        return Err(BodyError::TooLarge {
            drained: drain(body, 0).await,
        });
    }
    let mut buffer = Vec::new();
    while let Some(data) = next_data(&mut body).await {
        let Some(data) = data.map_err(|_| BodyError::Unreadable)? else {
            continue; // trailers
        };
        if buffer.len() + data.len() > limit {
            let seen = (buffer.len() + data.len()) as u64;
            return Err(BodyError::TooLarge {
                drained: drain(body, seen).await,
            });
        }
        buffer.extend_from_slice(&data);
    }
    Ok(Bytes::from(buffer))
}

/// Reads and discards the rest of `body`, of which `seen` bytes were already read.
/// `true` if it ended within the bounds.
async fn drain(mut body: Body, mut seen: u64) -> bool {
    if seen.saturating_add(body.size_hint().lower()) > DRAIN_MAX_BYTES {
        return false;
    }
    let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, next_data(&mut body)).await {
            Ok(None) => return true,
            Ok(Some(Ok(data))) => {
                seen = seen.saturating_add(data.map_or(0, |d| d.len() as u64));
                if seen > DRAIN_MAX_BYTES {
                    return false;
                }
            }
            Ok(Some(Err(_))) | Err(_) => return false,
        }
    }
}
