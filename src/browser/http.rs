//! GET requests through gloo-net, reduced to what the app needs to decide on.

use gloo_net::http::Request;

pub struct Response {
    pub status: u16,
    pub body: String,
    pub www_authenticate: Option<String>,
}

/// `Err` means no answer at all: the server is down, unreachable, or blocked by CORS.
pub async fn get(url: &str, bearer: Option<&str>) -> Result<Response, String> {
    let mut request = Request::get(url);
    if let Some(token) = bearer {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let www_authenticate = response.headers().get("www-authenticate");
    Ok(Response {
        status: response.status(),
        www_authenticate,
        body: response.text().await.map_err(|e| e.to_string())?,
    })
}
