use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::appointments::{self, Appointment, AppointmentsError, NewAppointment};
use crate::auth::{use_auth, AuthContext};
use crate::browser;
use crate::components::{loading, ErrorPanel};

#[derive(Clone, PartialEq)]
enum Load {
    Loading,
    Loaded(Vec<Appointment>),
    Failed(AppointmentsError),
}

/// `/appointments`: the signed-in user's appointments, from the API with the access
/// token, and a form to add one when the token grants `create:appointments`.
#[function_component(AppointmentsPage)]
pub fn appointments_page() -> Html {
    let auth = use_auth();
    let session = auth.session();
    let load = use_state(|| Load::Loading);
    let reloads = use_state(|| 0u32);

    {
        let load = load.clone();
        let auth = auth.clone();
        use_effect_with((session.clone(), *reloads), move |(session, _)| {
            if let Some(session) = session.clone() {
                load.set(Load::Loading);
                wasm_bindgen_futures::spawn_local(async move {
                    let url = auth.tenant.config.appointments_url();
                    let result = appointments::list(&url, &session).await;
                    if matches!(result, Err(AppointmentsError::SessionInvalid { .. })) {
                        auth.session_rejected();
                    }
                    load.set(match result {
                        Ok(list) => Load::Loaded(list),
                        Err(error) => Load::Failed(error),
                    });
                });
            }
        });
    }

    let loaded = matches!(*load, Load::Loaded(_));
    use_effect_with(loaded, |loaded| {
        if *loaded {
            browser::mark("app:appointments-rendered");
        }
    });
    let refresh = {
        let reloads = reloads.clone();
        Callback::from(move |_| reloads.set(*reloads + 1))
    };
    let token_only = session.as_ref().is_some_and(|s| s.profile.is_none());
    let can_create = session
        .as_ref()
        .is_some_and(|s| s.has_scope("create:appointments"));
    html! {
        <section>
            <h1>{ "My appointments" }</h1>
            if token_only {
                <p class="note warning" role="note">
                    { "Signed in with response_type=token: without an ID token this app checked only `state`, and cannot detect an access token injected into the redirect (RFC 9700 §4.6)." }
                </p>
            }
            if can_create {
                <CreateAppointment on_created={refresh.clone()} />
            }
            { list_view(&load, refresh) }
        </section>
    }
}

fn list_view(load: &Load, retry: Callback<()>) -> Html {
    let retry_button = html! {
        <button type="button" class="button primary" onclick={retry.reform(|_: MouseEvent| ())}>{ "Try again" }</button>
    };
    match load {
        Load::Loading => loading("Loading your appointments…"),
        Load::Loaded(list) if list.is_empty() => html! {
            <p class="empty" id="appointments-empty">{ "You have no appointments." }</p>
        },
        Load::Loaded(list) => html! {
            <ul class="appointments" id="appointments-list">
                { for list.iter().map(appointment_item) }
            </ul>
        },
        Load::Failed(error) => {
            let (title, code) = match error {
                AppointmentsError::SessionInvalid { .. } => (
                    "Your session is no longer valid",
                    "api_401_invalid_token".to_string(),
                ),
                AppointmentsError::MissingScope { .. } => {
                    ("Not allowed", "api_403_insufficient_scope".into())
                }
                AppointmentsError::Unreachable { .. } => (
                    "The appointments API is not reachable",
                    "api_unreachable".into(),
                ),
                AppointmentsError::Malformed => (
                    "The appointments API answered something unexpected",
                    "api_malformed_response".into(),
                ),
                AppointmentsError::Invalid { .. } => (
                    "The appointments API refused the request",
                    "api_400_invalid_request".into(),
                ),
                AppointmentsError::Unexpected { status } => {
                    ("The appointments API failed", format!("api_http_{status}"))
                }
            };
            let actions = if matches!(
                error,
                AppointmentsError::SessionInvalid { .. } | AppointmentsError::MissingScope { .. }
            ) {
                Html::default()
            } else {
                retry_button
            };
            ErrorPanel::new(title, describe(error))
                .code(code)
                .view(actions)
        }
    }
}

