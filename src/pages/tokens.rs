use yew::prelude::*;

use crate::auth::{session_key_thumbprint, use_auth, Renewal};
use crate::components::{local_time_ms, Countdown};
use crate::json;
use crate::oidc::inspect::{self, DecodedToken, Inspection, Opacity, TimeClaim};

/// `/tokens`: the token inspector. It renders what the tokens decode to, never the tokens
/// themselves: they are credentials, and a page is easy to screenshot or copy.
#[function_component(TokensPage)]
pub fn tokens_page() -> Html {
    let auth = use_auth();
    let session = auth.session();
    let inspected = use_memo(session.clone(), |session| {
        session.as_ref().map(|s| {
            (
                inspect::inspect(&s.access_token),
                s.id_token.as_deref().map(inspect::inspect),
            )
        })
    });
    let key_thumbprint = use_state(|| None::<String>);
    {
        let key_thumbprint = key_thumbprint.clone();
        use_effect_with(session.clone(), move |session| {
            if let Some(session) = session.clone() {
                wasm_bindgen_futures::spawn_local(async move {
                    key_thumbprint.set(session_key_thumbprint(&session).await);
                });
            }
        });
    }
    // `RequireSession` renders this page only with a session.
    let (Some(session), Some((access, id))) = (session, inspected.as_ref()) else {
        return html! {};
    };
    let binding = match access.decoded().and_then(|token| token.bound_key()) {
        None => html! { { "None: a Bearer token, usable by whoever holds it" } },
        Some(jkt) => {
            let whose = if key_thumbprint.as_deref() == Some(jkt) {
                "this browser's key, which cannot be exported"
            } else {
                "a key this tab does not hold"
            };
            html! {
                <>
                    { "DPoP: bound to " }{ whose }{ ", thumbprint (cnf.jkt) " }
                    <code id="token-binding-jkt">{ jkt.to_string() }</code>
                </>
            }
        }
    };

    let scopes = if session.scopes.is_empty() {
        html! { <p id="granted-scopes">{ "None" }</p> }
    } else {
        html! {
            <ul class="scopes" id="granted-scopes">
                { for session.scopes.iter().map(|scope| html! { <li><code>{ scope.clone() }</code></li> }) }
            </ul>
        }
    };
    let id_token = match id {
        Some(id) => token_panel("id-token", "ID token", id),
        None => html! {
            <section class="panel token" aria-labelledby="id-token-heading">
                <h2 id="id-token-heading">{ "ID token" }</h2>
                <p id="id-token-none">{ "None: signed in with response_type=token, which returns no ID token." }</p>
            </section>
        },
    };

    // Silent renewal on demand, as the app does by itself before expiry.
    let renew_now = {
        let auth = auth.clone();
        Callback::from(move |_: MouseEvent| auth.renew())
    };
    html! {
        <section class="tokens">
            <h1>{ "Tokens" }</h1>
            <p class="hint">
                { "What the app holds, decoded for reading. The tokens themselves are not shown. The ID token's signature and claims were checked at sign-in; the access token is for the API, which checks it." }
            </p>
            <section class="panel" aria-labelledby="session-heading">
                <h2 id="session-heading">{ "Session" }</h2>
                <dl class="facts">
                    <dt>{ "Granted scopes" }</dt>
                    <dd>{ scopes }</dd>
                    <dt>{ "Received" }</dt>
                    <dd id="token-issued">{ moment(session.issued_at as f64, false) }</dd>
                    <dt>{ "Expires" }</dt>
                    <dd id="token-expiry">{ moment(session.expires_at as f64, true) }</dd>
                    <dt>{ "Sender constraint" }</dt>
                    <dd id="token-binding">{ binding }</dd>
                    <dt>{ "Renewal" }</dt>
                    <dd id="renewal-kind">
                        { if session.refresh_token.is_some() {
                            "With a refresh token at the token endpoint (rotated on every use; not shown)"
                        } else {
                            "With prompt=none in a hidden iframe, which needs the tenant's cookie in a third-party frame"
                        } }
                    </dd>
                </dl>
                <button type="button" class="button secondary" id="renew-now" onclick={renew_now}
                    disabled={auth.renewal == Renewal::Running}>
                    { if auth.renewal == Renewal::Running { "Renewing…" } else { "Renew now" } }
                </button>
            </section>
            { token_panel("access-token", "Access token", access) }
            { id_token }
        </section>
    }
}

