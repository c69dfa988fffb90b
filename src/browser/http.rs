//! Requests through gloo-net, reduced to what the app needs to decide on.

use gloo_net::http::{Request, RequestBuilder};

pub struct Response {
    pub status: u16,
    pub body: String,
    pub www_authenticate: Option<String>,
}

/// `Err` means no answer at all: the server is down, unreachable, or blocked by CORS.
pub async fn get(url: &str, bearer: Option<&str>) -> Result<Response, String> {
    let request = with_bearer(Request::get(url), bearer)
        .build()
        .map_err(|e| e.to_string())?;
    send(request).await
}

/// POSTs a JSON body.
pub async fn post_json(
    url: &str,
    bearer: Option<&str>,
    body: &impl serde::Serialize,
) -> Result<Response, String> {
    let body = crate::json::to_string(body).map_err(|e| e.to_string())?;
    let request = with_bearer(Request::post(url), bearer)
        .header("Content-Type", "application/json")
        .body(body)
        .map_err(|e| e.to_string())?;
    send(request).await
}

/// POSTs an `application/x-www-form-urlencoded` body (the token endpoint's format; a
/// CORS-safelisted content type, so no preflight).
pub async fn post_form(url: &str, body: String) -> Result<Response, String> {
    let request = Request::post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .map_err(|e| e.to_string())?;
    send(request).await
}

fn with_bearer(request: RequestBuilder, bearer: Option<&str>) -> RequestBuilder {
    match bearer {
        Some(token) => request.header("Authorization", &format!("Bearer {token}")),
        None => request,
    }
}

async fn send(request: Request) -> Result<Response, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let www_authenticate = response.headers().get("www-authenticate");
    Ok(Response {
        status: response.status(),
        www_authenticate,
        body: response.text().await.map_err(|e| e.to_string())?,
    })
}
