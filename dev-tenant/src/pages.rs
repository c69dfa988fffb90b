//! HTML rendering. Every value that comes from a request or a config file goes
//! through [`escape`].

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Content-Security-Policy of every HTML page: nothing third-party, no scripts.
/// No `form-action`: browsers apply it to the redirect that follows a form post too, and
/// the consent form's answer redirects to the application's (registered) callback.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
                       frame-ancestors 'none'; base-uri 'none'";

/// Escapes text for HTML element content and double- or single-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:#f3f4f6;
color:#111827;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;border-radius:10px;box-shadow:0 4px 18px rgba(0,0,0,.08);padding:2rem;
width:100%;max-width:24rem}
h1{font-size:1.35rem;margin:0 0 .4rem}
p{line-height:1.45}
.muted{color:#4b5563;font-size:.92rem}
label{display:block;font-weight:600;margin:1rem 0 .3rem}
input[type=email],input[type=text],input[type=password]{box-sizing:border-box;width:100%;
padding:.6rem;border:1px solid #9ca3af;border-radius:6px;font-size:1rem}
button{margin-top:1.2rem;padding:.65rem 1rem;border:0;border-radius:6px;font-size:1rem;
cursor:pointer;background:#4f46e5;color:#fff;width:100%}
button.secondary{background:#e5e7eb;color:#111827}
.buttons{display:flex;gap:.6rem}
.error{background:#fef2f2;color:#991b1b;border:1px solid #fecaca;border-radius:6px;padding:.6rem}
ul{padding-left:1.2rem}
li{margin:.35rem 0}
code{background:#f3f4f6;padding:.05rem .3rem;border-radius:4px}
footer{margin-top:1.4rem;font-size:.8rem;color:#6b7280}
";

/// A complete HTML page with the security headers HTML needs.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\
         <body><main>{body}<footer>Local development tenant &mdash; not a real identity provider.</footer></main></body></html>",
        title = escape(title),
    );
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        ],
        html,
    )
        .into_response()
}

/// An error page (never a redirect).
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    page(
        status,
        title,
        &format!(
            "<h1>{}</h1><p class=\"error\" role=\"alert\">{}</p>",
            escape(title),
            escape(message)
        ),
    )
}

/// The login form posted to `/u/login`.
pub fn login_page(
    status: StatusCode,
    tx: &str,
    app_name: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    let error_html = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in</h1>\
         <p class=\"muted\">to continue to <strong>{app}</strong></p>{error_html}\
         <form method=\"post\" action=\"/u/login\">\
         <input type=\"hidden\" name=\"tx\" value=\"{tx}\">\
         <label for=\"username\">Email address</label>\
         <input type=\"email\" id=\"username\" name=\"username\" value=\"{user}\" \
         autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" \
         autocomplete=\"current-password\" required>\
         <button type=\"submit\">Continue</button></form>",
        app = escape(app_name),
        tx = escape(tx),
        user = escape(username),
    );
    page(status, "Sign in", &body)
}

/// The consent page posted to `/u/consent`; `scopes` are (value, description).
pub fn consent_page(
    tx: &str,
    app_name: &str,
    user_email: &str,
    audience: Option<&str>,
    scopes: &[(String, String)],
) -> Response {
    let items: String = scopes
        .iter()
        .map(|(v, d)| format!("<li>{} <code>{}</code></li>", escape(d), escape(v)))
        .collect();
    let list = if items.is_empty() {
        "<p class=\"muted\">No scopes were requested.</p>".to_string()
    } else {
        format!("<ul>{items}</ul>")
    };
    let api = audience
        .map(|a| format!(" and the API <code>{}</code>", escape(a)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Authorize {app}</h1>\
         <p class=\"muted\">Signed in as <strong>{email}</strong></p>\
         <p><strong>{app}</strong> is requesting access to your account{api}:</p>{list}\
         <form method=\"post\" action=\"/u/consent\">\
         <input type=\"hidden\" name=\"tx\" value=\"{tx}\">\
         <div class=\"buttons\">\
         <button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Decline</button>\
         <button type=\"submit\" name=\"decision\" value=\"accept\">Accept</button>\
         </div></form>",
        app = escape(app_name),
        email = escape(user_email),
        tx = escape(tx),
    );
    page(StatusCode::OK, "Authorize application", &body)
}

/// The confirmation `/oidc/logout` shows when it cannot tell that the application asking
/// is the one signed in (no matching `logout_hint` or `id_token_hint`): "Log out of
/// `tenant`?" with **Log out** and **Cancel**, posted to `/oidc/logout` with `fields`
/// (name, value) as hidden inputs.
pub fn logout_confirm_page(
    tenant: &str,
    app_name: Option<&str>,
    user_email: &str,
    fields: &[(&str, &str)],
) -> Response {
    let hidden: String = fields
        .iter()
        .map(|(n, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(n),
                escape(v)
            )
        })
        .collect();
    let asked = app_name
        .map(|a| {
            format!(
                "<p><strong>{}</strong> asked to log you out.</p>",
                escape(a)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Log out of {tenant}?</h1>\
         <p class=\"muted\">Signed in as <strong>{email}</strong></p>{asked}\
         <form method=\"post\" action=\"/oidc/logout\">{hidden}\
         <div class=\"buttons\">\
         <button type=\"submit\" name=\"decision\" value=\"cancel\" class=\"secondary\">Cancel</button>\
         <button type=\"submit\" name=\"decision\" value=\"logout\">Log out</button>\
         </div></form>",
        tenant = escape(tenant),
        email = escape(user_email),
    );
    page(StatusCode::OK, "Log out", &body)
}

/// Shown when the logout confirmation was cancelled and there is nowhere to return to.
pub fn still_signed_in_page() -> Response {
    page(
        StatusCode::OK,
        "Still signed in",
        "<h1>You are still signed in</h1><p class=\"muted\">You can close this window.</p>",
    )
}

/// Shown by logout when no return URL was given.
pub fn signed_out_page() -> Response {
    page(
        StatusCode::OK,
        "Signed out",
        "<h1>You are signed out</h1><p class=\"muted\">You can close this window.</p>",
    )
}

/// An avatar: a coloured circle with the person's initials.
pub fn avatar_svg(seed: &str, name: &str) -> Response {
    let initials: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    let hue = seed
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 360;
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"128\" height=\"128\" viewBox=\"0 0 128 128\">\
         <circle cx=\"64\" cy=\"64\" r=\"64\" fill=\"hsl({hue},55%,45%)\"/>\
         <text x=\"64\" y=\"64\" dy=\".35em\" text-anchor=\"middle\" font-family=\"sans-serif\" \
         font-size=\"52\" fill=\"#fff\">{}</text></svg>",
        escape(&initials)
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
            (
                header::HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("cross-origin"),
            ),
        ],
        svg,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_specials() {
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape("plain ünïcode"), "plain ünïcode");
        assert_eq!(escape(""), "");
    }
}