/// A moment in local time, with the time left until it when `countdown` is set.
fn moment(ms: f64, countdown: bool) -> Html {
    html! {
        <>
            <span class="moment">{ local_time_ms(ms).unwrap_or_else(|| "not a valid time".into()) }</span>
            if countdown {
                { " · time left: " }<Countdown until_ms={ms} />
            }
        </>
    }
}

fn time_label(name: &str) -> &'static str {
    match name {
        "iat" => "Issued at (iat)",
        "nbf" => "Not before (nbf)",
        "exp" => "Expires (exp)",
        "auth_time" => "Signed in at (auth_time)",
        _ => "Time",
    }
}

fn times(decoded: &DecodedToken) -> Html {
    let times = decoded.times();
    if times.is_empty() {
        return html! {};
    }
    html! {
        <dl class="facts">
            { for times.iter().map(|time: &TimeClaim| html! {
                <>
                    <dt>{ time_label(time.name) }</dt>
                    <dd>{ moment(time.millis(), time.name == "exp") }</dd>
                </>
            }) }
        </dl>
    }
}

/// A scrollable block of JSON; focusable, so that keyboard users can scroll it too.
fn json_block(id: String, title: &str, label: &'static str, json: String) -> Html {
    let region = format!("{title} {}", label.to_ascii_lowercase());
    html! {
        <>
            <h3>{ label }</h3>
            <pre class="json" {id} tabindex="0" role="region" aria-label={region}><code>{ json }</code></pre>
        </>
    }
}

/// One token's panel; `prefix` names its elements (`<prefix>-header`, `<prefix>-claims`).
fn token_panel(prefix: &'static str, title: &'static str, inspection: &Inspection) -> Html {
    let heading = format!("{prefix}-heading");
    let body = match inspection {
        Inspection::Jwt(decoded) => html! {
            <>
                <p class="token-kind">
                    { "A JWT signed with " }<code>{ decoded.header_field("alg").unwrap_or("?").to_string() }</code>
                    if let Some(kid) = decoded.header_field("kid") {
                        { " by key " }<code>{ kid.to_string() }</code>
                    }
                    { "." }
                </p>
                { times(decoded) }
                { json_block(format!("{prefix}-header"), title, "Header", decoded.header_json()) }
                { json_block(format!("{prefix}-claims"), title, "Claims", decoded.claims_json()) }
            </>
        },
        Inspection::Opaque(Opacity::Reference) => html! {
            <p class="token-kind" id={format!("{prefix}-opaque")}>
                { "Opaque: not a JWT, so there is nothing to decode. Auth0 issues such access tokens when no `audience` is requested; only the tenant can read them, at /userinfo." }
            </p>
        },
        Inspection::Opaque(Opacity::Encrypted { header }) => html! {
            <>
                <p class="token-kind" id={format!("{prefix}-opaque")}>
                    { "Encrypted (a JWE) for its issuer: only its header can be read." }
                </p>
                if let Some(header) = header {
                    { json_block(format!("{prefix}-header"), title, "Header", json::to_string_pretty(header)) }
                }
            </>
        },
        Inspection::Opaque(Opacity::Malformed(reason)) => html! {
            <p class="token-kind" id={format!("{prefix}-opaque")}>
                { format!("Shaped like a JWT, but it cannot be decoded: {reason}.") }
            </p>
        },
    };
    html! {
        <section class="panel token" aria-labelledby={heading.clone()}>
            <h2 id={heading}>{ title }</h2>
            { body }
        </section>
    }
}