/// What went wrong and what to do, in words.
fn describe(error: &AppointmentsError) -> String {
    match error {
        AppointmentsError::SessionInvalid { description } => format!(
            "The appointments API did not accept your access token{}. Sign in again to continue.",
            description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default()
        ),
        AppointmentsError::MissingScope { scope: Some(scope) } => format!(
            "Your access token lacks the `{scope}` scope, which the appointments API requires. Ask for it in config.json's `scope`, and make sure your user has that permission at the tenant."
        ),
        AppointmentsError::MissingScope { scope: None } => "Your access token lacks a scope the appointments API requires.".into(),
        AppointmentsError::Unreachable { url } => format!(
            "No answer from {url}. Check that the API is running and allows this origin (CORS), then try again."
        ),
        AppointmentsError::Malformed => "Its answer is not what this app expects. Check that `api_base_url` in config.json points at the appointments API.".into(),
        AppointmentsError::Invalid { field: Some(field), message } => format!("{field}: {message}"),
        AppointmentsError::Invalid { field: None, message } => message.clone(),
        AppointmentsError::Unexpected { status } => format!("It answered HTTP {status}. Try again in a moment."),
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

#[derive(Properties, PartialEq)]
struct CreateProps {
    on_created: Callback<()>,
}

/// The form for `POST /api/appointments`; the API's 400 and 403 answers appear next to it.
#[function_component(CreateAppointment)]
fn create_appointment(props: &CreateProps) -> Html {
    let auth = use_auth();
    let refs = [
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
    ];
    let error = use_state(|| None::<AppointmentsError>);
    let busy = use_state(|| false);

    let onsubmit = {
        let (auth, error, busy, refs) = (auth.clone(), error.clone(), busy.clone(), refs.clone());
        let on_created = props.on_created.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let value = |i: usize| {
                refs[i]
                    .cast::<HtmlInputElement>()
                    .map(|input| input.value())
                    .unwrap_or_default()
            };
            let (title, start, end, location) = (value(0), value(1), value(2), value(3));
            let time = |field: &str, local: &str| {
                browser::local_input_to_rfc3339(local).ok_or(AppointmentsError::Invalid {
                    field: Some(field.into()),
                    message: "enter a date and time".into(),
                })
            };
            let new = match (time("start", &start), time("end", &end)) {
                (Ok(start), Ok(end)) => NewAppointment {
                    title,
                    start,
                    end,
                    location: Some(location).filter(|l| !l.trim().is_empty()),
                },
                (Err(e), _) | (_, Err(e)) => return error.set(Some(e)),
            };
            submit(
                auth.clone(),
                new,
                error.clone(),
                busy.clone(),
                on_created.clone(),
                refs.clone(),
            );
        })
    };
    html! {
        <form class="panel create" id="create-appointment" {onsubmit} aria-describedby="create-error">
            <h2>{ "New appointment" }</h2>
            <div class="fields">
                <label>{ "Title" }<input ref={refs[0].clone()} name="title" required=true maxlength="200" /></label>
                <label>{ "Starts" }<input ref={refs[1].clone()} name="start" type="datetime-local" required=true /></label>
                <label>{ "Ends" }<input ref={refs[2].clone()} name="end" type="datetime-local" required=true /></label>
                <label>{ "Location (optional)" }<input ref={refs[3].clone()} name="location" maxlength="200" /></label>
            </div>
            <div id="create-error" aria-live="polite">
                if let Some(e) = &*error {
                    <p class="form-error" role="alert">{ describe(e) }</p>
                }
            </div>
            <button type="submit" class="button primary" disabled={*busy}>{ "Add appointment" }</button>
        </form>
    }
}

fn submit(
    auth: AuthContext,
    new: NewAppointment,
    error: UseStateHandle<Option<AppointmentsError>>,
    busy: UseStateHandle<bool>,
    on_created: Callback<()>,
    refs: [NodeRef; 4],
) {
    let Some(session) = auth.session() else {
        return;
    };
    busy.set(true);
    wasm_bindgen_futures::spawn_local(async move {
        let url = auth.tenant.config.appointments_url();
        let result = appointments::create(&url, &session, &new).await;
        busy.set(false);
        match result {
            Ok(_) => {
                error.set(None);
                for input in refs.iter().filter_map(|r| r.cast::<HtmlInputElement>()) {
                    input.set_value("");
                }
                on_created.emit(());
            }
            Err(AppointmentsError::SessionInvalid { .. }) => auth.session_rejected(),
            Err(e) => error.set(Some(e)),
        }
    });
}
