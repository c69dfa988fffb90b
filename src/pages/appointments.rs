use yew::prelude::*;

use crate::appointments::{self, Appointment, AppointmentsError};
use crate::auth::use_auth;
use crate::browser;
use crate::components::{ErrorPanel, Loading};

#[derive(Clone, PartialEq)]
enum Load {
    Loading,
    Loaded(Vec<Appointment>),
    Failed(AppointmentsError),
}

/// `/appointments`: the signed-in user's appointments, from the API with the access token.
#[function_component(AppointmentsPage)]
pub fn appointments_page() -> Html {
    let auth = use_auth();
    let session = auth.session();
    let load = use_state(|| Load::Loading);
    let reloads = use_state(|| 0u32);

    {
        let load = load.clone();
        let url = auth.tenant.config.appointments_url();
        let token = session.as_ref().map(|s| s.access_token.clone());
        use_effect_with((token, *reloads), move |(token, _)| {
            if let Some(token) = token.clone() {
                load.set(Load::Loading);
                wasm_bindgen_futures::spawn_local(async move {
                    load.set(match appointments::list(&url, &token).await {
                        Ok(list) => Load::Loaded(list),
                        Err(error) => Load::Failed(error),
                    });
                });
            }
        });
    }

    let retry = {
        let reloads = reloads.clone();
        Callback::from(move |_: MouseEvent| reloads.set(*reloads + 1))
    };
    let sign_in_again = {
        let auth = auth.clone();
        Callback::from(move |_: MouseEvent| {
            auth.sign_out();
            let _ = auth.login(Some("/appointments"));
        })
    };

    let body = match &*load {
        Load::Loading => html! { <Loading label="Loading your appointments…" /> },
        Load::Loaded(list) if list.is_empty() => html! {
            <p class="empty" id="appointments-empty">{ "You have no appointments." }</p>
        },
        Load::Loaded(list) => html! {
            <ul class="appointments" id="appointments-list">
                { for list.iter().map(appointment_item) }
            </ul>
        },
        Load::Failed(AppointmentsError::SessionInvalid { description }) => html! {
            <ErrorPanel
                title="Your session is no longer valid"
                message="The appointments API did not accept your access token. Sign in again to continue."
                code="api_401_invalid_token"
                detail={description.clone().map(|d| AttrValue::from(format!("The API said: {d}")))}
            >
                <button type="button" class="button primary" onclick={sign_in_again}>{ "Sign in again" }</button>
            </ErrorPanel>
        },
        Load::Failed(AppointmentsError::MissingScope { scope }) => html! {
            <ErrorPanel
                title="Not allowed"
                message={match scope {
                    Some(scope) => format!("Your access token lacks the `{scope}` scope, which the appointments API requires. Ask for it in config.json's `scope` and make sure your user has that permission at the tenant."),
                    None => "Your access token lacks a scope the appointments API requires.".to_string(),
                }}
                code="api_403_insufficient_scope"
            />
        },
        Load::Failed(AppointmentsError::Unreachable { url }) => html! {
            <ErrorPanel
                title="The appointments API is not reachable"
                message={format!("No answer from {url}. Check that the API is running and allows this origin (CORS), then try again.")}
                code="api_unreachable"
            >
                <button type="button" class="button primary" onclick={retry}>{ "Try again" }</button>
            </ErrorPanel>
        },
        Load::Failed(AppointmentsError::Malformed) => html! {
            <ErrorPanel
                title="The appointments API answered something unexpected"
                message="Its answer is not a list of appointments. Check that `api_base_url` in config.json points at the appointments API."
                code="api_malformed_response"
            >
                <button type="button" class="button primary" onclick={retry}>{ "Try again" }</button>
            </ErrorPanel>
        },
        Load::Failed(AppointmentsError::Invalid { message, .. }) => html! {
            <ErrorPanel title="The appointments API refused the request" message={message.clone()} code="api_400_invalid_request">
                <button type="button" class="button primary" onclick={retry.clone()}>{ "Try again" }</button>
            </ErrorPanel>
        },
        Load::Failed(AppointmentsError::Unexpected { status }) => html! {
            <ErrorPanel
                title="The appointments API failed"
                message={format!("It answered HTTP {status}.")}
                code={AttrValue::from(format!("api_http_{status}"))}
            >
                <button type="button" class="button primary" onclick={retry}>{ "Try again" }</button>
            </ErrorPanel>
        },
    };
    let token_only = session.as_ref().is_some_and(|s| s.profile.is_none());
    html! {
        <section>
            <h1>{ "My appointments" }</h1>
            if token_only {
                <p class="note warning" role="note">
                    { "Signed in with response_type=token: without an ID token this app checked only `state`, and cannot detect an access token injected into the redirect (RFC 9700 §4.6)." }
                </p>
            }
            { body }
        </section>
    }
}

fn appointment_item(appointment: &Appointment) -> Html {
    let time = |t: &str| browser::local_time(t).unwrap_or_else(|| t.to_string());
    html! {
        <li class="appointment" key={appointment.id.clone()}>
            <h2 class="title">{ appointment.title.clone() }</h2>
            <p class="when">
                <time datetime={appointment.start.clone()}>{ time(&appointment.start) }</time>
                { " – " }
                <time datetime={appointment.end.clone()}>{ time(&appointment.end) }</time>
            </p>
            if let Some(location) = &appointment.location {
                <p class="where">{ location.clone() }</p>
            }
        </li>
    }
}
