//! Requests through gloo-net, reduced to what the app needs to decide on.

use gloo_net::http::{Request, RequestBuilder};

pub struct Response {
    pub status: u16,
    pub body: String,
    pub www_authenticate: Option<String>,
    /// A DPoP server's nonce for the next proof (RFC 9449 §8, §9).
    pub dpop_nonce: Option<String>,
}

/// A request body with its content type.
pub enum Body {
    Json(String),
    /// `application/x-www-form-urlencoded`: the token endpoint's format, and a
    /// CORS-safelisted type (no preflight unless a `DPoP` header is added).
    Form(String),
}

/// `GET` without credentials (configuration, discovery, keys). `Err` means no answer at all:
/// the server is down, unreachable, or blocked by CORS.
pub async fn get(url: &str) -> Result<Response, String> {
    send("GET", url, &[], None).await
}

/// Any request, with extra headers (`Authorization`, `DPoP`) and an optional body.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Body>,
) -> Result<Response, String> {
    let mut request = match method {
        "POST" => Request::post(url),
        _ => Request::get(url),
    };
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = match body {
        None => request.build(),
        Some(Body::Json(text)) => with_type(request, "application/json").body(text),
        Some(Body::Form(text)) => {
            with_type(request, "application/x-www-form-urlencoded").body(text)
        }
    }
    .map_err(|e| e.to_string())?;
    let response = request.send().await.map_err(|e| e.to_string())?;
    let headers = response.headers();
    Ok(Response {
        status: response.status(),
        www_authenticate: headers.get("www-authenticate"),
        dpop_nonce: headers.get("dpop-nonce"),
        body: response.text().await.map_err(|e| e.to_string())?,
    })
}

fn with_type(request: RequestBuilder, content_type: &str) -> RequestBuilder {
    request.header("Content-Type", content_type)
}
